"""The contenders of bench/preference.py: each builds a trainer and a collate function for the same rows.

Every contender gets the same tokenized rows (our `tokenize_pairs` output; TRL's own tokenization is never
used, so every side scores exactly the same token ids), the same initial weights, learning rate, batch,
precision and thread count. TRL's DPOConfig defaults that would make the comparison unequal are switched off
explicitly (`gradient_checkpointing`, `bf16`): precision comes from the bench's --dtype for everyone.

A contender is (trainer, convert, collate): `convert` turns our rows into the contender's row format (for
DPO with cache: attaches the cached reference log-probs), and the step loop in bench/worker.py calls
`trainer.training_step` on `collate(rows)` (HF Trainer's own forward + loss + backward), then the optimizer.
"""

from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field

os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")


@dataclass
class Contender:
    trainer: object
    convert: Callable[[list[dict]], list[dict]]
    collate: Callable[[list[dict]], dict]


@dataclass
class Setup:
    """What a contender is built from (one worker process)."""

    size: str
    rows: list[dict]
    hp: dict  # bench/config.yaml `hyperparameters`
    pairs: int
    device: str
    dtype: str  # float32 | bf16: bf16 means mixed precision (autocast) for every contender alike
    cache_dir: str  # the on-disk reference cache the bench filled once (bench/worker.py `prepare`)
    overrides: dict = field(default_factory=dict)  # config keys a lever variant sets (bench/levers.py)
    model_dir: str | None = None  # a model folder (bench/miniature.py) instead of the tiny model `size` names

    @property
    def model_name(self) -> str:
        return self.model_dir or f"tiny:{self.size}"


def ours_config(setup: Setup, loss: str, reference_cache: str = "auto", batch_layout: str = "pairs", **keys):
    """(model_args, data_args, args) of our trainer, through the same parser as a real config file (`keys`: more
    config keys, e.g. logprob_impl)."""
    from prefopt.config import PreferenceConfig, build_config  # noqa: PLC0415

    hp = setup.hp
    raw = {"model_name_or_path": setup.model_name, "dataset": "unused", "loss": loss,
           "output_dir": tempfile.mkdtemp(prefix="bench-"), "report_to": "none", "use_cpu": setup.device == "cpu",
           "bf16": setup.dtype == "bf16", "learning_rate": hp["learning_rate"],
           "per_device_train_batch_size": setup.pairs, "per_device_eval_batch_size": hp["reference_batch_size"],
           "reference_cache": reference_cache, "reference_cache_dir": setup.cache_dir, "seed": hp["seed"],
           "batch_layout": batch_layout, **keys, **setup.overrides}
    if loss == "dpo":
        raw["beta"] = hp["dpo_beta"]
    else:  # simpo: our gamma is expressed as gamma / beta (SimPO's code), TRL's simpo_gamma is absolute
        raw.update(beta=hp["simpo_beta"], gamma_beta_ratio=hp["simpo_gamma"] / hp["simpo_beta"])
    return build_config(raw, "<bench>", PreferenceConfig)


def _load(setup: Setup):
    from prefopt.config import ModelArguments  # noqa: PLC0415
    from prefopt.modeling.loading import load_model, load_tokenizer  # noqa: PLC0415

    margs = ModelArguments(model_name_or_path=setup.model_name)
    return load_model(margs.model_name_or_path, margs), load_tokenizer(margs)


def _ours(loss: str, reference: str | None, shared_prefix: bool = False, logprob_impl: str | None = None):
    """reference: None (reference-free loss), "cache" (rows carry cached log-probs) or "model" (on the fly).
    shared_prefix: batches packed by SharedPrefixPairCollator (each prompt computed once) instead of PairCollator.
    logprob_impl: the config key (None: the config's default)."""

    def build(setup: Setup):
        from datasets import Dataset  # noqa: PLC0415

        from prefopt.modeling import refcache  # noqa: PLC0415
        from prefopt.training.preference import attach_reference_logps
        from prefopt.training.trainer import PreferenceTrainer  # noqa: PLC0415

        model_args, _, args = ours_config(setup, loss, batch_layout="shared_prefix" if shared_prefix else "pairs",
                                          **({"logprob_impl": logprob_impl} if logprob_impl else {}))
        model, tok = _load(setup)

        def convert(rows):
            if reference != "cache":
                return rows
            rows = attach_reference_logps(rows, model_args, args, tok)  # reads the file `prepare` wrote
            if refcache.STATS["computed"]:
                raise RuntimeError("the reference cache was not filled by `prepare`: this run would hold a reference")
            return rows

        ref_model = copy.deepcopy(model) if reference == "model" else None
        # The config's batch_layout picks the collator, as in a training run.
        trainer = PreferenceTrainer(model=model, args=args, processing_class=tok, ref_model=ref_model,
                                    train_dataset=Dataset.from_list(convert(setup.rows)))
        return Contender(trainer, convert, trainer.data_collator)

    return build


def _trl_common(setup: Setup) -> dict:
    return dict(output_dir=tempfile.mkdtemp(prefix="bench-trl-"), use_cpu=setup.device == "cpu",
                bf16=setup.dtype == "bf16", gradient_checkpointing=False, report_to="none", save_strategy="no",
                learning_rate=setup.hp["learning_rate"], per_device_train_batch_size=setup.pairs,
                seed=setup.hp["seed"], disable_tqdm=True)


def _dummy_dataset():
    """TRL requires a train_dataset at init; the bench feeds batches itself, so one string row does."""
    from datasets import Dataset  # noqa: PLC0415

    return Dataset.from_list([{"prompt": "hi", "chosen": " yes", "rejected": " no"}])


def trl_dpo(setup: Setup):
    """TRL 1.16 DPOTrainer, loss sigmoid, with a reference model in memory (its default without PEFT)."""
    from trl import DPOConfig, DPOTrainer  # noqa: PLC0415

    model, tok = _load(setup)
    args = DPOConfig(beta=setup.hp["dpo_beta"], loss_type=["sigmoid"], max_length=None, **_trl_common(setup))
    trainer = DPOTrainer(model=model, ref_model=copy.deepcopy(model), args=args, train_dataset=_dummy_dataset(),
                         processing_class=tok)
    return Contender(trainer, lambda rows: rows, trainer.data_collator)


def cpo_rows(rows: list[dict]) -> list[dict]:
    """Our ids in the row format of TRL's CPO/ORPO collator (`tokenize_row`'s keys; labels -100 on the prompt)."""
    out = []
    for r in rows:
        p, c, x = list(r["prompt_ids"]), list(r["chosen_ids"]), list(r["rejected_ids"])
        out.append({"prompt_input_ids": p, "prompt_attention_mask": [1] * len(p),
                    "chosen_input_ids": p + c, "chosen_attention_mask": [1] * (len(p) + len(c)),
                    "chosen_labels": [-100] * len(p) + c,
                    "rejected_input_ids": p + x, "rejected_attention_mask": [1] * (len(p) + len(x)),
                    "rejected_labels": [-100] * len(p) + x})
    return out


def trl_cpo_simpo(setup: Setup):
    """TRL 1.16 experimental CPOTrainer with loss_type=simpo and cpo_alpha=0 (pure SimPO)."""
    from trl.experimental.cpo import CPOConfig, CPOTrainer  # noqa: PLC0415

    model, tok = _load(setup)
    hp = setup.hp
    args = CPOConfig(loss_type="simpo", cpo_alpha=0.0, beta=hp["simpo_beta"], simpo_gamma=hp["simpo_gamma"],
                     max_length=10**6, **_trl_common(setup))
    trainer = CPOTrainer(model=model, args=args, train_dataset=_dummy_dataset(), processing_class=tok)
    return Contender(trainer, cpo_rows, trainer.data_collator)


def with_liger(build: Callable) -> Callable:
    """A TRL contender with Liger's layer kernels (RMSNorm, RoPE, SwiGLU; GPU/Triton only), as TRL applies them
    when `use_liger_kernel` is set: its DPOTrainer keeps its own fused LM head, so Liger's fused linear
    cross-entropy stays off (TRL refuses it). Trainer.train() would apply them; the bench bypasses train()."""

    def build_with_liger(setup: Setup):
        # what transformers' apply_liger_kernel calls (its module moved between transformers releases)
        from liger_kernel.transformers import _apply_liger_kernel_to_instance  # noqa: PLC0415

        contender = build(setup)
        _apply_liger_kernel_to_instance(model=contender.trainer.model, fused_linear_cross_entropy=False,
                                        cross_entropy=False)
        return contender

    return build_with_liger


# name -> builder(setup) -> Contender
CONTENDERS: dict[str, Callable] = {
    "ours-dpo-cache": _ours("dpo", "cache"),
    "ours-dpo-ref": _ours("dpo", "model"),
    "ours-simpo": _ours("simpo", None),
    "ours-dpo-cache+prefix": _ours("dpo", "cache", shared_prefix=True),
    "ours-simpo+prefix": _ours("simpo", None, shared_prefix=True),
    # the full-logits path (logprob_impl: full) against the default chunked one (prefopt.modeling.fused_logprobs)
    "ours-dpo-cache+full": _ours("dpo", "cache", logprob_impl="full"),
    "ours-dpo-cache+prefix+full": _ours("dpo", "cache", shared_prefix=True, logprob_impl="full"),
    "ours-simpo+full": _ours("simpo", None, logprob_impl="full"),
    "ours-simpo+prefix+full": _ours("simpo", None, shared_prefix=True, logprob_impl="full"),
    "trl-dpo": trl_dpo,
    "trl-cpo-simpo": trl_cpo_simpo,
    "trl-dpo+liger": with_liger(trl_dpo),
    "trl-cpo-simpo+liger": with_liger(trl_cpo_simpo),
}
# Same maths (the first-step losses must agree) and the comparisons the goals are stated on.
EQUAL_MATH = {"trl-dpo": "ours-dpo-cache", "ours-dpo-ref": "ours-dpo-cache", "trl-cpo-simpo": "ours-simpo",
              "trl-dpo+liger": "ours-dpo-cache", "trl-cpo-simpo+liger": "ours-simpo",
              **{f"ours-{m}{v}": f"ours-{m}" for m in ("dpo-cache", "simpo") for v in ("+prefix", "+full", "+prefix+full")}}
# logprob_impl of each of our contenders (the reference cache `prepare` fills is keyed on it): full or the default.
FULL_LOGITS = {name for name in CONTENDERS if name.endswith("+full")}
