"""The seed loop of the mechanism experiments, built from the embedded chain's pieces (prefopt.toy.chain).

Per seed, in <work>/seed<N>/:

    tiny model (char tokenizer + the filler) -> SFT on padded, flawed answers (training_configs/tiny/sft.yaml)
    -> answers sampled from the SFT model for the pair prompts (prefopt.toy.chain.make_pairs), labelled twice:
         data/pairs                 by the quality judge              (claims 4-6; the layout APO's data builder reads)
         data/length_biased/pairs   by the length-biased labeller     (claims 1-4)
       and data/quality_flip<r>/pairs: the quality pairs with a fraction r of the TRAINING pairs swapped (claim 5;
       their held-out split stays clean)
    -> one run per `Run` (training_configs/tiny/<config>.yaml + overrides) in runs/<pair set>/<key>
    -> evals/<pair set>/<key>.json: quality, length and per-pair rewards of the final model (and of every checkpoint
       for runs with a curve), reused while the run's config hash is unchanged.

Every step is resumable as in the embedded chain: a finished run with the same config hash is not trained again.
CPU seconds (this process) are recorded next to wall seconds: on a shared machine only the first is comparable.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path

from transformers import AutoTokenizer

from prefopt.config import config_hash, explicit_values, load_raw
from prefopt.config.reward import RewardConfig
from prefopt.core.errors import InputError
from prefopt.core.manifest import write_json
from prefopt.reward.demo import build_tiny_apo_data
from prefopt.toy.chain import (
    CONFIGS,
    HeldOutPairs,
    finished_with_same_config,
    make_pairs,
    tiny_config,
    train,
    write_jsonl,
)
from prefopt.toy.tiny import build_tiny

from .noise import flip_pairs
from .probes import generation_stats, per_pair, record_selection
from .tasks_length import LengthBiasedLabeller, PaddedAdditionTask

logger = logging.getLogger("prefopt.toy.mechanisms")
QUALITY, LENGTH_BIASED = "quality", "length_biased"
APO_CONFIGS = ("apo_rm",)  # tiny reward-model configs that read APO's golden-vs-sample file
# Reward models learn from the length-biased pairs: on the quality pairs a 1M-parameter RM stays near chance
# (held-out accuracy 0.61 after 60 steps, 0.59 after 300; docs/mechanisms_design.md), so nothing could be compared.
RM_PAIRS = LENGTH_BIASED


@dataclasses.dataclass(frozen=True)
class Run:
    """One training run: a tiny config, the pair set it trains on, and the overrides that make it this run."""

    key: str  # unique within its pair set, e.g. "rdpo-alpha0.5"
    config: str  # training_configs/tiny/<config>.yaml
    pairs: str = LENGTH_BIASED  # QUALITY, LENGTH_BIASED or flip_set(rate)
    overrides: tuple = ()  # ((yaml key, value), ...): the swept coefficient
    curve: bool = False  # keep checkpoints and evaluate each one

    @property
    def id(self) -> str:
        return f"{self.pairs}/{self.key}"


def flip_set(rate: float) -> str:
    return f"{QUALITY}_flip{rate:g}"


def flip_rate(pairs: str) -> float | None:
    return float(pairs.removeprefix(f"{QUALITY}_flip")) if pairs.startswith(f"{QUALITY}_flip") else None


class _Relabelled:
    """The task seen through another scorer: what make_pairs needs (splits, max_new_tokens, judge)."""

    def __init__(self, task: PaddedAdditionTask, score):
        self.task, self.judge = task, score

    def splits(self):
        return self.task.splits()

    def max_new_tokens(self) -> int:
        return self.task.max_new_tokens()


class SeedChain:
    def __init__(self, spec, seed: int, work: Path):
        self.spec, self.seed, self.work = spec, seed, Path(work)
        self.task = PaddedAdditionTask(seed=seed, **dataclasses.asdict(spec.task))
        self.sft_dir = self.work / "sft"
        self.timings: dict[str, dict] = {}
        self._pairs: dict[tuple[str, str], HeldOutPairs] = {}
        self._generated: dict[str, dict] = {}

    # ---- data ---------------------------------------------------------------------------------------------
    def pairs_dir(self, pairs: str) -> Path:
        return self.work / "data" / ("" if pairs == QUALITY else pairs) / "pairs"

    def prepare(self, pair_sets: set[str], apo_queries: int = 0) -> dict:
        """SFT model, every pair set the runs need and (apo_queries > 0) APO's golden-vs-sample data; returns the
        data statistics."""
        rows, sft_stats = self.task.sft_rows()
        write_jsonl(self.work / "data" / "sft" / "train.jsonl", rows)
        model = build_tiny("1m", "char", alphabet=self.task.alphabet)
        budget = {"max_steps": self.spec.budget.sft_max_steps} if self.spec.budget.sft_max_steps else {}
        cfg = tiny_config("sft", model_name_or_path=str(model), dataset=str(self.work / "data" / "sft"),
                          output_dir=str(self.sft_dir), seed=self.seed, resume="never", task_eval=None, **budget)
        self._timed("sft", lambda: train("sft", cfg))
        s = self.spec.sampling
        stats = {"sft": {k: v for k, v in sft_stats.items() if k != "flawed"}}
        labellers = {QUALITY: self.task, LENGTH_BIASED: _Relabelled(
            self.task, LengthBiasedLabeller(self.task, self.spec.labeller.length_weight).score)}
        for name in sorted({QUALITY, LENGTH_BIASED} & pair_sets | ({QUALITY} if any(flip_rate(p) is not None
                                                                                      for p in pair_sets) else set())):
            stats[name] = self._timed(f"pairs/{name}", lambda n=name: make_pairs(
                self.sft_dir, labellers[n], self.pairs_dir(n).parent, self.seed, n_samples=s.n_samples,
                temperature=s.temperature, eval_fraction=s.eval_fraction))
            stats[name].update(self._length_gap(name))
        for name in sorted(p for p in pair_sets if flip_rate(p) is not None):
            stats[name] = self._write_flipped(name)
        if apo_queries:
            self._timed("apo-data", lambda: self._apo_data(apo_queries))
        return stats

    def apo_data_file(self) -> Path:
        return self.work / "data" / "apo" / RM_PAIRS / "pairs" / "apo_text_scores.json"

    def _apo_data(self, queries: int) -> None:
        """APO's golden-vs-sample items (prefopt.reward.demo): golden = the chosen answers of the reward models'
        pairs (RM_PAIRS), samples = 4 answers of the SFT policy per prompt, with this task's generation budget."""
        stamp = self.apo_data_file().with_suffix(".sft_hash")
        if stamp.exists() and stamp.read_text() == str(_manifest_hash(self.sft_dir)) and self.apo_data_file().exists():
            return
        written = build_tiny_apo_data(self.work, queries=queries, seed=self.seed,
                                      max_new_tokens=self.task.max_new_tokens(),
                                      pairs=str(self.pairs_dir(RM_PAIRS).relative_to(self.work / "data")))
        assert written == self.apo_data_file(), (written, self.apo_data_file())
        stamp.write_text(str(_manifest_hash(self.sft_dir)))

    def _length_gap(self, pairs: str) -> dict:
        """How much longer the chosen answers are than the rejected ones (train split): the data's length bias."""
        rows = _read_jsonl(self.pairs_dir(pairs) / "train.jsonl")
        gaps = [self.task.length(r["chosen"]) - self.task.length(r["rejected"]) for r in rows]
        return {"mean_length_gap": sum(gaps) / len(gaps), "chosen_longer": sum(g > 0 for g in gaps) / len(gaps),
                "chosen_shorter": sum(g < 0 for g in gaps) / len(gaps)}

    def _write_flipped(self, name: str) -> dict:
        src, dst = self.pairs_dir(QUALITY), self.pairs_dir(name)
        rows = _read_jsonl(src / "train.jsonl")
        noisy, flipped = flip_pairs(rows, flip_rate(name), self.seed)
        write_jsonl(dst / "train.jsonl", noisy)
        write_jsonl(dst / "test.jsonl", _read_jsonl(src / "test.jsonl"))  # held-out labels stay clean
        return {"n_train": len(rows), "n_flipped": len(flipped), "rate": flip_rate(name)}

    # ---- runs ---------------------------------------------------------------------------------------------
    def run_dir(self, run: Run) -> Path:
        return self.work / "runs" / run.pairs / run.key

    def config(self, run: Run):
        overrides = dict(model_name_or_path=str(self.sft_dir), dataset=str(self.pairs_dir(run.pairs)),
                         output_dir=str(self.run_dir(run)), seed=self.seed, resume="never", task_eval=None)
        if "loss" in load_raw([str(CONFIGS / f"{run.config}.yaml")])[0]:  # a preference run (not a reward model)
            overrides["reference_cache_dir"] = str(self.work / "refcache")
        if run.config in APO_CONFIGS:
            overrides["apo_dataset"] = str(self.apo_data_file())
        if self.spec.budget.max_steps:
            overrides["max_steps"] = self.spec.budget.max_steps
        if run.curve:
            overrides.update(save_strategy="steps", save_steps=self.spec.evaluation.checkpoint_every,
                             save_only_model=True)
        return tiny_config(run.config, **{**overrides, **dict(run.overrides)})

    def train(self, run: Run) -> None:
        cfg = self.config(run)
        if run.curve and not finished_with_same_config(cfg):  # checkpoints of an older config are not this run's
            for old in self.run_dir(run).glob("checkpoint-*"):
                shutil.rmtree(old)
        if not getattr(cfg[2], "scheduler", None) or cfg[2].scheduler.get("mode") == "pretrain":
            self._timed(run.id, lambda: train(run.id, cfg))
            return
        # A scheduled run: record which pairs the scheduler picks (flipped or clean, judged by quality).
        tally: dict = {}
        with record_selection(AutoTokenizer.from_pretrained(self.sft_dir), self.task.judge, tally):
            trained = self._timed(run.id, lambda: train(run.id, cfg)) > 0
        tally_file = self.run_dir(run) / "selection.json"
        if trained:
            write_json(tally_file, tally)
        elif not tally_file.exists():
            raise InputError(f"{run.id}: a finished run without its selection record", where=str(tally_file),
                             fix="delete the run folder so that it is trained again (the record is taken in training)")

    # ---- evaluation ---------------------------------------------------------------------------------------
    def held_out(self, pairs: str, split: str = "test") -> HeldOutPairs:
        key = (pairs, split)
        if key not in self._pairs:
            max_length = tiny_config("dpo")[1].max_length
            self._pairs[key] = HeldOutPairs(self.sft_dir, self.pairs_dir(pairs), max_length, split=split)
        return self._pairs[key]

    def evaluate_model(self, model_dir: Path, pairs: str, train_split: bool = False) -> dict:
        e = self.spec.evaluation
        if str(model_dir) not in self._generated:  # the SFT model is evaluated once for every pair set
            self._generated[str(model_dir)] = generation_stats(
                model_dir, self.task, self.task.splits()["test"], n_samples=e.length_samples,
                temperature=e.length_temperature, seed=self.seed, length_prompts=e.length_prompts)
        out = dict(self._generated[str(model_dir)])
        out["test_pairs"] = per_pair(self.held_out(pairs), model_dir)
        if train_split:
            out["train_pairs"] = per_pair(self.held_out(pairs, "train"), model_dir)
        return out

    def evaluate(self, run: Run | None, pairs: str = QUALITY) -> dict:
        """Evaluation of a run (None: the SFT model on `pairs`), cached in evals/ while the run's config hash and
        the evaluation and task settings are unchanged."""
        cfg = None if run is None else self.config(run)
        if run is None:
            name, model_dir, h = f"{pairs}/sft", self.sft_dir, _manifest_hash(self.sft_dir)
        else:
            name, model_dir, h, pairs = run.id, self.run_dir(run), config_hash(explicit_values(*cfg)), run.pairs
        key = {"config_hash": h, "evaluation": dataclasses.asdict(self.spec.evaluation),
               "task": dataclasses.asdict(self.spec.task)}
        cache = self.work / "evals" / f"{name}.json"
        if cache.exists() and json.loads(cache.read_text()).get("key") == key:
            return json.loads(cache.read_text())
        if cfg is not None and is_reward_model(cfg):
            result = {"rm": json.loads((model_dir / "final_eval_results.json").read_text())}
        else:
            result = self._timed(f"eval/{name}", lambda: self._evaluate(run, model_dir, pairs))
        write_json(cache, {"key": key, **result})
        return {"key": key, **result}

    def _evaluate(self, run: Run | None, model_dir: Path, pairs: str) -> dict:
        curve = run is not None and run.curve
        result = {"final": self.evaluate_model(model_dir, pairs, train_split=curve or run is None)}
        if curve:
            steps = sorted((int(p.name.split("-")[1]), p) for p in model_dir.glob("checkpoint-*"))
            result["curve"] = [{"step": s, **self.evaluate_model(p, pairs, train_split=True)} for s, p in steps]
        if run is not None and (self.run_dir(run) / "selection.json").exists():
            result["selection"] = json.loads((self.run_dir(run) / "selection.json").read_text())
        return result

    def _timed(self, name: str, fn):
        t, c = time.time(), time.process_time()
        out = fn()
        self.timings[name] = {"wall_s": time.time() - t, "cpu_s": time.process_time() - c}
        logger.info("%s: %.1fs wall, %.1fs CPU", name, *self.timings[name].values())
        return out


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _manifest_hash(run_dir: Path) -> str | None:
    path = run_dir / "manifest.json"
    return json.loads(path.read_text()).get("config_hash") if path.exists() else None


def is_reward_model(config) -> bool:
    return isinstance(config[2], RewardConfig)

