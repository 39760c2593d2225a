"""On-policy preference data, SimPO's `on_policy_data_gen/` pipeline (handbook 1.9), as library functions.

    decode        prompts (sorted unique) x seeds -> <gen>/output_<seed>.jsonl, one sample per prompt per seed
                  (prefopt.modeling.generate: vLLM when installed, else batched HF generate; resumable by chunks)
    post_process  seed files -> all_outputs.jsonl: one row per prompt with every seed's response; drops prompts
                  whose responses are all identical (and empty responses), counted
    annotate      all_outputs.jsonl -> all_outputs_rm.jsonl: `all_rm_scores` from a reward model adapter
                  (sequence classification, ArmoRM, PairRM, prefopt's own RMs, the embedded task's judge)
    binarize      -> a datasets folder (DatasetDict.save_to_disk) with train/test splits: chosen = max score,
                  rejected = min score, ties dropped and counted; README.md card + onpolicy_manifest.json

Every step writes `<output>.manifest.json` beside its output (settings, counts, and the previous step's
manifest under "upstream"), so the dataset card can say which models, seeds and sampling settings made it.
Scripts: on_policy_data_gen/{decode,post_process,annotate,binarize}.py; `make onpolicy-<setting>` runs the four
steps with a setting's recipe from results/cells.yaml (`onpolicy:`).
"""

from .annotate import REWARD_KINDS, Scorer, annotate_rows, load_scorer
from .binarize import binarize_rows, save_dataset
from .decode import Sampling, decode_seeds, load_prompts
from .post_process import merge_generations, read_generations

__all__ = [
    "REWARD_KINDS",
    "Sampling",
    "Scorer",
    "annotate_rows",
    "binarize_rows",
    "decode_seeds",
    "load_prompts",
    "load_scorer",
    "merge_generations",
    "read_generations",
    "save_dataset",
]
