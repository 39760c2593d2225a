"""Rehearse the paper-table cells on CPU before anyone spends GPU hours: each cell's own rule, launcher, config,
architecture, tokenizer, chat template, data schema, resume and eval targets, with only the model shrunk.

    make rehearse-<cell>        one cell (prefopt.toy.rehearse <cell>)
    make rehearse               one cell per distinct path; REHEARSE_ARGS=--all for every trainable cell
    python -m prefopt.toy.rehearse --plan [CELL ...]     what would run, and what the real runs do

Modules: shrink (the overrides: shrink, relocate, CPU substitutes), plan (the steps of a cell, chains, path keys,
the cluster summary), checks (template checks on real rendered rows), runner (run, time, kill and resume,
compare), report (results/rehearsal/table.md and rehearsal.json). Outputs go to outputs/rehearsal/ (the dataset
mirror, the miniature cache, every run, logs, per-cell records); a finished green cell is not run again.
"""
