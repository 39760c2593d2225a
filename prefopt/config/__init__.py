"""Configuration: the argument groups, the one method table, and parsing with every check done up front.

    arguments.py         ModelArguments, DataArguments, RunArguments, PreferenceConfig, SFTConfig
    reward.py            RewardConfig (scripts/run_rm.py)
    sample_scheduler.py  SamSConfig: the `sample_scheduler:` block
    selection.py         DataSelectionConfig: the `data_selection:` block (Selective DPO's data selection)
    stopping.py          EpochStoppingConfig: the `epoch_stopping:` block (multi-epoch training with a stopping rule)
    methods.py           the method table: every `loss:` name, its hyperparameters and its runner
    parse.py             YAML + --key=value -> checked groups (load_raw, parse_config, build_config)
    describe.py          --help
"""

from prefopt.config.reward import RewardConfig
from prefopt.config.sample_scheduler import SamSConfig, make_config

from .arguments import DataArguments, ModelArguments, PreferenceConfig, RunArguments, SFTConfig
from .describe import describe
from .methods import Method, get_method, methods
from .parse import build_config, config_hash, explicit_values, load_raw, parse_config

__all__ = ["DataArguments", "Method", "ModelArguments", "PreferenceConfig", "RewardConfig", "RunArguments",
           "SFTConfig", "SamSConfig", "build_config", "config_hash", "describe", "explicit_values", "get_method",
           "load_raw", "make_config", "methods", "parse_config"]
