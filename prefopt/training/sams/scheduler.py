"""SamSScheduler: per global micro-batch, pick K = floor(rho B) pairs; learn from a reward lagged one micro-step.

One call per training micro-step (`step`), on quantities the loss's forward already produced:

    1. label the PREVIOUS micro-batch (reward.py: its batch statistic vs this one's, its own margins/log-probs)
    2. train f_S (MSE to y) and f_S' (MSE to y - f_S_old) for `train_steps` Adam steps on the previous
       micro-batch plus up to `pool_batches` random past micro-batches from the replay pool; add it to the pool
    3. score this micro-batch, u = f_S + lambda f_S', and select K pairs (greedy top-K or softmax sampling)
    4. keep this micro-batch's context, statistic, margins, log-probs and f_S outputs as the lag buffer

`name: random` selects K pairs uniformly at random and keeps no networks (the paper's random-50% ablation).
`mode: pretrain` selects every pair (the policy is frozen by the trainer) and only trains the networks; `mode: sft`
the same during the policy's SFT (the SFT trainer leaves its loss alone).

State (networks, optimizers, pool, lag buffer, RNG) is `state_dict()`; `save_weights` / `load_weights` move
the networks alone (a pretraining run's output, loaded by DPO+SamS). DDP: `DistributedSampleScheduler` gathers
every rank's rows, rank 0 decides, the mask is broadcast, so all ranks apply the same decision.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import torch
import torch.nn.functional as F

from prefopt.config.sample_scheduler import SamSConfig

from . import reward as R
from .networks import Exploitation, Exploration
from .pool import ReplayPool

WEIGHTS_FILE = "sams_scheduler.pt"


@dataclasses.dataclass
class Round:
    """What one micro-step tells the scheduler, for the GLOBAL micro-batch (every tensor has N rows)."""

    features: torch.Tensor  # (N, L, d) arm contexts
    losses: torch.Tensor  # (N,) per-pair losses (pair loss, or SFT NLL for reward_loss: sft), detached
    margins: torch.Tensor  # (N,) implicit-reward margins chosen - rejected
    chosen_logps: torch.Tensor  # (N,) log pi(y_w | x)


def num_selected(n: int, ratio: float) -> int:
    return max(1, min(n, math.floor(ratio * n + 1e-9)))


class SamSScheduler:
    def __init__(self, cfg: SamSConfig, d_model: int, device: torch.device | str = "cpu"):
        if cfg.seed is None:
            cfg = dataclasses.replace(cfg, seed=0)
        self.cfg, self.d_model, self.device = cfg, d_model, torch.device(device)
        self.generator = torch.Generator().manual_seed(cfg.seed)
        self.pool = ReplayPool(cfg.pool_size, cfg.pool_max_mb)
        self.prev: dict | None = None
        self.running = {"avg": 0.0, "count": 0}
        self.metrics: dict[str, float] = {}
        self.f = self.g = None
        if cfg.name == "sams":
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                self.f = Exploitation(d_model, cfg).to(self.device)
                self.g = Exploration(cfg.width, cfg).to(self.device)
            if cfg.freeze_encoder:
                self.f.encoder.requires_grad_(False)
            self.opt_f = torch.optim.Adam([p for p in self.f.parameters() if p.requires_grad], lr=cfg.lr,
                                          weight_decay=cfg.weight_decay)
            self.opt_g = torch.optim.Adam(self.g.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    # ---- the per-micro-step call --------------------------------------------------------------------
    def step(self, rnd: Round) -> torch.Tensor:
        """Boolean mask (N,) of the pairs that get gradients this micro-step."""
        cfg, n = self.cfg, rnd.losses.numel()
        self.metrics = {}
        if cfg.name == "random":
            mask = torch.zeros(n, dtype=torch.bool)
            mask[torch.randperm(n, generator=self.generator)[: num_selected(n, cfg.select_ratio)]] = True
            return mask.to(rnd.losses.device)
        stat = R.batch_statistic(rnd.losses, cfg.batch_signal)
        if self.prev is not None:
            self._learn_from_previous(stat)
        with torch.no_grad():
            self.f.eval()
            self.g.eval()
            x = rnd.features.to(self.device, torch.float32)
            f_out, hs = self.f(x)
            score = f_out + cfg.explore_weight * self.g(hs)
        if cfg.mode in ("pretrain", "sft"):  # scheduler pretraining: every sample is trained on, none selected
            mask = torch.ones(n, dtype=torch.bool)
        else:
            mask = self.select(score.cpu())
        self.prev = {"features": rnd.features.detach().cpu(), "stat": stat, "margins": rnd.margins.detach().cpu().float(),
                     "chosen_logps": rnd.chosen_logps.detach().cpu().float(), "f_out": f_out.cpu(), "mask": mask}
        self.metrics["sams/score_selected"] = score.cpu()[mask].mean().item()
        return mask.to(rnd.losses.device)

    def select(self, score: torch.Tensor) -> torch.Tensor:
        n = score.numel()
        k = num_selected(n, self.cfg.select_ratio)
        if self.cfg.selection == "topk":
            idx = torch.topk(score, k).indices
        else:
            idx = torch.multinomial(torch.softmax(score.double(), 0), k, replacement=False, generator=self.generator)
        mask = torch.zeros(n, dtype=torch.bool)
        mask[idx] = True
        return mask

    def labels(self, stat_cur: float) -> tuple[torch.Tensor, float]:
        """y for every pair of the previous micro-batch, and r_B (reward.py), given this micro-batch's C."""
        cfg, prev = self.cfg, self.prev
        r_b = R.batch_reward(prev["stat"], stat_cur, cfg.batch_sign)
        if cfg.running_mean:
            run = self.running
            if run["count"] > 0:
                r_b = 0.5 * run["avg"] + 0.5 * r_b
            run["avg"] = (run["avg"] * run["count"] + r_b) / (run["count"] + 1)
            run["count"] += 1
        r_s = R.sample_reward(prev["margins"], prev["chosen_logps"], cfg.delta)
        y = R.combine(r_b, r_s, gamma=cfg.gamma, scale=cfg.batch_scale, shift=cfg.batch_shift,
                      double_sigmoid=cfg.double_sigmoid)
        return y, r_b

    def _learn_from_previous(self, stat_cur: float) -> None:
        cfg, prev = self.cfg, self.prev
        y, r_b = self.labels(stat_cur)
        keep = prev["mask"] if cfg.train_on == "selected" else torch.ones_like(prev["mask"])
        x, y, f_old = prev["features"][keep], y[keep], prev["f_out"][keep]
        self.metrics.update({"sams/reward_batch": r_b, "sams/label_mean": y.mean().item(),
                             # online prediction error: f_S's score of these pairs BEFORE it saw their labels
                             "sams/pred_mse": F.mse_loss(f_old, y).item()})
        batches = [{"x": x, "y": y, "r": y - f_old}] + self.pool.sample(cfg.pool_batches, self.generator)
        self.pool.add(x, y, y - f_old, self.generator)
        X = torch.cat([b["x"].float() for b in batches]).to(self.device)
        Y = torch.cat([b["y"] for b in batches]).to(self.device)
        Rres = torch.cat([b["r"] for b in batches]).to(self.device)
        self.f.train()
        self.g.train()
        for _ in range(cfg.train_steps):
            pred, hs = self.f(X)
            loss_f = F.mse_loss(pred, Y)
            self.opt_f.zero_grad(set_to_none=True)
            loss_f.backward()
            self.opt_f.step()
            loss_g = F.mse_loss(self.g(hs.detach()), Rres)
            self.opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            self.opt_g.step()
        if cfg.train_steps:
            self.metrics.update({"sams/train_mse_f": loss_f.item(), "sams/train_mse_g": loss_g.item()})

    # ---- state ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict:
        state = {"generator": self.generator.get_state(), "pool": self.pool.state_dict(), "prev": self.prev,
                 "running": dict(self.running)}
        if self.f is not None:
            state.update(f=self.f.state_dict(), g=self.g.state_dict(), opt_f=self.opt_f.state_dict(),
                         opt_g=self.opt_g.state_dict())
        return state

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])
        self.pool.load_state_dict(state["pool"])
        self.prev = state["prev"]
        self.running = dict(state["running"])
        if self.f is not None:
            self.f.load_state_dict(state["f"])
            self.g.load_state_dict(state["g"])
            self.opt_f.load_state_dict(state["opt_f"])
            self.opt_g.load_state_dict(state["opt_g"])

    def save_weights(self, folder: str | Path) -> Path | None:
        """The networks alone (what a pretraining run hands to DPO+SamS)."""
        if self.f is None:
            return None
        path = Path(folder) / WEIGHTS_FILE
        torch.save({"d_model": self.d_model, "config": dataclasses.asdict(self.cfg), "f": self.f.state_dict(),
                    "g": self.g.state_dict()}, path)
        return path

    def load_weights(self, path: str | Path) -> None:
        path = Path(path)
        if path.is_dir():
            path = path / WEIGHTS_FILE
        if not path.is_file():
            raise FileNotFoundError(f"scheduler.init_from: no scheduler weights at {path}")
        # read on the CPU, then copied onto the networks' device: torch.load cannot map storages to an indexed
        # CPU device ("cpu:0", what DeepSpeed's CPU accelerator gives a run)
        saved = torch.load(path, map_location="cpu", weights_only=True)
        if saved["d_model"] != self.d_model:
            raise ValueError(f"scheduler weights in {path} were trained on hidden size {saved['d_model']}, "
                             f"this policy has {self.d_model}")
        self.f.load_state_dict(saved["f"])
        self.g.load_state_dict(saved["g"])
