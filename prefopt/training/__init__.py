"""Training runs: one run skeleton and the runners the method table names.

    run.py         run_training: logging, seed, manifest, tokenizer, resume, train, save, metrics, curves
    preference.py  train_preference: every pairwise method (tokenized pairs, reference log-probs, PreferenceTrainer)
    trainer.py     PreferenceTrainer: one forward, the loss from its registry entry, optional sample scheduler
    sft.py         train_sft;  kto.py: train_kto (TRL's KTOTrainer)
    dispatch.py    config -> runner (the only place a runner is looked up)
    callbacks.py   task accuracy during training;  checkpoint.py: crash-safe checkpoints;  curves.py: plots
    sams/          the SamS sample scheduler, a trainer plug-in
"""
