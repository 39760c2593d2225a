"""Benchmark evaluation: AlpacaEval 2, Arena-Hard v0.1, MT-Bench, lm-eval suites, ZeroEval, preference accuracies.

    settings.py   GENERATION strings -> GenerationSettings (vLLM semantics of the papers' configs)
    templates.py  TEMPLATE names -> the papers' eval chat templates
    answers.py    load_policy, generate_answers (one generator: prefopt.modeling.generate; resumable, multi-turn)
    judges.py     OpenAI-compatible / local HF / rule judges, judge_all (resumable)
    report.py     results/reproduced/<run>/<benchmark>.json with its manifest
    alpaca.py, arena_hard.py, mt_bench.py, lmeval.py   one module per benchmark; eval/<benchmark>/run.py calls it
    zeroeval.py (+ zeroeval_parse.py)   ZeroEval's zero-shot GSM8K / MMLU-Redux: prompts, data, answer extraction
    preference_accuracy.py   implicit-reward accuracy of a policy (eval-pref-accuracy); rm_robustness.py builds on it
"""
