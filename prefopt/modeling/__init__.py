"""Models in and numbers out: loading (hub ids, local folders, `tiny:` names), one forward for response
log-probs, the on-disk reference log-prob cache, and the one generation entry point.

    loading.py    load_model, load_tokenizer, resolve, local_folder, disable_dropout, without_zero3_init
    logprobs.py   pair_forward (pairs and shared-prefix layouts), sequence_logps
    refcache.py   ReferenceCache, compute_logps, weights_fingerprint
    generate.py   generate (batched HF generate; vLLM when installed)
"""
