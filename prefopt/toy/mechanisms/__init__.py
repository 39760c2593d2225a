"""`make mechanisms`: each paper's headline mechanism tested on a controlled CPU task (issue 19).

Layout (every file ports as-is to prefopt/toy/mechanisms/ in the layered refactor):
  tasks_length.py  the padded-addition sibling of the embedded task, its quality judge and a length-biased labeller
  noise.py         flipping a fraction of preference pairs (label noise) and recognising flipped pairs
  spec.py          mechanisms.yaml as dataclasses: the design of every claim is data, not code
  probes.py        what is measured on a trained model: quality, length, per-pair rewards and margins
  chain.py         the seed loop: SFT -> sampled answers -> labelled pair sets -> runs (training_configs/tiny)
  claims.py        per claim: which runs, which numbers, the verdict rule
  report.py        results/reproduced/mechanisms/<claim>.md/.png and mechanisms.json
"""
