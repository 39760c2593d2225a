"""Rejection sampling with a reward model (APO's LLM side: tools/inference_llm.py "sampling" + the RM's inference +
tools/rejection_sampling.py), behind scripts/rejection_sample.py.

    cfg = parse_rjs_config(["sampling_configs/alpaca-7b-hh/rjs.yaml", "--max_queries=100"])
    manifest = run_rejection_sampling(cfg)

1. The policy samples `num_samples` answers per query with `prefopt.modeling.generate` (via converter.sample_rows), in chunks
   of `chunk_size` queries appended to <output_dir>/samples.jsonl; chunk k samples with seed `seed + k`, so a
   killed run resumes at the first unfinished chunk and ends with the same samples as an uninterrupted one.
2. The reward model scores every non-empty sample as query + response (APO's layout, converter.rejection_sample).
3. The best-scored sample of each query becomes an SFT row of <output_dir>/train.jsonl:
   {"messages": prompt + [assistant: best sample], "query_id", "target_key", "scores"}, which scripts/run_sft.py
   trains on (dataset: <output_dir>, train_split: train).

<output_dir>/manifest.json records the policy, the reward model, n, every sampling setting and the counts. A
finished output_dir with the same settings is not redone; one with other settings is an error (not overwritten).
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path

from tqdm.auto import tqdm

from prefopt.config import config_hash, load_raw
from prefopt.core.errors import InputError
from prefopt.core.fields import arg, build_checked
from prefopt.core.manifest import build_manifest, update_manifest, write_json

from .converter import rejection_sample, sample_rows
from .model import is_reward_model
from .sampling import load_policy, load_queries, load_scorer

logger = logging.getLogger("prefopt")
EMPTY_POLICIES = ("error", "drop")
SAMPLES, TRAIN, MANIFEST = "samples.jsonl", "train.jsonl", "manifest.json"
# Fields that do not change what a run writes (left out of its hash).
_NOT_HASHED = ("description", "hparams_source", "output_dir", "rm_batch_size", "device")


@dataclass
class RejectionSamplingConfig:
    """One rejection-sampling run (scripts/rejection_sample.py): YAML keys, `--key=value` overrides."""

    description: str | None = arg(None, "Free text: what this run produces (which cell trains on it).")
    hparams_source: str | None = arg(None, "Where the sampling settings come from.")
    policy: str = arg(None, "The policy that samples: hub id, local folder or tiny:<size>/<task>.")
    reward_model: str = arg(None, "The reward model that scores the samples: an output_dir of scripts/run_rm.py.")
    queries: str = arg(None, "Query file, folder or hub dataset (prefopt.reward.sampling.load_queries formats).")
    query_split: str = arg("train", "Split of `queries`.")
    max_queries: int | None = arg(None, "Use only the first N queries (debugging, tiny runs).")
    output_dir: str = arg(None, "Where samples.jsonl, train.jsonl (the SFT rows) and manifest.json are written.")
    chat_template: str | None = arg(None, "Prompt template of the policy: 'hh' (APO's '\\n\\nHuman: ...\\n\\n"
                                          "Assistant:'), 'tokenizer' or null (its own), or a Jinja template.")
    torch_dtype: str = arg("float32", "Policy weights dtype: float32, bfloat16, float16 or auto.")
    device: str = arg("auto", "cuda when available (auto), or cpu / cuda.")
    num_samples: int = arg(4, "Samples per query (APO: 4).", ge=1)
    do_sample: bool = arg(True, "Sample (true) or decode greedily (only with num_samples 1).")
    temperature: float = arg(1.0, "Sampling temperature (APO's alpaca sampling: 1.2).", gt=0)
    top_p: float = arg(1.0, "Nucleus sampling mass (1.0 = off).", gt=0)
    top_k: int = arg(0, "Top-k sampling (0 = off).", ge=0)
    repetition_penalty: float = arg(1.0, "HF repetition penalty (1.0 = off).", gt=0)
    max_new_tokens: int = arg(256, "New tokens per sample (APO: 256).", ge=1)
    stop: list = arg([], "Stop strings: a sample is cut at the first one (APO's sampling uses none).")
    seed: int = arg(0, "Sampling seed of chunk 0; chunk k uses seed + k.")
    batch_size: int = arg(8, "Prompts per generation batch (the samples depend on it).", ge=1)
    chunk_size: int = arg(256, "Queries per resumable chunk of samples.jsonl.", ge=1)
    rm_max_length: int | None = arg(None, "Token budget of query + sample for the RM (default: its training "
                                          "max_length, else 512); longer inputs lose their left end.")
    rm_batch_size: int = arg(16, "Samples per reward-model batch.", ge=1)
    empty_samples: str = arg("error", "A query whose samples are all empty: error (stop, naming the query), or drop "
                                      "it (APO's rejection_sampling.py skips it; counted in the manifest).",
                             choices=EMPTY_POLICIES)
    bad_rows: str = arg("error", "Preference-format query rows with content problems: error or drop (prefopt.data).",
                        choices=("error", "drop"))

    def validate(self) -> None:
        missing = [k for k in ("policy", "reward_model", "queries", "output_dir") if getattr(self, k) in (None, "")]
        if missing:
            raise ValueError(f"{', '.join(missing)} not set (in the YAML or with --key=...)")
        if self.num_samples > 1 and not self.do_sample:
            raise ValueError("num_samples > 1 with do_sample false would repeat one answer: set do_sample: true")
        if not isinstance(self.stop, list) or not all(isinstance(s, str) and s for s in self.stop):
            raise ValueError(f"stop must be a list of non-empty strings, got {self.stop!r}")

    @property
    def generation(self) -> dict:
        """The prefopt.modeling.generate settings of this run."""
        return {"do_sample": self.do_sample, "temperature": self.temperature, "top_p": self.top_p,
                "top_k": self.top_k, "repetition_penalty": self.repetition_penalty,
                "max_new_tokens": self.max_new_tokens, "stop": list(self.stop)}


def parse_rjs_config(argv: list[str]) -> RejectionSamplingConfig:
    """A YAML file plus `--key=value` overrides, checked like every config (prefopt.core.fields.build_checked):
    an unknown key, a wrong type, a value out of range or a broken rule is an InputError."""
    raw, source = load_raw(argv)
    return build_checked(RejectionSamplingConfig, raw, source=source)


def _hash(cfg: RejectionSamplingConfig) -> str:
    return config_hash(dataclasses.asdict(cfg), ignore=_NOT_HASHED)


def _read_samples(path: Path, chunks: list[list[str]]) -> dict[str, dict]:
    """Rows of the complete chunks of samples.jsonl (a chunk cut short by a kill is dropped and re-sampled)."""
    if not path.is_file():
        return {}
    by_chunk: dict[int, list[dict]] = {}
    for line in path.read_text(encoding="utf-8").split("\n"):
        try:
            row = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut by a kill; its chunk is incomplete
        by_chunk.setdefault(row.get("chunk"), []).append(row)
    keep = {k: rows for k, rows in by_chunk.items()
            if isinstance(k, int) and 0 <= k < len(chunks) and [r["query_id"] for r in rows] == chunks[k]}
    text = "".join(json.dumps(r, ensure_ascii=False) + "\n" for k in sorted(keep) for r in keep[k])
    path.write_text(text, encoding="utf-8")  # only complete chunks stay
    return {r["query_id"]: r for rows in keep.values() for r in rows}


def sample_all(cfg: RejectionSamplingConfig, queries: list[dict], path: Path) -> list[dict]:
    """Step 1: every query's samples, resuming from the complete chunks already in `path`."""

    ids = [q["query_id"] for q in queries]
    chunks = [ids[i: i + cfg.chunk_size] for i in range(0, len(ids), cfg.chunk_size)]
    done = _read_samples(path, chunks)
    todo = [k for k, c in enumerate(chunks) if c[0] not in done]
    if todo:
        by_id = {q["query_id"]: q for q in queries}
        model, tokenizer = load_policy(cfg.policy, cfg.chat_template, cfg.torch_dtype, cfg.device)
        settings = {k: v for k, v in cfg.generation.items() if k != "stop"}
        bar = tqdm(total=len(ids), initial=len(done), desc="rejection sampling: sample", unit="query")
        for k in todo:
            rows = sample_rows(model, tokenizer, {q: (by_id[q]["query"], by_id[q]["prompt"]) for q in chunks[k]},
                               num_samples=cfg.num_samples, seed=cfg.seed + k, batch_size=cfg.batch_size,
                               stop=cfg.stop, **settings)
            with open(path, "a", encoding="utf-8") as f:
                f.write("".join(json.dumps(dict(r, chunk=k), ensure_ascii=False) + "\n" for r in rows))
            done.update((r["query_id"], r) for r in rows)
            bar.update(len(rows))
        bar.close()
        del model
    return [done[q] for q in ids]


def _nonempty(row: dict, n: int) -> list[str]:
    return [f"sample_{k}" for k in range(n) if isinstance(row.get(f"sample_{k}"), str) and row[f"sample_{k}"].strip()]


def score_and_select(cfg: RejectionSamplingConfig, samples: list[dict], where: str) -> tuple[list[dict], dict]:
    """Steps 2-3: RM scores and the best-of-n SFT rows, and the counts for the manifest."""

    kept, dropped = [], []
    for line, row in enumerate(samples, 1):
        if _nonempty(row, cfg.num_samples):
            kept.append(row)
        elif cfg.empty_samples == "drop":
            dropped.append(row["query_id"])
        else:
            raise InputError(f"query_id {row['query_id']!r}: every sample (fields sample_0..sample_"
                             f"{cfg.num_samples - 1}) is empty, so there is nothing to select",
                             where=f"{where}:line {line}",
                             fix="set empty_samples: drop to skip such queries (as APO's rejection_sampling.py "
                                 "does), or sample again with other settings (max_new_tokens, temperature)")
    if not kept:
        raise InputError("no query has a non-empty sample", where=where, fix="check the policy and its template")
    model, tokenizer, settings = load_scorer(cfg.reward_model, cfg.device)
    max_length = cfg.rm_max_length or settings.get("max_length") or 512
    out = []
    bar = tqdm(total=len(kept), desc="rejection sampling: score", unit="query")
    step = max(1, cfg.rm_batch_size)
    for i in range(0, len(kept), step):
        out += rejection_sample(model, tokenizer, kept[i: i + step], max_length=max_length,
                                add_sep_token=settings.get("add_sep_token", False), batch_size=cfg.rm_batch_size)
        bar.update(len(kept[i: i + step]))
    bar.close()
    best = [r["scores"][r["target_key"]] for r in out]
    counts = {"queries": len(samples), "sft_rows": len(out), "dropped_all_empty": len(dropped),
              "dropped_ids": dropped[:20], "samples_scored": sum(len(r["scores"]) for r in out),
              "empty_samples": len(samples) * cfg.num_samples - sum(len(r["scores"]) for r in out),
              "mean_best_score": sum(best) / len(best),
              "mean_score": sum(s for r in out for s in r["scores"].values()) / sum(len(r["scores"]) for r in out),
              "best_key_counts": {k: sum(r["target_key"] == k for r in out) for k in
                                  sorted({r["target_key"] for r in out})},
              "rm_max_length": max_length}
    return out, counts


def run_rejection_sampling(cfg: RejectionSamplingConfig) -> dict:
    """The whole run; returns the manifest."""
    out = Path(cfg.output_dir)
    manifest_path = out / MANIFEST
    h = _hash(cfg)
    if manifest_path.is_file():
        old = json.loads(manifest_path.read_text())
        if old.get("config_hash") != h:
            raise InputError(f"{out} holds a rejection-sampling run with other settings (hash "
                             f"{old.get('config_hash')}, now {h})", where="output_dir",
                             fix="use another output_dir, or delete that folder to start again")
        if old.get("status") == "finished" and (out / TRAIN).is_file():
            logger.info("%s: finished already (same settings); nothing to do", out)
            return old
    if not is_reward_model(cfg.reward_model):  # before hours of sampling, not after
        load_scorer(cfg.reward_model)  # raises the error that says what to pass
    queries = load_queries(cfg.queries, cfg.query_split, limit=cfg.max_queries, bad_rows=cfg.bad_rows)
    out.mkdir(parents=True, exist_ok=True)
    if not manifest_path.is_file():
        write_json(manifest_path, build_manifest(
            "rejection-sampling", config=dataclasses.asdict(cfg), config_hash=h, status="sampling",
            policy=cfg.policy, reward_model=cfg.reward_model, num_samples=cfg.num_samples,
            generation=cfg.generation, chat_template=cfg.chat_template, queries=cfg.queries,
            query_split=cfg.query_split))
    samples = sample_all(cfg, queries, out / SAMPLES)
    update_manifest(manifest_path, status="scoring")
    rows, counts = score_and_select(cfg, samples, str(out / SAMPLES))
    tmp = out / (TRAIN + ".tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    tmp.replace(out / TRAIN)
    logger.info("%s: %d SFT rows from %d queries x %d samples (mean best score %.3f)", out / TRAIN,
                counts["sft_rows"], counts["queries"], cfg.num_samples, counts["mean_best_score"])
    return update_manifest(manifest_path, status="finished", counts=counts)
