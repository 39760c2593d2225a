"""Benchmark answers from a policy: the one generator (prefopt.modeling.generate), resumable, multi-turn.

    questions = [Question(id="81", turns=["Write ...", "Rewrite ..."], category="writing"), ...]
    answers = generate_answers(model, tok, questions, settings, path="out/answers.jsonl")
    # {"81": ["answer to turn 1", "answer to turn 2"], ...}

Each finished question is appended to `path` as one JSON line, flushed, so a killed run resumes where it
stopped (questions already in the file are not generated again; the file records the settings it was made
with, and a rerun with other settings is an error rather than a silent mix). Turn k of a multi-turn question
is generated after the model's own answer to turn k-1 is in the conversation, as FastChat does.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm.auto import tqdm

from prefopt.config import ModelArguments
from prefopt.core.errors import InputError
from prefopt.modeling.generate import generate
from prefopt.modeling.loading import load_model, load_tokenizer

from .settings import GenerationSettings
from .templates import apply_template


@dataclass(frozen=True)
class Question:
    id: str
    turns: list[str]
    category: str | None = None
    system: str | None = None
    extra: dict = field(default_factory=dict)


def load_policy(name: str, template: str | None = None, dtype: str = "auto", device: str = "auto",
                trust_remote_code: bool = False):
    """(model, tokenizer) of a policy that answers: a hub id, a local folder, or tiny:<size>/<task>.

    `template` as apply_template takes it; `device` "auto" is the GPU when there is one (prefopt.modeling.generate runs
    where the model is)."""

    name = str(name)
    args = ModelArguments(model_name_or_path=name, torch_dtype=dtype, trust_remote_code=trust_remote_code)
    tokenizer = load_tokenizer(args, require_chat_template=False)
    apply_template(tokenizer, template)
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    model = load_model(name, args).to(device)
    model.eval()
    return model, tokenizer


def _read_done(path: Path, settings: dict) -> dict[str, list[str]]:
    if not path.exists():
        return {}
    done: dict[str, list[str]] = {}
    with path.open(encoding="utf-8") as f:
        for i, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                # The last line of a killed run may be cut short: regenerate that question.
                continue
            if rec.get("settings") != settings:
                raise InputError(
                    f"{path} line {i} was generated with other settings ({rec.get('settings')})",
                    where=str(path), fix="delete the file (or choose another OUT) to regenerate with these settings",
                )
            done[str(rec["id"])] = rec["answers"]
    return done


def generate_answers(model, tokenizer, questions: list[Question], settings: GenerationSettings,
                     path: str | Path | None = None, batch_size: int = 16, chunk: int = 64,
                     progress: bool = True) -> dict[str, list[str]]:
    """Answers to every turn of every question, keyed by question id (resuming from `path`)."""
    if settings.num_return_sequences != 1:
        raise InputError(f"num_return_sequences={settings.num_return_sequences}: these benchmarks judge one answer "
                         "per question", where="GENERATION",
                         fix="drop num_return_sequences (only make eval-rm-score scores several answers per query)")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise InputError("question ids are not unique", where="generate_answers", fix="give every question an id")
    record = json.loads(json.dumps(settings.as_dict()))  # as read back (tuples become lists)
    path = Path(path) if path else None
    done = _read_done(path, record) if path else {}
    todo = [q for q in questions if q.id not in done]
    bar = None
    if progress and todo:
        bar = tqdm(total=len(questions), initial=len(questions) - len(todo), desc="answers", unit="question")
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
    out = path.open("a", encoding="utf-8") if path else None
    try:
        for start in range(0, len(todo), chunk):
            part = todo[start : start + chunk]
            answers = _answer_chunk(generate, model, tokenizer, part, settings, batch_size, seed_offset=start)
            for q, a in zip(part, answers, strict=True):
                done[q.id] = a
                if out:
                    out.write(json.dumps({"id": q.id, "answers": a, "settings": record}, ensure_ascii=False) + "\n")
            if out:
                out.flush()
            if bar is not None:
                bar.update(len(part))
    finally:
        if out:
            out.close()
        if bar is not None:
            bar.close()
    return {q.id: done[q.id] for q in questions}


def _answer_chunk(generate, model, tokenizer, part: list[Question], settings, batch_size, seed_offset):
    """All turns of a chunk of questions; questions with different settings (per category) go in groups."""
    convs = [([{"role": "system", "content": q.system}] if q.system else []) for q in part]
    answers: list[list[str]] = [[] for _ in part]
    for turn in range(max(len(q.turns) for q in part)):
        groups: dict[GenerationSettings, list[int]] = {}
        for i, q in enumerate(part):
            if turn < len(q.turns):
                convs[i].append({"role": "user", "content": q.turns[turn]})
                groups.setdefault(settings.for_category(q.category), []).append(i)
        for s, idx in groups.items():
            kw = s.generate_kwargs()
            kw["seed"] = s.seed + seed_offset + turn
            texts = generate(model, tokenizer, [convs[i] for i in idx], batch_size=batch_size, **kw)
            for i, t in zip(idx, texts, strict=True):
                answers[i].append(t[0])
                convs[i].append({"role": "assistant", "content": t[0]})
    return answers
