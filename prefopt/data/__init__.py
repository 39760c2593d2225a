"""Preference and SFT data: load rows, normalise them to chat messages, tokenize, collate.

    rows  = load_rows(source, split)                  # .json/.jsonl(.gz)/.parquet, a saved folder, or a hub id
    pairs = to_pairs(rows, source)                    # UltraFeedback / hh-rlhf / plain strings / ShareGPT
    pairs = load_pairs(source, split)                 # both steps
    rows, report = tokenize_pairs(pairs, tokenizer, max_length=..., max_prompt_length=...)
    batch = PairCollator(tokenizer.pad_token_id)(rows)  # (2B, T): chosen block, then rejected block

Every problem with the data raises `prefopt.core.errors.InputError` naming file, row, field and the fix.
"""

from .collate import PairCollator, SFTCollator
from .files import load_rows, read_source
from .formats import BAD_ROW_POLICIES, PairList, PreferencePair, load_pairs, sft_example, to_pairs
from .tokenization import TokenizeReport, tokenize_pairs, tokenize_sft

__all__ = [
    "BAD_ROW_POLICIES",
    "PairCollator",
    "PairList",
    "PreferencePair",
    "SFTCollator",
    "TokenizeReport",
    "load_pairs",
    "load_rows",
    "read_source",
    "sft_example",
    "to_pairs",
    "tokenize_pairs",
    "tokenize_sft",
]
