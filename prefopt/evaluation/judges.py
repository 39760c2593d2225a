"""LLM judges of the benchmarks, behind one small interface, and resumable judging.

    judge = make_judge("gpt-4-1106-preview")        # OpenAI API (OPENAI_API_KEY), or OPENAI_BASE_URL's server
    judge = make_judge("openai:Qwen2-72B@http://localhost:8000/v1")   # any OpenAI-compatible endpoint (vLLM)
    judge = make_judge("hf:path/to/model")          # a local HF model through prefopt.modeling.generate (greedy)
    judge = make_judge("rule:length")               # deterministic plumbing judge for offline tests
    judge.check()                                   # InputError before any work when it cannot run
    texts = judge_all(judge, {key: JudgeRequest(system, user, fields)}, path="judgments.jsonl")

A request carries the rendered judge prompt (system + user, what an LLM judge reads) and its structured
fields (question, answers, reference, the expected verdict format), which only the rule judge reads.
The rule judge prefers the longer answer and rates by length: it checks the plumbing (prompts, parsing,
scoring, files) end to end without an API; it says nothing about quality.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from tqdm.auto import tqdm

from prefopt.core.errors import InputError
from prefopt.modeling.generate import generate
from prefopt.modeling.loading import check_local, resolve

from .answers import load_policy


@dataclass(frozen=True)
class JudgeRequest:
    system: str
    user: str
    fields: dict = field(default_factory=dict)  # kind: "pairwise" | "single"; answer_a/answer_b or answer
    # Messages after the user prompt: an earlier reply and a follow-up (Arena-Hard's second judgment attempt).
    followup: tuple = ()


class OpenAIJudge:
    """Chat completions of an OpenAI-compatible API: api.openai.com, or a vLLM server at `base_url`."""

    def __init__(self, model: str, base_url: str | None = None, temperature: float = 0.0, max_tokens: int = 4096,
                 parallel: int = 8, retries: int = 3):
        self.model, self.base_url = model, base_url or os.environ.get("OPENAI_BASE_URL")
        self.temperature, self.max_tokens, self.parallel, self.retries = temperature, max_tokens, parallel, retries
        self.name = model if not self.base_url else f"{model}@{self.base_url}"

    def check(self) -> None:
        try:
            import openai  # noqa: F401, PLC0415
        except ImportError:
            raise InputError("the judge needs the openai package", fix="pip install -r requirements/eval.txt") from None
        if not os.environ.get("OPENAI_API_KEY") and not self.base_url:
            raise InputError(
                f"judge {self.model!r} is an API model and OPENAI_API_KEY is not set",
                where="JUDGE", fix="export OPENAI_API_KEY=... ; or serve a judge with vLLM and pass "
                "JUDGE=openai:<model>@http://host:port/v1 ; or JUDGE=hf:<local model>")

    def _client(self):
        import openai  # noqa: PLC0415

        return openai.OpenAI(api_key=os.environ.get("OPENAI_API_KEY", "EMPTY"), base_url=self.base_url)

    def _one(self, client, req: JudgeRequest) -> str:
        messages = ([{"role": "system", "content": req.system}] if req.system else []) + \
            [{"role": "user", "content": req.user}] + list(req.followup)
        for attempt in range(self.retries):
            try:
                r = client.chat.completions.create(model=self.model, messages=messages,
                                                   temperature=self.temperature, max_tokens=self.max_tokens)
                return r.choices[0].message.content or ""
            except Exception:  # noqa: BLE001 (API errors are many types; retried, then raised)
                if attempt == self.retries - 1:
                    raise
                time.sleep(2**attempt)
        return ""

    def complete(self, requests: list[JudgeRequest]) -> list[str]:
        client = self._client()
        with ThreadPoolExecutor(self.parallel) as pool:
            return list(pool.map(lambda r: self._one(client, r), requests))


class HFJudge:
    """A local causal LM (hub id, folder or tiny:...) answering the judge prompt greedily with its chat template."""

    def __init__(self, model: str, max_tokens: int = 1024, batch_size: int = 8):
        self.model_name, self.max_tokens, self.batch_size = model, max_tokens, batch_size
        self.name = f"hf:{model}"
        self._loaded = None

    def check(self) -> None:
        check_local(resolve(self.model_name), "JUDGE")

    def complete(self, requests: list[JudgeRequest]) -> list[str]:

        if self._loaded is None:
            self._loaded = load_policy(self.model_name)
        model, tok = self._loaded
        convs = [([{"role": "system", "content": r.system}] if r.system else []) + [{"role": "user", "content": r.user}]
                 + list(r.followup) for r in requests]
        return [t[0] for t in generate(model, tok, convs, max_new_tokens=self.max_tokens, batch_size=self.batch_size)]


class RuleJudge:
    """Deterministic judge for offline tests: pairwise, the longer answer wins (>> beyond 1.5x, > beyond 1.1x,
    else a tie); single, rating = 1 + words // 5, at most 10. Writes the verdict in the benchmarks' formats."""

    name = "rule:length"

    def check(self) -> None:
        return None

    @staticmethod
    def _verdict(a: str, b: str) -> str:
        la, lb = len(a) + 1, len(b) + 1
        if la > 1.5 * lb:
            return "A>>B"
        if la > 1.1 * lb:
            return "A>B"
        if lb > 1.5 * la:
            return "B>>A"
        if lb > 1.1 * la:
            return "B>A"
        return "A=B"

    def complete(self, requests: list[JudgeRequest]) -> list[str]:
        out = []
        for r in requests:
            f = r.fields
            if f.get("kind") == "pairwise":
                out.append(f"Both answers were read. My final verdict is: [[{self._verdict(f['answer_a'], f['answer_b'])}]]")
            elif f.get("kind") == "single":
                out.append(f"The answer was read. Rating: [[{min(10, 1 + len(f['answer'].split()) // 5)}]]")
            else:
                raise InputError(f"the rule judge cannot judge a request of kind {f.get('kind')!r}", where="JUDGE")
        return out


def make_judge(spec: str, *, max_tokens: int = 4096, temperature: float = 0.0):
    """`rule:length`, `hf:<model>`, `openai:<model>[@<base url>]`, or a bare API model name."""
    if spec == "rule:length":
        return RuleJudge()
    if spec.startswith("hf:"):
        return HFJudge(spec[3:], max_tokens=max_tokens)
    if spec.startswith("rule:"):
        raise InputError(f"unknown rule judge {spec!r}", where="JUDGE", fix="the rule judge is rule:length")
    name = spec.removeprefix("openai:")
    model, _, url = name.partition("@")
    if not model:
        raise InputError(f"JUDGE={spec!r} names no model", where="JUDGE", fix="e.g. JUDGE=gpt-4-1106-preview")
    return OpenAIJudge(model, base_url=url or None, temperature=temperature, max_tokens=max_tokens)


def judge_all(judge, requests: dict[str, JudgeRequest], path: str | Path | None = None,
              chunk: int = 32, progress: bool = True) -> dict[str, str]:
    """Judge every request (keyed), appending each judgment to `path` as it lands; a rerun skips finished keys."""
    path = Path(path) if path else None
    done: dict[str, str] = {}
    if path and path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill: judged again
            if rec.get("judge") == judge.name:
                done[rec["key"]] = rec["judgment"]
    todo = [k for k in requests if k not in done]
    bar = None
    if progress and todo:
        bar = tqdm(total=len(requests), initial=len(requests) - len(todo), desc=f"judge {judge.name}", unit="call")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
    try:
        for start in range(0, len(todo), chunk):
            keys = todo[start : start + chunk]
            texts = judge.complete([requests[k] for k in keys])
            lines = []
            for k, t in zip(keys, texts, strict=True):
                done[k] = t
                lines.append(json.dumps({"key": k, "judge": judge.name, "judgment": t}, ensure_ascii=False))
            if path:
                with path.open("a", encoding="utf-8") as f:
                    f.write("\n".join(lines) + "\n")
            if bar is not None:
                bar.update(len(keys))
    finally:
        if bar is not None:
            bar.close()
    return {k: done[k] for k in requests}
