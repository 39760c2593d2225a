"""The argument groups of a training config: one dataclass field (help text, bounds, choices) per YAML key.

Keys are flat, handbook style. Each key belongs to exactly one group: `ModelArguments`, `DataArguments`, the
run's training config (a `transformers.TrainingArguments` subclass: `PreferenceConfig`, `SFTConfig` or
`prefopt.config.reward.RewardConfig`), or the hyperparameters of the method that `loss:` names
(`prefopt.config.methods`). `prefopt.config.parse` reads a YAML into these groups and checks them all before
any data or model is touched.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from transformers import TrainingArguments

from prefopt.core.fields import arg
from prefopt.core.plugins import TASKS

DTYPE_NAMES = ("float32", "bfloat16", "float16", "auto")
ATTENTION_IMPLEMENTATIONS = ("eager", "sdpa", "flash_attention_2", "flash_attention_3", "flex_attention")
BAD_ROW_POLICIES = ("error", "drop")
REFERENCE_CACHE_MODES = ("auto", "off")
BATCH_LAYOUTS = ("pairs", "shared_prefix")
RESUME_WORDS = ("auto", "never")


@dataclass
class ModelArguments:
    model_name_or_path: str = arg(
        None, "Hub id or local folder of the policy (the SFT model). `tiny:<size>/<task>` builds an offline tiny model."
    )
    tokenizer_name_or_path: str | None = arg(None, "Tokenizer to load; defaults to model_name_or_path.")
    reference_model_name_or_path: str | None = arg(
        None, "Frozen reference for losses that need one; defaults to the policy's starting weights."
    )
    model_revision: str = arg("main", "Hub revision (branch, tag or commit) of the model.")
    torch_dtype: str = arg("float32", "Weights dtype.", choices=DTYPE_NAMES)
    attn_implementation: str | None = arg(None, "Attention kernel (flash_attention_2: GPU only); null = the library "
                                                "default.", choices=ATTENTION_IMPLEMENTATIONS)
    trust_remote_code: bool = arg(False, "Run model code from the hub repo. Off unless a config opts in (logged).")
    chat_template: str | None = arg(None, "A Jinja chat template that replaces the tokenizer's own.")


@dataclass
class DataArguments:
    dataset: str = arg(None, "Hub id, or a local json/jsonl/parquet file or folder of preference (or SFT) data.")
    train_split: str = arg("train", "Split used for training.")
    eval_split: str | None = arg("test", "Split used for evaluation; null disables evaluation.")
    eval_dataset: str | None = arg(None, "Separate source for the eval split; defaults to `dataset`.")
    max_train_samples: int | None = arg(None, "Use only the first N training rows (debugging, tiny runs).", ge=1)
    max_eval_samples: int | None = arg(None, "Use only the first N evaluation rows.", ge=1)
    max_length: int = arg(1024, "Maximum prompt + response length in tokens.", ge=2)
    max_prompt_length: int = arg(512, "Prompt budget when a pair must be truncated.", ge=1)
    truncation_mode: str = arg("keep_end", "Which end of an over-long prompt to keep.",
                               choices=("keep_end", "keep_start"))
    role_header_in_response: bool = arg(
        False,
        "Count the assistant role header as response tokens (SimPO's code does: it changes length normalisation).",
    )
    bad_rows: str = arg(
        "error",
        "Rows with an empty response or identical chosen/rejected: 'error' stops with file, row and field; "
        "'drop' drops them, counts them by reason in the log and the run manifest (real data sets have a few).",
        choices=BAD_ROW_POLICIES,
    )


@dataclass
class RunArguments:
    """Fields shared by every prefopt training config, on top of transformers.TrainingArguments."""

    description: str | None = arg(None, "Free text: what this config reproduces (paper, table, cell).")
    hparams_source: str | None = arg(None, "Where the hyperparameters come from (paper table, repo config, grid choice).")
    resume: str = arg("auto", "auto: resume from the last complete checkpoint in output_dir if any; never; or the path "
                              "of a checkpoint folder.")
    disable_dropout: bool = arg(True, "Set every dropout probability to 0 (policy and reference), as SimPO and TRL do.")
    task_eval: str | None = arg(None, "A verifiable task whose judge accuracy is logged during training.",
                                choices=tuple(TASKS))
    task_eval_split: str = arg("val", "Which split of task_eval's prompts to judge during training.")
    task_eval_steps: int = arg(0, "Judge task_eval every N optimizer steps (0 = only at start and end).", ge=0)
    epoch_stopping: dict = arg(
        {}, "Optional block (prefopt.config.stopping.EpochStoppingConfig: patience, min_delta, split, ...): stop "
            "multi-epoch training when metric_for_best_model, measured after every epoch, stops improving; {} = run "
            "num_train_epochs.")

    def validate(self) -> None:
        if self.resume not in RESUME_WORDS and not os.path.isdir(self.resume):
            raise ValueError(f"resume must be one of {list(RESUME_WORDS)} or an existing checkpoint folder, "
                             f"got {self.resume!r}")


@dataclass
class PreferenceConfig(RunArguments, TrainingArguments):
    """Training config of every pairwise method, and of the methods with their own trainer (`scripts/run_po.py`)."""

    loss: str = arg("dpo", "The method: a registered pairwise loss (prefopt.losses.LOSSES) or a method with its own "
                           "trainer (kto); see prefopt.config.methods. Its hyperparameters are top-level keys too.")
    loss_hparams: dict = arg({}, "Filled from the method's top-level keys by the parser; not set directly.")
    reference_cache: str = arg(
        "auto", "Reference log-probs: auto (on-disk cache, computed once), off (recompute each run in memory).",
        choices=REFERENCE_CACHE_MODES,
    )
    reference_cache_dir: str | None = arg(None, "Where reference log-prob caches live; default "
                                                "$PREFOPT_CACHE/refcache (else <repo>/.cache/refcache).")
    batch_layout: str = arg(
        "pairs", "pairs: chosen and rejected as separate padded rows (2B, T); shared_prefix: one packed "
        "[prompt | chosen | rejected] row per pair, the prompt computed once: the same log-probs, fewer tokens "
        "(eager or sdpa attention; not with a sample scheduler, which needs per-sequence hidden states).",
        choices=BATCH_LAYOUTS)
    logp_chunk_size: int = arg(0, "logprob_impl full only: compute log-softmax normalisers over row chunks of this "
                                  "size (0 = one shot).", ge=0)
    logprob_impl: str = arg(
        "chunked", "How response log-probs are computed (policy and reference pass; prefopt.modeling.fused_logprobs). "
        "full: the model's own forward, (N, T, V) logits; chunked: the base model's hidden states, then the LM head, "
        "float32 logsumexp and gather over RESPONSE positions only, in chunks, recomputed in backward: the same "
        "numbers to float rounding, peak extra memory O(logprob_chunk_tokens x V). Soft-capping (Gemma-2), tied or "
        "untied heads, head bias and ZeRO-3 are handled; a model whose forward does more after its head is "
        "refused on its first batch (bench/: 3-6x the pairs/s of TRL at V >= 32k, about 0.2x its memory).",
        choices=("full", "chunked"))
    logprob_chunk_tokens: int = arg(
        256, "logprob_impl chunked: response positions per chunk; the chunk's float32 logits (chunk x V x 4 bytes: "
        "128 MB at 256 x 128k) are the path's peak extra memory (bench/logprob_kernels.md: 256 is the fastest size "
        "or within 3% of it at V = 32k, 128k and 256k).", ge=1)
    data_selection: dict = arg(
        {}, "Optional block (prefopt.config.selection.DataSelectionConfig: source, seeds, keep_fraction, ...): "
            "Selective DPO's selection, run before training when `dataset` does not hold it yet: reference runs on "
            "halves of source rank the pairs by held-out loss, the easiest are written to `dataset`. {} = none.")
    sample_scheduler: dict = arg(
        {}, "Optional sample scheduler block (prefopt.config.sample_scheduler.SamSConfig: name, select_ratio, ...): "
            "chooses which pairs of each micro-batch get gradients; {} = every pair (plain training). The old key "
            "`scheduler:` is still read, with a deprecation warning.")


@dataclass
class SFTConfig(RunArguments, TrainingArguments):
    """Training config of supervised fine-tuning (`scripts/run_sft.py`)."""

    sample_scheduler: dict = arg(
        {}, "Optional SamS block with mode: sft (prefopt.config.sample_scheduler.SamSConfig): the scheduler is "
            "pretrained during this SFT run on its chosen responses (SamS App. F.3) and written to "
            "<output_dir>/sams_scheduler.pt for a dpo-sams config's init_from; the SFT loss is unchanged. {} = none.")
