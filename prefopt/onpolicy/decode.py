"""Step 1: one sample per prompt per seed, from the SFT model (SimPO's decode.py).

Prompts: the `prompt` column of one or more splits of a data source (SimPO: train_prefs of
HuggingFaceH4/ultrafeedback_binarized; add test_prefs to get the test split the authors used), deduplicated and
**sorted** (SimPO's fix 2dcc435: an unsorted set gives every process its own order, and the seed files no
longer line up). Each prompt is one user turn rendered with the model's chat template + generation prompt.

Per seed, `<out>/output_<seed>.jsonl` holds rows {"prompt", "generated_text"} in prompt order, and
`output_<seed>.meta.json` the settings that made it. Resumable: a seed whose file is complete (with the same
settings) is skipped; an unfinished seed continues in `output_<seed>.jsonl.partial` from its last complete chunk
(rows are appended and flushed one chunk at a time), so a rerun after a kill writes the same file as a run
without one.

Sampling randomness: with the HF backend the texts of a prompt depend on the batch it is sampled in, so each
chunk is sampled with its own seed derived from (seed, chunk index) and the chunk and batch sizes are part of
the settings; vLLM seeds every request with `seed` itself (SimPO's SamplingParams(seed=seed)), so its samples do
not depend on chunking. The two backends give different texts for the same seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm

from prefopt.config import ModelArguments
from prefopt.core.errors import InputError
from prefopt.core.manifest import build_manifest, write_json
from prefopt.data.files import read_source
from prefopt.modeling.generate import generate
from prefopt.modeling.loading import load_model, load_tokenizer, resolve

logger = logging.getLogger("prefopt.onpolicy")
BACKENDS = ("auto", "hf", "vllm")
VLLM_MISSING = InputError(
    "backend 'vllm' needs the vllm package, which is not installed (a GPU-only optional extra)",
    where="decode --backend vllm",
    fix="install it on a CUDA machine (make setup-gpu, or pip install vllm), or use --backend hf / auto "
    "(auto falls back to batched HF generate)",
)


@dataclasses.dataclass(frozen=True)
class Sampling:
    """SimPO's defaults (decode.py; README): T 0.8, top_p 0.95, 4096 new tokens."""

    temperature: float = 0.8
    top_p: float = 0.95
    top_k: int = 0
    max_new_tokens: int = 4096

    def __post_init__(self):
        if self.temperature <= 0:
            raise InputError(f"temperature must be > 0 (one sample per seed needs sampling), got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise InputError(f"top_p must be in (0, 1], got {self.top_p}")
        if self.max_new_tokens < 1:
            raise InputError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------------- prompts
def _prompt_of(value, where: str, field: str) -> str:
    if isinstance(value, list):  # a message list: its last user turn
        users = [m.get("content") for m in value if isinstance(m, dict) and m.get("role") == "user"]
        value = users[-1] if users else None
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"field {field!r} is {'empty' if isinstance(value, str) else type(value).__name__}, "
                         "not a prompt string", where=where,
                         fix=f"every row needs a non-empty {field!r} (a string or a message list with a user turn); "
                         "pass --prompt_field to read another column")
    return value


def load_prompts(source: str, splits: Sequence[str] = ("train_prefs",), field: str = "prompt",
                 limit: int | None = None) -> list[str]:
    """Sorted unique prompts of `field` over `splits` of `source` (any source prefopt.data reads); `limit`
    keeps the first N of the sorted list."""
    prompts: set[str] = set()
    for split in splits:
        rows, label = read_source(source, split)
        for i, row in enumerate(rows, 1):
            where = f"{label}:row {i}"
            if field not in row:
                have = ", ".join(sorted(map(str, row))[:12]) or "none"
                raise InputError(f"missing field {field!r} (the row has: {have})", where=where,
                                 fix="pass --prompt_field with the column that holds the prompt")
            prompts.add(_prompt_of(row[field], where, field))
    out = sorted(prompts)
    return out[:limit] if limit else out


def prompts_hash(prompts: Sequence[str]) -> str:
    h = hashlib.sha256()
    for p in prompts:
        h.update(p.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:16]


# ---------------------------------------------------------------------------------------------- backend
def resolve_backend(backend: str) -> str:
    """auto -> vllm when it is installed and a GPU is visible, else hf; vllm without the package fails now."""
    if backend not in BACKENDS:
        raise InputError(f"unknown backend {backend!r}", fix=f"use one of {', '.join(BACKENDS)}")
    have_vllm = importlib.util.find_spec("vllm") is not None
    if backend == "vllm" and not have_vllm:
        raise VLLM_MISSING
    if backend == "auto":
        backend = "vllm" if have_vllm and torch.cuda.is_available() else "hf"
        logger.info("backend auto -> %s", backend)
    return backend


def chunk_seed(seed: int, chunk: int, backend: str) -> int:
    if backend == "vllm":
        return seed
    digest = hashlib.sha256(f"onpolicy-{seed}-{chunk}".encode()).digest()
    return int.from_bytes(digest[:4], "little") & 0x7FFFFFFF


# ---------------------------------------------------------------------------------------------- files
def seed_files(out_dir: Path, seed: int) -> tuple[Path, Path, Path]:
    """(complete file, partial file, meta file) of one seed."""
    out = Path(out_dir) / f"output_{seed}.jsonl"
    return out, out.with_name(out.name + ".partial"), Path(out_dir) / f"output_{seed}.meta.json"


def read_complete_lines(path: Path) -> list[dict]:
    """The rows of the well-formed lines of a partial file, up to the first broken one (a killed write)."""
    rows = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.endswith("\n"):
                break
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                break
            if not isinstance(obj, dict):
                break
            rows.append(obj)
    return rows


def _check_settings(meta_file: Path, settings: dict) -> dict | None:
    """The meta of an earlier run of this seed, after checking it was made with the same settings."""
    if not meta_file.is_file():
        return None
    old = json.loads(meta_file.read_text(encoding="utf-8"))
    diff = [f"{k}: {old.get('settings', {}).get(k)!r} then, {v!r} now" for k, v in settings.items()
            if old.get("settings", {}).get(k) != v]
    if diff:
        raise InputError(
            "an earlier run of this seed used other settings (" + "; ".join(diff) + ")", where=str(meta_file),
            fix=f"rerun with the same settings to resume, or delete {meta_file.name} and output_{settings['seed']}"
            ".jsonl* to sample this seed again (or use another --out)")
    return old


def _resume_rows(partial: Path, prompts: Sequence[str], chunk_size: int) -> int:
    """Rows of `partial` to keep (whole chunks, prompts in order); the file is cut back to them."""
    if not partial.is_file():
        return 0
    rows = read_complete_lines(partial)
    keep = len(prompts) if len(rows) >= len(prompts) else len(rows) // chunk_size * chunk_size
    for i, r in enumerate(rows[:keep]):
        if r.get("prompt") != prompts[i] or not isinstance(r.get("generated_text"), str):
            raise InputError(f"row {i + 1} does not match prompt {i + 1} of the prompt list", where=str(partial),
                             fix="the file comes from another prompt list: delete it to sample this seed again")
    with open(partial, "w", encoding="utf-8") as f:
        for r in rows[:keep]:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    return keep


# ---------------------------------------------------------------------------------------------- decode
def decode_seeds(model_name: str, prompts: Sequence[str], seeds: Sequence[int], out_dir: str | os.PathLike,
                 sampling: Sampling = Sampling(), *, chunk_size: int = 512, batch_size: int = 64,
                 backend: str = "auto", torch_dtype: str = "auto", source: dict | None = None,
                 progress: bool = True, model_and_tokenizer=None) -> dict:
    """Sample one completion per prompt for every seed into `out_dir`; returns {seed: "sampled"|"resumed"|"skipped"}.

    `model_and_tokenizer` passes an already loaded HF (model, tokenizer) (tests); otherwise `model_name` (a hub
    id, folder or tiny:<size>/<task>) is loaded only if some seed has work left.
    """
    if not prompts:
        raise InputError("no prompts to decode", where="decode", fix="check --data, --splits and --limit")
    if chunk_size < 1 or batch_size < 1:
        raise InputError(f"chunk_size and batch_size must be >= 1 (got {chunk_size}, {batch_size})")
    if len(set(seeds)) != len(seeds) or not seeds:
        raise InputError(f"seeds must be distinct and at least one, got {list(seeds)}", fix="e.g. --seeds 13 21 42 79 100")
    backend = resolve_backend(backend)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    convs = [[{"role": "user", "content": p}] for p in prompts]
    n_chunks = (len(prompts) + chunk_size - 1) // chunk_size
    loaded = model_and_tokenizer
    status = {}
    for seed in seeds:
        final, partial, meta_file = seed_files(out_dir, seed)
        settings = {"seed": seed, "model": model_name, "backend": backend, "sampling": sampling.as_dict(),
                    "n_prompts": len(prompts), "prompts_sha": prompts_hash(prompts), "chunk_size": chunk_size,
                    **({"batch_size": batch_size} if backend == "hf" else {})}
        old = _check_settings(meta_file, settings)
        if old and old.get("complete") and final.is_file():
            logger.info("seed %d: complete in %s, skipped", seed, final)
            status[seed] = "skipped"
            continue
        if final.is_file() and not partial.is_file():  # killed between the rename and the meta update
            os.replace(final, partial)
        start = _resume_rows(partial, prompts, chunk_size)
        if start:
            logger.info("seed %d: resuming after %d of %d prompts", seed, start, len(prompts))
        write_json(meta_file, {"settings": settings, "complete": False, "source": source})
        if start < len(prompts) and loaded is None:
            loaded = _load(model_name, backend, torch_dtype)
        bar = None
        if progress:
            bar = tqdm(total=len(prompts), initial=start, desc=f"seed {seed}", unit="prompt")
        try:
            for k in range(n_chunks if start >= len(prompts) else start // chunk_size, n_chunks):
                lo, hi = k * chunk_size, min((k + 1) * chunk_size, len(prompts))
                model, tok = loaded
                texts = generate(model, tok, convs[lo:hi], max_new_tokens=sampling.max_new_tokens, do_sample=True,
                                 temperature=sampling.temperature, top_p=sampling.top_p, top_k=sampling.top_k,
                                 seed=chunk_seed(seed, k, backend), batch_size=batch_size, backend=backend)
                with open(partial, "a", encoding="utf-8") as f:
                    for p, t in zip(prompts[lo:hi], texts, strict=True):
                        f.write(json.dumps({"prompt": p, "generated_text": t[0]}, ensure_ascii=False) + "\n")
                    f.flush()
                    os.fsync(f.fileno())
                if bar is not None:
                    bar.update(hi - lo)
        finally:
            if bar is not None:
                bar.close()
        os.replace(partial, final)
        write_json(meta_file, {"settings": settings, "complete": True, "n_rows": len(prompts), "source": source,
                               "manifest": build_manifest("onpolicy-decode", config=settings)})
        status[seed] = "resumed" if start else "sampled"
        logger.info("seed %d: wrote %s (%d rows)", seed, final, len(prompts))
    return status


def _load(model_name: str, backend: str, torch_dtype: str):
    """(model, tokenizer): a HF model on the GPU if there is one, or the model path for vLLM."""

    args = ModelArguments(model_name_or_path=model_name, torch_dtype=_dtype(torch_dtype))
    tok = load_tokenizer(args)
    if backend == "vllm":
        return resolve(model_name), tok
    model = load_model(model_name, args)
    if torch.cuda.is_available():
        model = model.to("cuda")
    return model, tok


def _dtype(name: str) -> str:
    if name != "auto":
        return name

    return "bfloat16" if torch.cuda.is_available() else "float32"
