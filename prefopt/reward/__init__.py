"""Reward models (APO, Linear95/APO @ 4282775): a scalar head on a causal or encoder backbone, the ranking and
APO losses, preference accuracy and calibration, APO's golden-vs-sample converter, RM-Bench scoring.

    losses.py     ranking_loss, apo_loss (rm_kl_coeff·L_rank(human) + apo_loss_coeff/apo_sample_num·L(apo))
    metrics.py    rm_metrics: accuracy (ties wrong), avg score, ECE/ACE/MCE
    data.py       items {query, responses, scores, type}, APO's token layout, RewardCollator
    model.py      RewardModel, pooling last|eos|average|max, save/load
    converter.py  apo_items (golden x samples on query_id), sample_rows (prefopt.modeling.generate), best_of_n
    train.py      RewardConfig, RewardTrainer, train_rm (scripts/run_rm.py)
    rmbench.py    RM-Bench: per-domain accuracy and the easy/normal/hard matrix, for RMs and policies
    demo.py       `make rm-demo`: base RM vs APO RM on the real MiniLM encoder
    sampling.py   query files, the `hh` prompt template, GENERATION settings, loading a policy / a scorer
    rjs.py        rejection sampling with an RM: sample n -> score -> best-of-n SFT rows (resumable, manifest)
    score_eval.py a policy's answers scored by a testing RM: avg score, win rate vs a baseline (hh-test)

Entry points: scripts/run_rm.py (training), scripts/eval_rm.py (`make eval-rm`), eval/rm_bench/run.py
(`make eval-rmbench`), scripts/rm_demo.py (`make rm-demo`), scripts/rejection_sample.py (`make rejection-sample`,
the data step of `make hh-base-rjs` / `hh-apo-rjs`), scripts/eval_rm_score.py (`make eval-rm-score`).
"""
