"""Benchmark evaluation: AlpacaEval 2, Arena-Hard v0.1, MT-Bench, lm-eval suites.

    settings.py   GENERATION strings -> GenerationSettings (vLLM semantics of the papers' configs)
    templates.py  TEMPLATE names -> the papers' eval chat templates
    answers.py    load_policy, generate_answers (one generator: prefopt.modeling.generate; resumable, multi-turn)
    judges.py     OpenAI-compatible / local HF / rule judges, judge_all (resumable)
    report.py     results/reproduced/<run>/<benchmark>.json with its manifest
    alpaca.py, arena_hard.py, mt_bench.py, lmeval.py   one module per benchmark; eval/<benchmark>/run.py calls it
"""
