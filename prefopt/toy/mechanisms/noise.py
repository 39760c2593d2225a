"""Label noise: swap chosen and rejected in a fixed fraction of preference pairs.

    noisy, flipped = flip_pairs(rows, rate=0.2, seed=0)   # exactly round(0.2 * len(rows)) pairs swapped

Which pairs flip depends only on (seed, rate, number of rows), so DPO, DPO + SamS and DPO on a random half see the
same noisy data. `is_flipped` recognises a flipped pair by its content (a quality judge scores its chosen answer
below its rejected one), which is how a run's selections are attributed to flipped pairs without row ids.
"""

from __future__ import annotations

import random

from prefopt.core.errors import InputError


def flip_pairs(rows: list[dict], rate: float, seed: int) -> tuple[list[dict], list[int]]:
    """(rows with round(rate * n) pairs swapped, sorted indices of the swapped rows). Input rows are not modified."""
    if not 0.0 <= rate < 0.5:
        raise InputError(f"flip rate must be in [0, 0.5), got {rate}", fix="at 0.5 or more the labels carry no signal")
    n_flip = round(rate * len(rows))
    flipped = sorted(random.Random(f"flip-{seed}-{rate}-{len(rows)}").sample(range(len(rows)), n_flip))
    out = [dict(r) for r in rows]
    for i in flipped:
        out[i]["chosen"], out[i]["rejected"] = rows[i]["rejected"], rows[i]["chosen"]
    return out, flipped


def is_flipped(judge, prompt, chosen, rejected) -> bool:
    """True when the judge scores the chosen answer strictly below the rejected one."""
    return judge(prompt, chosen) < judge(prompt, rejected)
