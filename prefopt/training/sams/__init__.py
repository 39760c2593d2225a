"""SamS: adaptive (batch-wise) sample scheduling for DPO and any pairwise loss, as a trainer plug-in.

Huang, Ban, Fu, Li, Dai, Li, Wang, "Adaptive Batch-Wise Sample Scheduling for Direct Preference
Optimization", NeurIPS 2025 (arXiv 2506.17252). Designed from the paper's description (the released code,
hzx122/SamS @ 368b63e, does not run as released). Enabled by a `sample_scheduler:` block in a preference config;
see prefopt/config/sample_scheduler.py for every key, reward.py for the reward and its sign choices, hook.py for
loss normalisation and DDP, README.md for the design and its choices.
"""

from prefopt.config.sample_scheduler import SamSConfig, make_config

from .hook import SampleSchedulerHook
from .scheduler import WEIGHTS_FILE, Round, SamSScheduler

__all__ = ["WEIGHTS_FILE", "Round", "SamSConfig", "SamSScheduler", "SampleSchedulerHook", "make_config"]
