"""Reading rows from a local file, a local folder or the Hugging Face hub.

Every problem with the input raises `InputError` naming the file and the line (or row) and saying how to
fix it. Row numbers in messages are 1-based: row N is the N-th record of the file (for a .jsonl file
without blank lines, its line number).
"""

from __future__ import annotations

import codecs
import gzip
import json
import re
import zlib
from pathlib import Path

import datasets
import pyarrow.parquet as pq

from prefopt.core.errors import InputError

from .mirror import resolve_hub_id, resolve_local_copy

SUFFIXES = (".jsonl.gz", ".json.gz", ".jsonl", ".json", ".parquet")
SUPPORTED = ".jsonl, .jsonl.gz, .json, .json.gz, .parquet, a folder saved by datasets.save_to_disk, or a hub id"
_SHARD = re.compile(r"-\d+-of-\d+$")


def load_rows(source: str, split: str = "train") -> list[dict]:
    """Rows (dicts) of `source`: a local file, a local folder, or else a hub dataset id."""
    return read_source(source, split)[0]


def read_source(source: str, split: str = "train") -> tuple[list[dict], str]:
    """(rows, label): the label names where the rows came from, for messages ("path/train.jsonl")."""
    source = resolve_local_copy(str(source))  # a rehearsal reads the mirror's copy of a local file it mirrors
    path = Path(source).expanduser()
    if path.is_file():
        rows, label = read_file(path, split), source
    elif path.is_dir():
        rows, label = _read_folder(path, split)
    elif _looks_local(source):
        raise InputError(
            "no such file or folder", where=source,
            fix="check the path (a hub dataset id looks like org/name and has no file suffix)",
        )
    else:
        rows, label = _read_hub(source, split), f"{source}[{split}]"
    if not rows:
        raise InputError("no rows: the data is empty", where=label, fix="check the file, the folder or the split name")
    return rows, label


def _looks_local(source: str) -> bool:
    return (
        source.startswith(("/", ".", "~"))
        or source.lower().endswith(SUFFIXES)
        or source.count("/") > 1
        or "\\" in source
    )


def _suffix(name: str) -> str | None:
    low = name.lower()
    return next((s for s in SUFFIXES if low.endswith(s)), None)


# ---- files -----------------------------------------------------------------------------------------
def read_file(path: Path, split: str = "train") -> list[dict]:
    label = str(path)
    suffix = _suffix(path.name)
    if suffix is None:
        raise InputError(f"unsupported file type {path.suffix or '(none)'!r}", where=label,
                         fix=f"use one of: {SUPPORTED}")
    if suffix == ".parquet":
        return _read_parquet(path)
    raw = path.read_bytes()
    if suffix.endswith(".gz"):
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise InputError(f"corrupt or truncated gzip file ({e})", where=label,
                             fix="download or write the file again") from None
    text = _decode(raw, label)
    if suffix.startswith(".jsonl"):
        return _parse_jsonl(text, label)
    return _parse_json(text, label, split)


def _decode(raw: bytes, label: str) -> str:
    if raw.startswith(codecs.BOM_UTF8):
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        raise InputError(
            f"not valid UTF-8 (byte 0x{raw[e.start]:02x} at column {col})", where=f"{label}:line {line}",
            fix="re-encode the file as UTF-8, e.g. `iconv -f latin1 -t utf-8 in.jsonl > out.jsonl`",
        ) from None


def _parse_jsonl(text: str, label: str) -> list[dict]:
    rows = []
    # split on "\n" only: str.splitlines() would also split on U+2028 etc., which JSON strings may hold
    for lineno, line in enumerate(text.split("\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise InputError(
                f"invalid JSON at column {e.colno}: {e.msg}", where=f"{label}:line {lineno}",
                fix=f"repair or remove line {lineno} (a truncated line means an interrupted write or download: "
                "re-create the file)",
            ) from None
        if not isinstance(obj, dict):
            raise InputError(
                f"the line holds a JSON {type(obj).__name__}, not an object", where=f"{label}:line {lineno}",
                fix='write one JSON object per line, e.g. {"prompt": "...", "chosen": "...", "rejected": "..."}',
            )
        rows.append(obj)
    return rows


def _parse_json(text: str, label: str, split: str) -> list[dict]:
    if not text.strip():
        return []
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as e:
        if e.msg.startswith("Extra data") and text.lstrip().startswith("{"):
            return _parse_jsonl(text, label)  # JSON lines in a .json file, as `datasets` accepts
        raise InputError(
            f"invalid JSON at column {e.colno}: {e.msg}", where=f"{label}:line {e.lineno}",
            fix="repair the file (a truncated file means an interrupted write or download: re-create it)",
        ) from None
    if isinstance(obj, dict) and isinstance(obj.get(split), list):
        obj = obj[split]
    if not isinstance(obj, list):
        raise InputError(
            f"the file holds one JSON {type(obj).__name__}, not a list of rows", where=label,
            fix=f'write a list [{{...}}, ...], {{"{split}": [...]}}, or one object per line (.jsonl)',
        )
    for i, row in enumerate(obj, 1):
        if not isinstance(row, dict):
            raise InputError(f"row is a JSON {type(row).__name__}, not an object", where=f"{label}:row {i}",
                             fix="every row must be a JSON object with the data columns")
    return obj


def _read_parquet(path: Path) -> list[dict]:
    try:
        return pq.read_table(path).to_pylist()
    except Exception as e:  # pyarrow raises several types for a damaged file
        raise InputError(f"cannot read the parquet file ({_first_line(e)})", where=str(path),
                         fix="write or download the file again") from None


# ---- folders -----------------------------------------------------------------------------------------
def _read_folder(folder: Path, split: str) -> tuple[list[dict], str]:
    label = str(folder)
    if (folder / "dataset_dict.json").is_file():
        dd = _load_from_disk(folder)
        if split not in dd:
            raise InputError(f"no split {split!r}; the folder has splits {sorted(dd)}", where=label,
                             fix="pass one of these as the split")
        return dd[split].to_list(), f"{folder}[{split}]"
    if (folder / "state.json").is_file():
        if split != "train":
            raise InputError(
                f"the folder holds one dataset without splits, so split {split!r} cannot be chosen", where=label,
                fix="use split 'train' for it, or save a DatasetDict with the splits you need",
            )
        return _load_from_disk(folder).to_list(), label
    sub = folder / split
    if sub.is_dir() and (sub / "state.json").is_file():
        return _load_from_disk(sub).to_list(), str(sub)
    files = _split_files(folder, split)
    rows: list[dict] = []
    for f in files:
        rows.extend(read_file(f, split))
    return rows, str(files[0]) if len(files) == 1 else f"{folder}[{split}] ({len(files)} files)"


def _split_files(folder: Path, split: str) -> list[Path]:
    """Files of `split`: <split>.<ext>, shards <split>-00000-of-00002.<ext>, or one file <split>_*/<split>-*."""
    groups: dict[str, list[Path]] = {}
    seen = []
    for d in (folder, folder / "data"):
        if not d.is_dir():
            continue
        for p in sorted(d.iterdir()):
            suffix = _suffix(p.name)
            if not p.is_file() or suffix is None:
                continue
            seen.append(p.relative_to(folder).as_posix())
            stem = p.name[: -len(suffix)]
            if stem == split or (stem.startswith(split) and stem[len(split)] in "-_."):
                groups.setdefault(_SHARD.sub("", stem), []).append(p)
    if split in groups:
        chosen = groups[split]
    elif len(groups) == 1:
        chosen = next(iter(groups.values()))
    elif groups:
        raise InputError(f"split {split!r} is ambiguous: files for {sorted(groups)}", where=str(folder),
                         fix="pass the full name as the split, e.g. " + repr(sorted(groups)[0]))
    else:
        found = ", ".join(seen[:8]) + (" ..." if len(seen) > 8 else "") if seen else "no data files"
        raise InputError(f"no data file for split {split!r} (found: {found})", where=str(folder),
                         fix=f"name the file {split}.jsonl / {split}.parquet, pass another split, or pass the file "
                         "path itself")
    if len(chosen) > 1 and not all(_SHARD.search(p.name[: -len(_suffix(p.name))]) for p in chosen):
        raise InputError(f"several files for split {split!r}: {[p.name for p in chosen]}", where=str(folder),
                         fix="keep one file per split (or name shards <split>-00000-of-00002.<ext>)")
    return chosen


def _load_from_disk(folder: Path):
    try:
        return datasets.load_from_disk(str(folder))
    except Exception as e:
        raise InputError(f"cannot load the saved dataset ({_first_line(e)})", where=str(folder),
                         fix="save it again with Dataset.save_to_disk / DatasetDict.save_to_disk") from None


# ---- hub ---------------------------------------------------------------------------------------------
def _read_hub(source: str, split: str) -> list[dict]:
    target = resolve_hub_id(source)  # the id itself, or its rehearsal copy while PREFOPT_DATASET_MIRROR is set
    try:
        ds = datasets.load_dataset(target, split=split)
    except Exception as e:  # offline, unknown id, unknown split, ...
        offline = bool(getattr(datasets.config, "HF_HUB_OFFLINE", False))
        how = "offline (HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set) and it is not cached" if offline else "from the hub"
        how = f"from the rehearsal mirror {target}" if target != source else how
        raise InputError(
            f"dataset {source!r} (split {split!r}) could not be loaded {how}: {_first_line(e)}",
            fix="download it on a machine with internet (datasets.load_dataset(id).save_to_disk(DIR) or "
            "`hf download --repo-type dataset ID --local-dir DIR`) and pass the local path; or check the id and split",
        ) from None
    return ds.to_list()


def _first_line(e: BaseException, limit: int = 160) -> str:
    text = (str(e).strip().splitlines() or [type(e).__name__])[0]
    return text if len(text) <= limit else text[: limit - 3] + "..."
