"""A reward model: a scalar head (Linear(hidden, 1, bias=False), as APO's LlamaRewardModel) on a backbone.

The backbone is `AutoModel` of any causal or encoder checkpoint (a causal LM folder loads its base model).
Pooling over right-padded sequences, seq_len = number of non-pad tokens:
  last: hidden state at seq_len - 2 (the last content token before EOS; APO's default in its recipes),
  eos: at seq_len - 1, average: masked mean, max: masked max.

Saved folders hold the backbone's config.json, `model.safetensors` (the whole state dict: backbone.* and
reward_head.weight, which is also what the HF Trainer writes and resumes from) and `reward_config.json`.
"""

from __future__ import annotations

import inspect
import json
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model
from torch import nn
from transformers import AutoConfig, AutoModel

from prefopt.config.reward import POOLING_TYPES
from prefopt.core.errors import InputError
from prefopt.modeling.loading import resolve

REWARD_CONFIG = "reward_config.json"


def pool(hidden: torch.Tensor, attention_mask: torch.Tensor, pooling: str) -> torch.Tensor:
    """(N, T, H) hidden states -> (N, H), for right-padded sequences."""
    mask = attention_mask.to(hidden.dtype)
    lengths = attention_mask.long().sum(-1)
    if pooling in ("last", "eos"):
        idx = lengths - (2 if pooling == "last" else 1)
        if (idx < 0).any():
            raise ValueError(f"pooling {pooling!r} needs sequences of >= 2 tokens")
        return hidden[torch.arange(hidden.size(0), device=hidden.device), idx]
    if pooling == "average":
        return (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
    if pooling == "max":
        return hidden.masked_fill(~attention_mask.bool().unsqueeze(-1), torch.finfo(hidden.dtype).min).max(1).values
    raise ValueError(f"pooling must be one of {POOLING_TYPES}, got {pooling!r}")


class RewardModel(nn.Module):
    def __init__(self, backbone: nn.Module, pooling: str = "last"):
        super().__init__()
        if pooling not in POOLING_TYPES:
            raise InputError(f"pooling_type {pooling!r} is unknown", fix=f"use one of {POOLING_TYPES}")
        self.backbone, self.pooling = backbone, pooling
        self.config = backbone.config
        hidden = getattr(self.config, "hidden_size", None) or self.config.get_text_config().hidden_size
        self.reward_head = nn.Linear(hidden, 1, bias=False)
        nn.init.normal_(self.reward_head.weight, std=1.0 / (hidden + 1) ** 0.5)
        self._takes_cache = "use_cache" in inspect.signature(backbone.forward).parameters

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """(N,) rewards."""
        extra = {"use_cache": False} if self._takes_cache else {}
        out = self.backbone(input_ids=input_ids, attention_mask=attention_mask, **extra)
        pooled = pool(out.last_hidden_state, attention_mask, self.pooling)
        return self.reward_head(pooled.to(self.reward_head.weight.dtype)).squeeze(-1)

    def gradient_checkpointing_enable(self, **kwargs) -> None:
        self.backbone.gradient_checkpointing_enable(**kwargs)

    # ---- persistence ------------------------------------------------------------------------------------
    def save_extra(self, folder: str | Path, **settings) -> None:
        """config.json and reward_config.json (the weights are the state dict, written by the caller)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        self.config.save_pretrained(folder)
        (folder / REWARD_CONFIG).write_text(json.dumps({"pooling_type": self.pooling, **settings}, indent=2) + "\n")

    def save_pretrained(self, folder: str | Path, **settings) -> None:
        self.save_extra(folder, **settings)
        save_model(self, str(Path(folder) / "model.safetensors"), metadata={"format": "pt"})


def is_reward_model(folder: str | Path) -> bool:
    return (Path(folder) / REWARD_CONFIG).is_file()


def reward_settings(folder: str | Path) -> dict:
    return json.loads((Path(folder) / REWARD_CONFIG).read_text())


def from_backbone(name: str, pooling: str = "last", dtype: torch.dtype = torch.float32, **kwargs) -> RewardModel:
    """A fresh head on a pretrained backbone (a hub id, local folder or `tiny:` name)."""

    try:
        backbone = AutoModel.from_pretrained(resolve(name), dtype=dtype, **kwargs)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot load backbone {name!r}: {str(e).splitlines()[0][:300]}",
                         fix="pass a local folder (runs here are offline)") from None
    return RewardModel(backbone, pooling)


def load_reward_model(folder: str | Path, dtype: torch.dtype = torch.float32) -> RewardModel:
    """A trained reward model saved by `save_pretrained` or the Trainer."""
    folder = Path(folder)
    if not is_reward_model(folder):
        raise InputError(f"{folder} is not a reward model folder (no {REWARD_CONFIG})",
                         fix="pass the output_dir of scripts/run_rm.py")
    config = AutoConfig.from_pretrained(folder)
    model = RewardModel(AutoModel.from_config(config, dtype=dtype), reward_settings(folder)["pooling_type"])
    load_model(model, str(folder / "model.safetensors"), strict=True)
    return model
