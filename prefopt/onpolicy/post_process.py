"""Step 2: the seed files -> one row per prompt with every seed's response (SimPO's post_process.py).

Input: the complete `output_<seed>.jsonl` files of a decode folder (an unfinished seed is an error: rerun
decode, it resumes). Every file must hold the same prompts in the same order (decode sorts them); a file made
from another prompt list is an error naming the file and the first row that differs.

Output rows {"prompt", "all_generated_responses", "seeds"} (seeds[k] sampled response k). Dropped, and counted:
empty responses (the model stopped at once: no response tokens, invalid for every loss), prompts left with
fewer than two responses, and prompts whose responses are all identical (SimPO's filter: no preference to
learn).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from prefopt.core.errors import InputError

from .common import field, read_rows

_SEED_FILE = re.compile(r"^output_(-?\d+)\.jsonl$")


def read_generations(folder: str | Path, seeds=None) -> tuple[list[str], dict[int, list[str]], dict[int, dict]]:
    """(prompts, {seed: responses}, {seed: decode meta}) of the seed files in `folder` (all, or `seeds`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError("no such folder", where=str(folder), fix="pass the --out folder of decode.py")
    found = {int(m.group(1)): p for p in sorted(folder.iterdir()) if (m := _SEED_FILE.match(p.name))}
    unfinished = sorted(int(p.name[len("output_"):-len(".jsonl.partial")]) for p in folder.glob("output_*.jsonl.partial"))
    wanted = list(seeds) if seeds else sorted(found)
    missing = [s for s in wanted if s not in found]
    if missing or (not seeds and unfinished):
        what = [f"seed(s) {missing} have no output file" if missing else "",
                f"seed(s) {unfinished} are unfinished (.partial)" if unfinished else ""]
        raise InputError("; ".join(w for w in what if w), where=str(folder),
                         fix="run decode.py again with the same settings (it resumes unfinished seeds), or pass "
                         "--seeds with the finished ones")
    if not wanted:
        raise InputError("no output_<seed>.jsonl files", where=str(folder), fix="run decode.py first")
    prompts: list[str] | None = None
    first = None
    per_seed: dict[int, list[str]] = {}
    metas: dict[int, dict] = {}
    for seed in wanted:
        path = found[seed]
        rows = read_rows(path, "post_process")
        fix = "the rows of a decode file are {\"prompt\": ..., \"generated_text\": ...}: run decode.py again"
        ps, texts = [], []
        for i, row in enumerate(rows, 1):
            where = f"{path}:row {i}"
            ps.append(field(row, "prompt", str, where, fix))
            texts.append(field(row, "generated_text", str, where, fix))
        if prompts is None:
            prompts, first = ps, path
        elif ps != prompts:
            k = next((i for i, (a, b) in enumerate(zip(ps, prompts)) if a != b), min(len(ps), len(prompts)))
            what = (f"{len(ps)} prompts, but {first.name} has {len(prompts)}" if k == min(len(ps), len(prompts))
                    else f"row {k + 1} has another prompt than row {k + 1} of {first.name}")
            raise InputError(f"a different prompt list: {what}", where=f"{path}" + (f":row {k + 1}" if k < len(ps) else ""),
                             fix="decode every seed with the same --data/--splits/--limit (decode sorts the prompts); "
                             "delete the odd file and run decode.py again for its seed")
        per_seed[seed] = texts
        meta = path.with_name(f"output_{seed}.meta.json")
        if meta.is_file():
            metas[seed] = json.loads(meta.read_text(encoding="utf-8"))
    return prompts or [], per_seed, metas


def merge_generations(prompts: list[str], per_seed: dict[int, list[str]]) -> tuple[list[dict], dict]:
    """One row per prompt with its non-empty responses; drops prompts without a usable difference (counted)."""
    seeds = list(per_seed)
    rows, n_identical, n_too_few, n_empty = [], 0, 0, 0
    for i, prompt in enumerate(prompts):
        responses, from_seeds = [], []
        for s in seeds:
            text = per_seed[s][i]
            if text.strip():
                responses.append(text)
                from_seeds.append(s)
            else:
                n_empty += 1
        if len(responses) < 2:
            n_too_few += 1
        elif len(set(responses)) == 1:
            n_identical += 1
        else:
            rows.append({"prompt": prompt, "all_generated_responses": responses, "seeds": from_seeds})
    stats = {"n_prompts": len(prompts), "n_seeds": len(seeds), "seeds": seeds, "n_kept": len(rows),
             "n_all_identical": n_identical, "n_too_few_responses": n_too_few, "n_empty_responses": n_empty}
    return rows, stats
