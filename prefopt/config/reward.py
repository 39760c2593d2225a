"""The training config of a reward model (`scripts/run_rm.py`): APO's arguments.py in this project's style.

`task_type: rm` trains on the human pairs alone (APO's base RM); `task_type: apo` adds the golden-vs-sample
items that `prefopt.reward.converter` writes. The reward package reads its choices from here.
"""

from __future__ import annotations

from dataclasses import dataclass

from transformers import TrainingArguments

from prefopt.core.fields import arg

from .arguments import RunArguments

TASK_TYPES = ("rm", "apo")
POOLING_TYPES = ("last", "eos", "average", "max")
APO_LOSS_TYPES = ("ranking", "diff")


@dataclass
class RewardConfig(RunArguments, TrainingArguments):
    """Training config of a reward model (`scripts/run_rm.py`), APO's arguments.py in our style."""

    task_type: str = arg("rm", "rm: ranking loss on the human pairs (APO's hh_split); apo: plus the golden-vs-sample "
                               "items of apo_dataset (APO's task_type apo).", choices=TASK_TYPES)
    apo_dataset: str | None = arg(None, "Golden-vs-sample items written by prefopt.reward.converter (task_type apo).")
    pooling_type: str = arg("last", "Reward pooling: last (token before EOS, APO's recipes), eos, average, max.",
                            choices=POOLING_TYPES)
    add_sep_token: bool = arg(False, "Put the tokenizer's SEP (else EOS) token between query and response (APO: "
                                     "--add_sep_token True in its recipes).")
    rm_kl_coeff: float = arg(1.0, "Weight of the ranking loss on human pairs (APO's regulariser).", ge=0)
    apo_loss_coeff: float = arg(0.1, "Weight of the golden-vs-sample loss (APO README: 0.1).", ge=0)
    apo_sample_num: int = arg(4, "Samples per query; the golden-vs-sample weight is apo_loss_coeff / apo_sample_num.",
                              ge=1)
    apo_loss_type: str = arg("ranking", "Golden-vs-sample loss: ranking (-log σ(Δ)) or diff (-Δ, WGAN-style).",
                             choices=APO_LOSS_TYPES)
    eval_datasets: dict = arg({}, "More eval sets {name: source}; each is scored separately (prefix eval_<name>_).")
    drop_score_ties: bool = arg(False, "Drop pairs whose metadata scores tie (UltraFeedback's score_chosen == "
                                       "score_rejected); APO's loss ignores tied pairs.")
    calibration_bins: list = arg([10], "Bin counts of the ECE/ACE/MCE calibration metrics.")

    def validate(self) -> None:
        super().validate()
        if self.task_type == "apo" and not self.apo_dataset:
            raise ValueError("task_type apo needs apo_dataset (the converter's golden-vs-sample file)")
        if not self.calibration_bins or not all(isinstance(b, int) and b >= 1 for b in self.calibration_bins):
            raise ValueError(f"calibration_bins must be a non-empty list of positive integers, got {self.calibration_bins!r}")
