"""The paper tables: the cell registry (results/cells.yaml), the generated make rules, the reported and the
reproduced numbers, and `make verify`.

    cells.py       Registry, Cell; python -m prefopt.reproduce.cells list|table
    make_rules.py  make/cells.mk from the registry
    results.py     reported rows (results/reported/*.csv) and reproduced result files
    verify.py      python -m prefopt.reproduce.verify: reproduced vs reported -> results/report.md
"""
