"""Step 3: score every response with a reward model (SimPO's reward_model_annotate.py, batched).

One interface for every kind of judge, picked by name from `REWARD_KINDS` (`--kind`):

    seq-cls      AutoModelForSequenceClassification; score = logits[:, 0]
    armorm       ArmoRM-style models (RLHFlow/ArmoRM-Llama3-8B-v0.1, remote code) whose output has `.score`
    pairrm       PairRM-style pairwise rankers (llm-blender/PairRM) through llm-blender; they compare the
                 responses of one prompt with each other, so they score whole groups only
    prefopt      our own reward models (the output folder of scripts/run_rm.py, prefopt.reward)
    exact-judge  the embedded task's exact rule (model = task name, e.g. `addition`): 1 right, 0 wrong
    graded-judge the embedded task with partial credit: share of answer digits in place, aligned from the units
                 (below 1 unless exact)

    scorer = load_scorer("armorm", "RLHFlow/ArmoRM-Llama3-8B-v0.1", batch_size=8)
    scorer.score(prompts, responses) -> list[float]          # one score per (prompt, response)
    scorer.score_groups(prompts, groups) -> list[list[float]]  # every response of each prompt

HF reward models see [user: prompt, assistant: response] rendered with the reward model's own chat template
(SimPO's way), right-padded; a model whose config has no pad token is run one sequence at a time (padding would
move the position it reads the score from).
"""

from __future__ import annotations

import json
import logging
import math
import os
from collections.abc import Sequence
from pathlib import Path

import torch
from tqdm.auto import tqdm
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from prefopt.core.errors import InputError
from prefopt.core.plugins import get_task
from prefopt.modeling.loading import DTYPES, resolve
from prefopt.reward import sampling as rm_sampling
from prefopt.reward.data import RewardCollator, RewardTokenizer, render_query
from prefopt.reward.model import is_reward_model
from prefopt.reward.train import score_items

from .common import field, string_list
from .decode import read_complete_lines

logger = logging.getLogger("prefopt.onpolicy")


class Scorer:
    """score(prompts, responses) -> one float per pair; score_groups groups them per prompt."""

    kind = "?"
    name = "?"

    def score(self, prompts: Sequence[str], responses: Sequence[str]) -> list[float]:
        raise NotImplementedError

    def score_groups(self, prompts: Sequence[str], groups: Sequence[Sequence[str]]) -> list[list[float]]:
        flat_p = [p for p, g in zip(prompts, groups, strict=True) for _ in g]
        flat = self.score(flat_p, [r for g in groups for r in g])
        out, k = [], 0
        for g in groups:
            out.append(flat[k : k + len(g)])
            k += len(g)
        return out

    def describe(self) -> dict:
        return {"kind": self.kind, "model": self.name}


# ---------------------------------------------------------------------------------------------- HF RMs
class HFRewardScorer(Scorer):
    """A HF reward model; `output` says where the score is: "logits" (logits[:, 0]) or "score" (ArmoRM)."""

    def __init__(self, model, tokenizer, *, name: str = "?", kind: str = "seq-cls", output: str = "logits",
                 batch_size: int = 8, max_length: int = 4096):
        if tokenizer.chat_template is None:
            raise InputError(f"the reward model's tokenizer ({name}) has no chat template", where="annotate",
                             fix="use a reward model that ships one (the responses are scored as a chat turn)")
        self.model, self.tok, self.name, self.kind, self.output = model, tokenizer, name, kind, output
        self.batch_size, self.max_length = batch_size, max_length
        self.pad_id = getattr(model.config, "pad_token_id", None)
        if self.pad_id is None and batch_size > 1:
            logger.warning("%s: the config has no pad_token_id; scoring one sequence at a time", name)

    @classmethod
    def load(cls, model: str, *, kind: str, output: str, batch_size: int = 8, max_length: int = 4096,
             trust_remote_code: bool = False, torch_dtype: str = "auto", **_):

        path = resolve(model)
        dtype = ("bfloat16" if torch.cuda.is_available() else "float32") if torch_dtype == "auto" else torch_dtype
        if trust_remote_code:
            logger.warning("trust_remote_code is ON for the reward model %s", model)
        try:
            tok = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
            rm = AutoModelForSequenceClassification.from_pretrained(path, dtype=DTYPES[dtype],
                                                                    trust_remote_code=trust_remote_code)
        except (OSError, ValueError) as e:
            raise InputError(f"cannot load reward model {model!r}: {str(e).splitlines()[0][:300]}", where="annotate",
                             fix="pass a local folder or a downloaded hub id (runs are offline: HF_HUB_OFFLINE=1)"
                             ) from None
        if torch.cuda.is_available():
            rm = rm.to("cuda")
        return cls(rm.eval(), tok, name=model, kind=kind, output=output, batch_size=batch_size, max_length=max_length)

    def _ids(self, prompt: str, response: str) -> list[int]:
        msgs = [{"role": "user", "content": prompt}, {"role": "assistant", "content": response}]
        text = self.tok.apply_chat_template(msgs, tokenize=False)
        ids = self.tok(text, add_special_tokens=False)["input_ids"]
        return ids[-self.max_length:] if len(ids) > self.max_length else ids

    def score(self, prompts, responses):
        seqs = [self._ids(p, r) for p, r in zip(prompts, responses, strict=True)]
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))
        alone = self.pad_id is None
        batches, batch = [], []
        for i in order:  # a sequence that contains the pad id is scored alone (unpadded)
            if alone or self.pad_id in seqs[i]:
                batches.append([i])
                continue
            batch.append(i)
            if len(batch) == self.batch_size:
                batches.append(batch)
                batch = []
        if batch:
            batches.append(batch)
        out = [0.0] * len(seqs)
        device = next(self.model.parameters()).device
        with torch.no_grad():
            for b in batches:
                width = max(len(seqs[i]) for i in b)
                ids = torch.full((len(b), width), self.pad_id if self.pad_id is not None else 0, dtype=torch.long)
                mask = torch.zeros((len(b), width), dtype=torch.long)
                for j, i in enumerate(b):
                    ids[j, : len(seqs[i])] = torch.tensor(seqs[i])
                    mask[j, : len(seqs[i])] = 1
                res = self.model(input_ids=ids.to(device), attention_mask=mask.to(device))
                vals = self._extract(res).float().reshape(len(b), -1)[:, 0].cpu().tolist()
                for j, i in enumerate(b):
                    out[i] = vals[j]
        return out

    def _extract(self, res):
        value = getattr(res, self.output, None)
        if value is None:
            raise InputError(f"the reward model's output has no {self.output!r}", where=f"annotate ({self.name})",
                             fix="use --kind seq-cls for models that return logits, --kind armorm for ArmoRM-style "
                             "models that return .score")
        return value


# ---------------------------------------------------------------------------------------------- PairRM
class PairRMScorer(Scorer):
    """PairRM through llm-blender: scores are relative within the responses of one prompt."""

    kind = "pairrm"

    def __init__(self, model: str = "llm-blender/PairRM", *, batch_size: int = 8, **_):
        try:
            import llm_blender  # noqa: PLC0415
        except ImportError:
            raise InputError("--kind pairrm needs the llm-blender package, which is not installed", where="annotate",
                             fix="pip install llm-blender (or pip install git+https://github.com/yuchenlin/LLM-Blender.git)"
                             ", then download llm-blender/PairRM") from None
        self.name, self.batch_size = model, batch_size
        self.blender = llm_blender.Blender()
        self.blender.loadranker(model)

    def score(self, prompts, responses):
        raise InputError("PairRM compares the responses of one prompt with each other: it scores groups only",
                         where="annotate", fix="use score_groups")

    def score_groups(self, prompts, groups):
        scores = self.blender.rank(list(prompts), [list(g) for g in groups], return_scores=True,
                                   batch_size=self.batch_size)
        return [[float(x) for x in row][: len(g)] for row, g in zip(scores, groups, strict=True)]


# ---------------------------------------------------------------------------------------------- prefopt RMs
class PrefoptRMScorer(Scorer):
    """A reward model trained by scripts/run_rm.py: hh-rlhf query text + response, APO's token layout."""

    kind = "prefopt"

    def __init__(self, model: str, *, batch_size: int = 8, max_length: int | None = None, **_):
        self.name, self.batch_size = model, batch_size
        if not is_reward_model(model):
            raise InputError(f"{model} is not a prefopt reward model folder (no reward_config.json)",
                             where="annotate --kind prefopt", fix="pass the output_dir of scripts/run_rm.py")
        self.model, tok, settings = rm_sampling.load_scorer(model)
        self.rt = RewardTokenizer(tok, max_length=max_length or settings.get("max_length") or 512,
                                  add_sep_token=settings.get("add_sep_token", False))
        self.collator = RewardCollator(tok.pad_token_id)

    def score_groups(self, prompts, groups):
        items = [self.rt.item({"query": render_query([{"role": "user", "content": p}]),
                               "responses": [" " + r for r in g], "scores": [0.0] * len(g)})
                 for p, g in zip(prompts, groups, strict=True)]
        return score_items(self.model, items, self.collator, self.batch_size)

    def score(self, prompts, responses):
        return [s[0] for s in self.score_groups(prompts, [[r] for r in responses])]


# ---------------------------------------------------------------------------------------------- task judges
class TaskJudgeScorer(Scorer):
    """The embedded task's rule as a reward model (no weights): exact (1/0) or graded (partial credit)."""

    def __init__(self, model: str = "addition", *, graded: bool = False, **_):
        self.task, self.name, self.graded = get_task(model), model, graded
        self.kind = "graded-judge" if graded else "exact-judge"

    def score(self, prompts, responses):
        rule = self.task.graded if self.graded else self.task.judge
        return [rule(p, r) for p, r in zip(prompts, responses, strict=True)]


REWARD_KINDS = {
    "seq-cls": lambda model, **kw: HFRewardScorer.load(model, kind="seq-cls", output="logits", **kw),
    "armorm": lambda model, **kw: HFRewardScorer.load(model, kind="armorm", output="score",
                                                      **{"trust_remote_code": True, **kw}),
    "pairrm": lambda model, **kw: PairRMScorer(model, **kw),
    "prefopt": lambda model, **kw: PrefoptRMScorer(model, **kw),
    "exact-judge": lambda model, **kw: TaskJudgeScorer(model, graded=False),
    "graded-judge": lambda model, **kw: TaskJudgeScorer(model, graded=True),
}


def load_scorer(kind: str, model: str, **options) -> Scorer:
    """The reward adapter `kind` (a key of REWARD_KINDS) for `model`; options: batch_size, max_length,
    trust_remote_code, torch_dtype (those a kind does not use are ignored)."""
    if kind not in REWARD_KINDS:
        raise InputError(f"unknown reward model kind {kind!r}", where="annotate --kind",
                         fix=f"use one of: {', '.join(REWARD_KINDS)}")
    options = {k: v for k, v in options.items() if v is not None}
    return REWARD_KINDS[kind](model, **options)


# ---------------------------------------------------------------------------------------------- annotate
def check_rows(rows: list[dict], label: str) -> None:
    fix = "the rows come from post_process.py ({\"prompt\", \"all_generated_responses\": [...]}, no empty " \
          "response): run it on the decode folder"
    for i, row in enumerate(rows, 1):
        where = f"{label}:row {i}"
        field(row, "prompt", str, where, fix)
        string_list(row, "all_generated_responses", where, fix)


def annotate_rows(rows: list[dict], scorer: Scorer, *, label: str = "annotate", chunk: int = 256,
                  progress: bool = True, out: str | Path | None = None) -> list[dict]:
    """Rows with `all_rm_scores` (one per response), scored `chunk` prompts at a time.

    With `out`, the scored rows are also appended to `<out>.partial` chunk by chunk and the file is renamed to
    `out` at the end; a rerun after an interruption keeps the complete chunks of the partial file (same prompts
    in the same order) and scores the rest.
    """
    check_rows(rows, label)
    done: list[dict] = []
    partial = None
    if out is not None:
        partial = Path(out).with_name(Path(out).name + ".partial")
        partial.parent.mkdir(parents=True, exist_ok=True)
        done = _resume(partial, rows, chunk)
        if done:
            logger.info("annotate: resuming after %d of %d prompts (%s)", len(done), len(rows), partial)
    bar = None
    if progress:
        bar = tqdm(total=len(rows), initial=len(done), desc=f"scoring ({scorer.kind})", unit="prompt")
    result = list(done)
    try:
        for lo in range(len(done), len(rows), chunk):
            part = rows[lo : lo + chunk]
            scores = scorer.score_groups([r["prompt"] for r in part], [r["all_generated_responses"] for r in part])
            scored = []
            for k, (r, s) in enumerate(zip(part, scores, strict=True)):
                s = [float(x) for x in s]
                if len(s) != len(r["all_generated_responses"]) or not all(math.isfinite(x) for x in s):
                    raise InputError(f"the reward model gave {s!r} for {len(r['all_generated_responses'])} responses",
                                     where=f"{label}:row {lo + k + 1}",
                                     fix="check the reward model (NaN or inf scores) and its --kind")
                scored.append({**r, "all_rm_scores": s})
            if partial is not None:
                with open(partial, "a", encoding="utf-8") as f:
                    f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in scored)
                    f.flush()
                    os.fsync(f.fileno())
            result.extend(scored)
            if bar is not None:
                bar.update(len(part))
    finally:
        if bar is not None:
            bar.close()
    if partial is not None:
        os.replace(partial, out)
    return result


def _resume(partial: Path, rows: list[dict], chunk: int) -> list[dict]:
    """The complete chunks of an earlier, interrupted run (the file is cut back to them)."""
    if not partial.is_file():
        return []
    old = read_complete_lines(partial)
    keep = len(rows) if len(old) >= len(rows) else len(old) // chunk * chunk
    for i in range(keep):
        if old[i].get("prompt") != rows[i]["prompt"] or not isinstance(old[i].get("all_rm_scores"), list):
            raise InputError(f"row {i + 1} does not belong to row {i + 1} of the input", where=str(partial),
                             fix="it is left from another input: delete it to score from the start")
    with open(partial, "w", encoding="utf-8") as f:
        f.writelines(json.dumps(r, ensure_ascii=False) + "\n" for r in old[:keep])
    return old[:keep]
