"""One benchmark result file: results/reproduced/<run>/<benchmark>.json (format: results/README.md).

The manifest records what produced the numbers: the evaluated model, the judge, the decoding settings, the
template, a hash of every data file read, versions and the git sha (prefopt.core.manifest), and whether a
rehearsal produced them or the model (prefopt.core.rehearsal), which `make verify` never compares with a paper.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from prefopt.core.manifest import build_manifest, write_json
from prefopt.core.paths import REPO_ROOT

REPRODUCED = REPO_ROOT / "results" / "reproduced"


def run_name(model: str) -> str:
    """Folder name under results/reproduced/ for a model: its path below outputs/, or its hub id with '--'."""
    p = Path(model)
    if p.exists():
        outputs = REPO_ROOT / "outputs"
        resolved = p.resolve()
        parts = resolved.relative_to(outputs).parts if outputs in resolved.parents else (p.name,)
        return "--".join(parts)
    return model.replace("/", "--").replace(":", "-")


def result_path(benchmark: str, model: str, out_dir: str | None = None, name: str | None = None) -> Path:
    """OUT/<benchmark>.json when make passes OUT, else results/reproduced/<run>/<benchmark>.json."""
    folder = Path(out_dir) if out_dir else REPRODUCED / (name or run_name(model))
    return folder / f"{benchmark}.json"


def file_hash(*paths: str | Path) -> str:
    """sha256 over the bytes of the data files (in the order given), first 16 hex digits."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).read_bytes())
    return h.hexdigest()[:16]


def source_files(source: str | Path) -> list[Path]:
    """The files a data source consists of, for `data_files`: the file, every file under a folder, none for a hub id."""
    path = Path(source)
    if path.is_file():
        return [path]
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else []


def write_result(path: str | Path, *, benchmark: str, cell: str | None, metrics: dict, model: str,
                 judge: str | None, generation: dict | None, template: str | None, data_files: list,
                 details: dict | None = None, **manifest_extra) -> dict:
    payload = {
        "cell": cell,
        "benchmark": benchmark,
        "metrics": metrics,
        "manifest": build_manifest(
            benchmark, model=str(model), judge=judge, generation=generation, template=template,
            data={str(p): file_hash(p) for p in data_files}, **manifest_extra,
        ),
    }
    if details:
        payload["details"] = details
    write_json(path, payload)
    return payload
