"""AlpacaEval 2: answers to the 805 instructions, alpaca-eval's judge, our win-rate figures.

    run_alpaca(model="outputs/llama3-instruct/simpo", template="llama3",
               generation="do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009")

Steps, each resumable from OUT/alpacaeval2/:
1. the judge is checked first: an API judge without a key stops here, before any generation;
2. answers (prefopt.evaluation.answers) -> model_outputs.json in alpaca-eval's format;
3. annotation by alpaca-eval's own PairwiseAnnotator (pinned 0.6.2, the SimPO README's version), reference =
   gpt4_1106_preview's outputs; its annotation cache lives in OUT, so a rerun pays only for what is missing;
4. metrics: `winrate_metrics` (ours, equal to alpaca-eval's get_winrate on the same annotations:
   tests/test_eval_alpaca.py) and the length-controlled win rate from alpaca-eval's own GLM, which needs its
   `df_gamed.csv` from the hub (cached after one online run); offline it is left out and the reason recorded.

Judges (JUDGE=...):
- an alpaca-eval annotator config, default `weighted_alpaca_eval_gpt4_turbo` (the papers'): needs OPENAI_API_KEY;
- `openai:<model>@<url>`: the same annotator (prompt, logprob parser) on an OpenAI-compatible server (vLLM);
- `hf:<model>`: the same prompt and parser on a local HF model: the preference is P(m) / (P(m) + P(M)) of its
  next token, read from its logits (`hf_logprob_completions`), which is what the API judge returns as logprobs.
"""

from __future__ import annotations

import contextlib
import importlib.metadata as md
import json
import math
import os
import time
from pathlib import Path

import pandas as pd
import torch
import yaml

from prefopt.core.errors import InputError
from prefopt.data.files import read_file

from .answers import Question, generate_answers, load_policy
from .judges import HFJudge
from .machine import check_model_fits
from .report import write_result
from .settings import parse_generation

DEFAULT_JUDGE = "weighted_alpaca_eval_gpt4_turbo"
BENCHMARK = "alpacaeval2"
HF_DECODER = "prefopt_hf_logprob_completions"


def _need_alpaca_eval():
    try:
        import alpaca_eval  # noqa: F401, PLC0415
        import alpaca_eval.main  # noqa: F401, PLC0415
    except ImportError as e:
        raise InputError(f"AlpacaEval needs the alpaca-eval package ({e})",
                         fix="pip install -r requirements/eval.txt (alpaca-eval==0.6.2, pandas<3, setuptools<81)") from None
    return Path(alpaca_eval.__file__).parent


# --- data ----------------------------------------------------------------------------------------------------

def load_reference(path: str | Path) -> list[dict]:
    """The 805 instructions with the baseline's outputs: [{instruction, output, generator, dataset}, ...]."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"reference outputs {path} not found", where="REFERENCE",
                         fix="point REFERENCE at gpt4_1106_preview's model_outputs.json (alpaca_eval repository, "
                         "results/gpt4_1106_preview/), e.g. ../shared/data/alpaca_eval/gpt4_1106_preview_model_outputs.json")

    rows = read_file(path)
    for i, r in enumerate(rows):
        for key in ("instruction", "output"):
            if not isinstance(r.get(key), str):
                raise InputError(f"row {i} has no string {key!r}", where=str(path),
                                 fix="each record needs instruction, output (and generator, dataset)")
    return rows


# --- metrics -------------------------------------------------------------------------------------------------

def winrate_metrics(preferences) -> dict:
    """AlpacaEval's head-to-head figures from per-instruction preferences.

    A preference p lies in [1, 2]: 1 = the reference's output is better, 2 = the model's, 1.5 (or 0) a draw; a
    weighted judge gives anything in between. NaN / None (the judge gave nothing parseable) is left out.
        win_rate           = 100 * mean(p - 1)
        standard_error     = 100 * std(p - 1, ddof=1) / sqrt(n)
        discrete_win_rate  = 100 * mean(1 if p > 1.5, 0.5 if p == 1.5, 0 if p < 1.5)   (p rounded to 1, 1.5, 2)
        n_wins, n_wins_base, n_draws: counts of p > 1.5, p < 1.5, p == 1.5 (over the same rows)
    """
    vals = []
    n_missing = 0
    for p in preferences:
        if p is None or (isinstance(p, float) and math.isnan(p)):
            n_missing += 1
            continue
        p = 1.5 if p == 0 else float(p)
        if not 1.0 <= p <= 2.0:
            raise InputError(f"preference {p} is outside [1, 2]", where="annotations", fix="re-annotate")
        vals.append(p - 1.0)
    n = len(vals)
    if n == 0:
        raise InputError("no annotation could be parsed: there is no win rate", where="annotations",
                         fix="check the judge's outputs in OUT/alpacaeval2/annotations.json")
    mean = sum(vals) / n
    sem = math.sqrt(sum((v - mean) ** 2 for v in vals) / (n - 1) / n) if n > 1 else float("nan")
    discrete = [0.5 if v == 0.5 else float(round(v + 1) == 2) for v in vals]
    return {
        "win_rate": 100 * mean,
        "standard_error": 100 * sem,
        "discrete_win_rate": 100 * sum(discrete) / n,
        "n_wins": sum(v > 0.5 for v in vals),
        "n_wins_base": sum(v < 0.5 for v in vals),
        "n_draws": sum(v == 0.5 for v in vals),
        "n_total": n,
        "n_missing": n_missing,
    }


def length_controlled(annotations) -> tuple[float | None, str | None]:
    """alpaca-eval's length-controlled win rate (its GLM, length_controlled_v1) or (None, why not).

    The GLM is regularised towards two 'gamed' baselines and uses per-instruction difficulties, both read from
    tatsu-lab/alpaca_eval's df_gamed.csv on the hub: we call alpaca-eval's own function rather than re-deriving
    it, so the number is the leaderboard's by construction.
    """
    from alpaca_eval.metrics.glm_winrate import get_length_controlled_winrate  # noqa: PLC0415

    try:
        out = get_length_controlled_winrate(annotations, save_weights_dir=None, is_add_glm_preference_inplace=False)
    except Exception as e:  # noqa: BLE001 (offline: huggingface_hub raises one of several error types)
        return None, f"length-controlled win rate unavailable: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return float(out["length_controlled_winrate"]), None


# --- judges --------------------------------------------------------------------------------------------------

def annotator_config(judge: str, work: Path) -> tuple[str, str]:
    """(annotators_config for alpaca-eval, judge name for the manifest); API judges are checked for a key."""
    pkg = _need_alpaca_eval()
    configs = pkg / "evaluators_configs"
    if judge.startswith(("hf:", "openai:")):
        base = yaml.safe_load((configs / DEFAULT_JUDGE / "configs.yaml").read_text())[DEFAULT_JUDGE]
        base["prompt_template"] = str(configs / base["prompt_template"])
        if judge.startswith("hf:"):
            HFJudge(judge[3:]).check()  # the same check as the other benchmarks' local judge
            base["fn_completions"] = HF_DECODER
            base["completions_kwargs"] = {"model_name": judge[3:]}
        else:
            model, _, url = judge[len("openai:"):].partition("@")
            if not url and not os.environ.get("OPENAI_API_KEY"):
                raise InputError(f"JUDGE={judge} names no server and OPENAI_API_KEY is not set", where="JUDGE",
                                 fix="JUDGE=openai:<model>@http://host:port/v1 for a vLLM server")
            if url:
                os.environ["OPENAI_BASE_URL"] = url  # read by the openai client alpaca-eval builds
                os.environ.setdefault("OPENAI_API_KEY", "EMPTY")
            base["completions_kwargs"]["model_name"] = model
        folder = work / "judge" / judge.replace("/", "--").replace(":", "-").replace("@", "-")
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "configs.yaml").write_text(yaml.safe_dump({"prefopt_judge": base}), encoding="utf-8")
        return str(folder.resolve() / "configs.yaml"), judge
    if not (configs / judge).is_dir():
        raise InputError(f"unknown AlpacaEval judge {judge!r}", where="JUDGE",
                         fix=f"an annotator of alpaca_eval/evaluators_configs (default {DEFAULT_JUDGE}), "
                         "openai:<model>@<url>, or hf:<model>")
    text = (configs / judge / "configs.yaml").read_text()
    if "openai_completions" in text and not (os.environ.get("OPENAI_API_KEY") or os.environ.get("OPENAI_BASE_URL")):
        raise InputError(f"judge {judge} calls the OpenAI API and OPENAI_API_KEY is not set; nothing was generated",
                         where="JUDGE", fix="export OPENAI_API_KEY=... ; or JUDGE=openai:<model>@<vLLM url> ; "
                         "or JUDGE=hf:<local model>")
    return judge, judge


_HF_JUDGES: dict[str, tuple] = {}


def hf_logprob_completions(prompts, model_name: str, **_ignored) -> dict:
    """alpaca-eval decoder: a local HF model's next-token log-probs of "m" and "M" after the judge prompt.

    Returns what alpaca-eval's openai decoder returns with logprobs=True, top_logprobs, max_tokens=1, so the same
    `logprob_parser` turns it into a preference. The prompt's ChatML turns go through the judge's chat template.
    """
    from alpaca_eval.utils import prompt_to_chatml  # noqa: PLC0415


    if model_name not in _HF_JUDGES:
        _HF_JUDGES[model_name] = load_policy(model_name)
    model, tok = _HF_JUDGES[model_name]
    ids = {t: tok(t, add_special_tokens=False)["input_ids"][0] for t in ("m", "M")}
    completions_all, start = [], time.time()
    for prompt in prompts:
        text = tok.apply_chat_template(prompt_to_chatml(prompt), add_generation_prompt=True, tokenize=False)
        enc = tok(text, add_special_tokens=False, return_tensors="pt").to(model.device)
        with torch.no_grad():
            logp = torch.log_softmax(model(**enc).logits[0, -1].float(), dim=-1)
        top = [{"token": t, "logprob": float(logp[i])} for t, i in ids.items()]
        best = max(top, key=lambda x: x["logprob"])
        completions_all.append({"text": best["token"], "total_tokens": int(enc["input_ids"].shape[1]),
                                "logprobs": {"content": [{**best, "top_logprobs": top}]}})
    n = max(len(prompts), 1)
    return {"completions": [c["text"] for c in completions_all], "completions_all": completions_all,
            "price_per_example": [0.0] * len(prompts), "time_per_example": [(time.time() - start) / n] * len(prompts)}


@contextlib.contextmanager
def _with_hf_decoder():
    """alpaca-eval finds decoders by name in a fixed list; resolve our local decoder's name for this call only."""
    from alpaca_eval.annotators import base  # noqa: PLC0415

    original = base.get_fn_completions
    base.get_fn_completions = lambda name: hf_logprob_completions if name == HF_DECODER else original(name)
    try:
        yield
    finally:
        base.get_fn_completions = original


def annotate(model_outputs: list[dict], reference: list[dict], config: str, work: Path):
    """alpaca-eval's pairwise annotation (reference = output_1, model = output_2); cached in `work`."""
    from alpaca_eval.main import evaluate  # noqa: PLC0415

    with _with_hf_decoder():
        _, annotations = evaluate(
            model_outputs=pd.DataFrame(model_outputs), reference_outputs=pd.DataFrame(reference),
            annotators_config=config, output_path=str(work), is_return_instead_of_print=True,
            fn_metric="get_winrate", precomputed_leaderboard=None, is_cache_leaderboard=False,
            sort_by="win_rate", caching_path=str(work / "annotations_cache.json"),
        )
    return pd.DataFrame(annotations)


# --- the run -------------------------------------------------------------------------------------------------

def run_alpaca(*, model: str, out: Path, reference: str | Path, judge: str = DEFAULT_JUDGE, template: str | None = None,
               generation: str | None = None, cell: str | None = None, limit: int | None = None,
               batch_size: int = 16, name: str | None = None, allow_large: bool = False) -> dict:
    work = out.parent / BENCHMARK
    work.mkdir(parents=True, exist_ok=True)
    config, judge_name = annotator_config(judge, work)  # fails fast, before any generation
    check_model_fits(model, allow_large)
    settings = parse_generation(generation)
    ref = load_reference(reference)[: limit or None]
    policy, tok = load_policy(model, template)
    questions = [Question(id=str(i), turns=[r["instruction"]]) for i, r in enumerate(ref)]
    answers = generate_answers(policy, tok, questions, settings, path=work / "answers.jsonl", batch_size=batch_size)
    generator = name or Path(str(model)).name
    outputs = [{"instruction": r["instruction"], "output": answers[q.id][0], "generator": generator,
                "dataset": r.get("dataset")} for r, q in zip(ref, questions, strict=True)]
    (work / "model_outputs.json").write_text(json.dumps(outputs, indent=1, ensure_ascii=False), encoding="utf-8")
    annotations = annotate(outputs, ref, config, work)
    figures = winrate_metrics(annotations["preference"].tolist())
    lc, lc_note = length_controlled(annotations)
    metrics = {"win_rate": figures["win_rate"], "win_rate_se": figures["standard_error"],
               "length": sum(len(o["output"]) for o in outputs) / len(outputs)}
    if lc is not None:
        metrics["lc_win_rate"] = lc
    details = {**figures, "lc_note": lc_note, "n_instructions": len(ref), "generator": generator}
    return write_result(out, benchmark=BENCHMARK, cell=cell, metrics=metrics, model=model, judge=judge_name,
                        generation=settings.as_dict(), template=template, data_files=[reference], details=details,
                        alpaca_eval_version=_version("alpaca-eval"))


def _version(pkg: str) -> str | None:
    try:
        return md.version(pkg)
    except md.PackageNotFoundError:
        return None
