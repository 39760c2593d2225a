"""prefopt: reproducible LLM preference optimization (SimPO, LMPO, AMaPO, SamS, APO and their baselines)."""

__version__ = "0.1.0"
