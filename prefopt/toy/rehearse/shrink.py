"""The only changes a rehearsal makes to a cell's config: shrink the run, move its files, and swap what a CPU
cannot run. Each is a `--key=value` override on the cell's own command line, and each is recorded.

    shrink       3 optimizer steps, a checkpoint after every step, lengths capped at 128 (prompt 64), at most 4
                 examples per device and 2 accumulation steps (a cell below the caps keeps its own values: the
                 per-device layout that LMPO's statistics, SamS's rounds and KTO's KL pairs depend on stays), 4 eval
                 rows, one log row per step, the SamS scheduler's networks and replay pool shrunk like the model.
                 A cell that saves and evaluates per epoch (epoch_stopping, load_best_model_at_end) keeps its epoch
                 rules; its training rows are capped at one global batch, so an epoch is one step. Selective DPO's
                 reference runs: one seed (two halves) and 2 evaluations each.
    relocate     every repository path the config writes or reads from an earlier run (outputs/..., data/<prepared>)
                 moves under the rehearsal folder, so a rehearsal never touches a real run's files; chains follow.
    substitute   what only a GPU runs: flash_attention_2 -> sdpa, paged (bitsandbytes) optimizers -> adamw_torch,
                 use_cpu: true.
"""

from __future__ import annotations

import json
import shlex
from pathlib import Path

STEPS = 3
PROCESSES = 2  # ranks of every rehearsal launch
KILL_AT_STEP = 2  # the killed run dies at the end of step 2, before its save: it resumes from checkpoint-1
MAX_LENGTH, MAX_PROMPT_LENGTH = 128, 64
MAX_PER_DEVICE, MAX_ACCUMULATION = 4, 2
EVAL_ROWS = 4
# The SamS scheduler at the miniature's scale (block_size 16, the released code's, still divides the width).
SCHEDULER = {"connector_dim": 32, "width": 64, "depth": 3, "pool_size": 8, "pool_max_mb": 16.0, "pool_batches": 2,
             "train_steps": 2}
GPU_ONLY = {"attn_implementation": {"flash_attention_2": "sdpa", "flash_attention_3": "sdpa"},
            "optim": {"paged_adamw_32bit": "adamw_torch", "paged_adamw_8bit": "adamw_torch",
                      "adamw_bnb_8bit": "adamw_torch"}}
RELOCATED_PREFIXES = ("outputs/", "data/")


def relocate(value, root: Path):
    """Every `outputs/...` or `data/...` string (nested ones included) -> the same path under `root`. APO's
    data/apo files are not moved: the dataset mirror serves them (prefopt.data.mirror.resolve_local_copy)."""
    if isinstance(value, dict):
        return {k: relocate(v, root) for k, v in value.items()}
    if isinstance(value, list):
        return [relocate(v, root) for v in value]
    if isinstance(value, str) and value.startswith(RELOCATED_PREFIXES) and not value.startswith("data/apo/"):
        return str(root / value)
    return value


SELECTION = {"evals_per_run": 2}


def _shrunk_selection(block: dict) -> dict:
    return {**block, **{k: min(v, block.get(k, v)) for k, v in SELECTION.items()},
            "seeds": list(block.get("seeds") or [0])[:1]}


def _shrunk_scheduler(block: dict) -> dict:
    out = dict(block)
    if out.get("name", "sams") == "sams":
        out.update({k: min(v, out[k]) if k in out else v for k, v in SCHEDULER.items()})
    return out


def overrides(raw: dict, root: Path, output_dir: str | None = None) -> dict[str, tuple]:
    """key -> (the config's value, the rehearsal's value, why) for every key a rehearsal changes."""
    out: dict[str, tuple] = {}

    def put(key: str, value, why: str) -> None:
        if raw.get(key) != value:
            out[key] = (raw.get(key), value, why)

    put("max_steps", STEPS, "shrink")
    per_device = min(MAX_PER_DEVICE, raw.get("per_device_train_batch_size", 8))
    accumulation = min(MAX_ACCUMULATION, raw.get("gradient_accumulation_steps", 1))
    if raw.get("save_strategy") == "epoch":  # keep the per-epoch rules: one global batch of rows = one step
        put("max_train_samples", per_device * PROCESSES * accumulation, "shrink")
    else:
        put("save_strategy", "steps", "shrink")
        put("save_steps", 1, "shrink")
    put("logging_steps", 1, "shrink")
    if raw.get("eval_strategy") == "steps":
        put("eval_steps", KILL_AT_STEP, "shrink")
    if raw.get("eval_split") or raw.get("eval_dataset"):
        put("max_eval_samples", min(EVAL_ROWS, raw.get("max_eval_samples") or EVAL_ROWS), "shrink")
    put("max_length", min(MAX_LENGTH, raw.get("max_length", MAX_LENGTH)), "shrink")
    # Every config has the field (DataArguments): an SFT run that keeps the default 512 under max_length 128 writes
    # both to its manifest, and the evaluations that tokenize like the policy's training (rm-robustness) then find
    # no room for a response ("prompt has 350 tokens (max_prompt_length=512) ... max_length=128").
    put("max_prompt_length", min(MAX_PROMPT_LENGTH, raw.get("max_prompt_length", MAX_PROMPT_LENGTH)), "shrink")
    for key, cap in (("per_device_train_batch_size", MAX_PER_DEVICE), ("per_device_eval_batch_size", MAX_PER_DEVICE),
                     ("gradient_accumulation_steps", MAX_ACCUMULATION)):
        if key in raw:
            put(key, min(cap, raw[key]), "shrink")
    if raw.get("sample_scheduler"):
        block = relocate(_shrunk_scheduler(raw["sample_scheduler"]), root)
        put("sample_scheduler", block, "shrink + relocate")
    for key, table in GPU_ONLY.items():
        if raw.get(key) in table:
            put(key, table[raw[key]], "CPU substitute")
    put("use_cpu", True, "CPU substitute")
    if raw.get("data_selection"):
        put("data_selection", relocate(_shrunk_selection(raw["data_selection"]), root), "shrink + relocate")
    for key, value in raw.items():
        if key not in ("sample_scheduler", "data_selection") and relocate(value, root) != value:
            put(key, relocate(value, root), "relocate")
    if output_dir is not None:
        put("output_dir", output_dir, "relocate")
    return out


def as_words(changes: dict[str, tuple]) -> list[str]:
    """`--key=value` words as the scripts read them (YAML flow values: JSON for blocks and lists)."""
    words = []
    for key, (_, value, _) in changes.items():
        text = json.dumps(value, separators=(",", ":")) if isinstance(value, dict | list) else \
            ("null" if value is None else str(value).lower() if isinstance(value, bool) else str(value))
        words.append(f"--{key}={text}")
    return words


def make_value(words: list[str]) -> str:
    """Words as one make command-line variable that a recipe pastes into a shell line: each word shell-quoted,
    `$` doubled (make would expand it)."""
    return " ".join(shlex.quote(w) for w in words).replace("$", "$$")
