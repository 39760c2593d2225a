"""Offline stand-ins for what a real run downloads, and the experiments built on them.

    tiny.py       deterministic tiny Llama models + tokenizers (model names `tiny:<size>/<task>`)
    addition.py   the embedded task: 2-digit addition, its rule judge, flawed SFT data
    chain.py      the embedded chain shared by demo.py (`make demo`) and minitable.py (`make mini-table`)

The library reaches this package only through the string tables of prefopt.core.plugins.
"""
