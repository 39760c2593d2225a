"""SamS: adaptive (batch-wise) sample scheduling for DPO and any pairwise loss, as a trainer plug-in.

Huang, Ban, Fu, Li, Dai, Li, Wang, "Adaptive Batch-Wise Sample Scheduling for Direct Preference
Optimization", NeurIPS 2025 (arXiv 2506.17252). Designed from the paper's description (the released code,
hzx122/SamS @ 368b63e, does not run; ../shared/docs/research/amapo_sams_apo.md §B). Enabled by a `scheduler:`
block in a preference config; see config.py for every key, reward.py for the reward and its sign choices,
hook.py for loss normalisation and DDP.
"""

from .config import SamSConfig, make_config
from .hook import SampleSchedulerHook
from .scheduler import WEIGHTS_FILE, Round, SamSScheduler

__all__ = ["WEIGHTS_FILE", "Round", "SamSConfig", "SamSScheduler", "SampleSchedulerHook", "make_config"]
