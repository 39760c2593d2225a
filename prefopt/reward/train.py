"""Reward-model training and evaluation behind scripts/run_rm.py (APO's train.py, on the HF Trainer).

    model, data, train = parse_config(["training_configs/tiny/rm.yaml"], RewardConfig)
    metrics = train_rm(model, data, train)

The human pairs come from `dataset` (any format `prefopt.reward.data` reads); `apo_dataset` adds the
golden-vs-sample items of `prefopt.reward.converter` (`task_type: apo`). Every eval set (the `eval_split` of
`eval_dataset`/`dataset`, named by the split, plus each of `eval_datasets`) is scored separately: metric prefix
`eval_<name>_`, and `final_eval_results.json` at the end, as APO does. Outputs, manifest, resume and
metrics.json follow `prefopt.train`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import Trainer, TrainingArguments, set_seed

from ..config import RunArguments, arg
from ..manifest import write_json
from .data import RewardCollator, RewardTokenizer, load_items
from .losses import LOSS_TYPES, apo_loss
from .metrics import rm_metrics
from .model import POOLING, RewardModel, from_backbone

logger = logging.getLogger("prefopt")
TASK_TYPES = ("rm", "apo")


@dataclass
class RewardConfig(RunArguments, TrainingArguments):
    """Training config of a reward model (`scripts/run_rm.py`), APO's arguments.py in our style."""

    task_type: str = arg("rm", "rm: ranking loss on the human pairs (APO's hh_split); apo: plus the golden-vs-sample "
                               "items of apo_dataset (APO's task_type apo).", choices=TASK_TYPES)
    apo_dataset: str | None = arg(None, "Golden-vs-sample items written by prefopt.reward.converter (task_type apo).")
    pooling_type: str = arg("last", "Reward pooling: last (token before EOS, APO's recipes), eos, average, max.",
                            choices=POOLING)
    add_sep_token: bool = arg(False, "Put the tokenizer's SEP (else EOS) token between query and response (APO: "
                                     "--add_sep_token True in its recipes).")
    rm_kl_coeff: float = arg(1.0, "Weight of the ranking loss on human pairs (APO's regulariser).", ge=0)
    apo_loss_coeff: float = arg(0.1, "Weight of the golden-vs-sample loss (APO README: 0.1).", ge=0)
    apo_sample_num: int = arg(4, "Samples per query; the golden-vs-sample weight is apo_loss_coeff / apo_sample_num.",
                              ge=1)
    apo_loss_type: str = arg("ranking", "Golden-vs-sample loss: ranking (-log σ(Δ)) or diff (-Δ, WGAN-style).",
                             choices=LOSS_TYPES)
    eval_datasets: dict = arg({}, "More eval sets {name: source}; each is scored separately (prefix eval_<name>_).")
    drop_score_ties: bool = arg(False, "Drop pairs whose metadata scores tie (UltraFeedback's score_chosen == "
                                       "score_rejected); APO's loss ignores tied pairs.")
    calibration_bins: list = arg([10], "Bin counts of the ECE/ACE/MCE calibration metrics.")

    def __post_init__(self):
        super().__post_init__()
        for name, choices in (("task_type", TASK_TYPES), ("pooling_type", POOLING), ("apo_loss_type", LOSS_TYPES)):
            if getattr(self, name) not in choices:
                raise ValueError(f"{name} must be one of {choices}, got {getattr(self, name)!r}")
        if self.task_type == "apo" and not self.apo_dataset:
            raise ValueError("task_type apo needs apo_dataset (the converter's golden-vs-sample file)")
        if self.apo_sample_num < 1:
            raise ValueError(f"apo_sample_num must be >= 1, got {self.apo_sample_num}")
        for name in ("rm_kl_coeff", "apo_loss_coeff"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0, got {getattr(self, name)}")


def gather_rewards(flat: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(N,) rewards of every response -> (B, K) per item (0 where index is -1)."""
    return flat[index.clamp(min=0)] * (index >= 0).to(flat.dtype)


@torch.no_grad()
def score_items(model: RewardModel, items: list[dict], collator: RewardCollator, batch_size: int = 16,
                device=None) -> list[list[float]]:
    """The reward of every response of every tokenized item, in order."""
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    out: list[list[float]] = []
    for i in range(0, len(items), batch_size):
        batch = collator(items[i: i + batch_size])
        flat = model(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu()
        for b, it in enumerate(items[i: i + batch_size]):
            out.append(flat[batch["index"][b, : len(it["input_ids"])]].tolist())
    model.train(was_training)
    return out


def evaluate_sets(model, eval_sets: dict[str, list[dict]], collator, batch_size: int, bins, device=None) -> dict:
    metrics = {}
    for name, items in eval_sets.items():
        rewards = score_items(model, items, collator, batch_size, device)
        for k, v in rm_metrics(rewards, [it["scores"] for it in items], bins).items():
            metrics[f"eval_{name}_{k}"] = v
    return metrics


class RewardTrainer(Trainer):
    """HF Trainer with APO's ranking / APO loss, multi-set evaluation and reward-model saving."""

    def __init__(self, *args, eval_sets: dict[str, list[dict]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_sets = eval_sets or {}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        a = self.args
        flat = model(inputs["input_ids"], inputs["attention_mask"])
        rewards = gather_rewards(flat, inputs["index"])
        loss = apo_loss(rewards, inputs["scores"], inputs["mask"], inputs["is_apo"], rm_kl_coeff=a.rm_kl_coeff,
                        apo_loss_coeff=a.apo_loss_coeff, apo_sample_num=a.apo_sample_num,
                        apo_loss_type=a.apo_loss_type)
        return (loss, rewards) if return_outputs else loss

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict:
        metrics = evaluate_sets(self.model, self.eval_sets, self.data_collator, self.args.per_device_eval_batch_size,
                                self.args.calibration_bins, self.args.device)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        super()._save(output_dir, state_dict)  # model.safetensors: the whole state dict (backbone.*, reward_head)
        if self.args.should_save:
            model = self.accelerator.unwrap_model(self.model)
            model.save_extra(output_dir or self.args.output_dir, add_sep_token=self.args.add_sep_token,
                             max_length=getattr(self, "max_length", None))


def _load(source, split, data_args, args, rt: RewardTokenizer, limit=None, force_type=None):
    items, dropped = load_items(source, split, bad_rows=data_args.bad_rows, limit=limit,
                                drop_score_ties=args.drop_score_ties)
    if force_type:
        items = [dict(it, type=force_type) for it in items]
    before = dict(rt.stats)
    rows = [rt.item(it) for it in items]
    report = {"source": source, "split": split, "items": len(rows), "dropped": dropped,
              "responses": rt.stats["sequences"] - before["sequences"],
              "truncated_left": rt.stats["truncated"] - before["truncated"]}
    logger.info("%s[%s]: %s", source, split, report)
    return rows, report


def train_rm(model_args, data_args, args: RewardConfig) -> dict:
    from ..models import DTYPES, load_tokenizer  # noqa: PLC0415
    from ..train import _train_and_save, setup_logging, start_manifest  # noqa: PLC0415

    setup_logging(args)
    set_seed(args.seed)
    manifest = start_manifest("reward", model_args, data_args, args)
    tokenizer = load_tokenizer(model_args, require_chat_template=False)
    rt = RewardTokenizer(tokenizer, max_length=data_args.max_length, add_sep_token=args.add_sep_token)
    train_rows, train_report = _load(data_args.dataset, data_args.train_split, data_args, args, rt,
                                     data_args.max_train_samples)
    reports = {"train": train_report}
    if args.task_type == "apo":
        apo_rows, reports["apo"] = _load(args.apo_dataset, "train", data_args, args, rt, force_type="apo")
        train_rows = train_rows + apo_rows
    eval_sets = {}
    if data_args.eval_split:
        name = data_args.eval_split
        eval_sets[name], reports[f"eval_{name}"] = _load(data_args.eval_dataset or data_args.dataset, data_args.eval_split,
                                                   data_args, args, rt, data_args.max_eval_samples)
    for name, source in args.eval_datasets.items():
        eval_sets[name], reports[f"eval_{name}"] = _load(source, data_args.eval_split or "test", data_args, args, rt,
                                                         data_args.max_eval_samples)
    model = from_backbone(model_args.model_name_or_path, args.pooling_type, DTYPES[model_args.torch_dtype])
    if args.disable_dropout:
        from ..trainer import disable_dropout  # noqa: PLC0415

        disable_dropout(model)
    args.remove_unused_columns = False
    trainer = RewardTrainer(
        model=model, args=args, processing_class=tokenizer, data_collator=RewardCollator(tokenizer.pad_token_id),
        train_dataset=train_rows, eval_dataset=next(iter(eval_sets.values()), None), eval_sets=eval_sets,
    )
    trainer.max_length = data_args.max_length
    metrics = _train_and_save(trainer, args, tokenizer, Path(manifest), reports)
    if trainer.is_world_process_zero():
        write_json(Path(args.output_dir) / "final_eval_results.json",
                   {k: v for k, v in metrics.items() if k.startswith("eval_")})
    return metrics
