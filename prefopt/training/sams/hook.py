"""The trainer-facing side of a sample scheduler: per-pair loss weights from one forward's outputs.

`PreferenceTrainer` knows only this interface (never a loss or a scheduler by name):

    hook.needs_hidden_states  -> ask pair_forward for hidden states (the arm context)
    hook.frozen_policy        -> scheduler pretraining: no policy gradient at all
    hook.weights(hidden_states, response_mask, x, result) -> (B_local,) loss weights, 0 on unselected pairs
    hook.observe_sft(hidden_states, response_mask, nll, logps)  -> mode sft: learn from an SFT micro-batch only
    hook.metrics, state_dict(), load_state_dict(), save_weights(folder)

Loss normalisation (`loss_normalization`), with K selected out of N pairs of the global micro-batch and W ranks:
- selected (default): loss = sum_{selected} l_i / K, the mean over the selected subset, i.e. the paper's
  L_DPO(X~_t). Each selected pair's gradient is 1/K, so with rho = 0.5 it is twice DPO's 1/N.
- batch: loss = sum_{selected} l_i / N, the released code (unselected losses detached, mean over all N): the
  per-pair gradient equals DPO's and the update is about rho times smaller.
Each rank returns weights * W so that DDP's gradient average gives exactly these global normalisations.
Unselected pairs have weight 0 AND are detached, so they contribute no gradient.

DDP: contexts, losses, margins and log-probs are all-gathered; rank 0 runs the scheduler (as in the released
code) and broadcasts the global mask, so every rank applies the same decision; only rank 0's scheduler state
changes and is saved.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
import torch.distributed as dist

from prefopt.config.sample_scheduler import SamSConfig, make_config
from prefopt.core.dist import gather_detached, gather_rows, rank_and_world

from .features import pair_features, sequence_features
from .scheduler import Round, SamSScheduler


class SampleSchedulerHook:
    def __init__(self, cfg: SamSConfig | dict, d_model: int, device="cpu", output_dir: str | None = None,
                 seed: int = 0):
        self.cfg = cfg if isinstance(cfg, SamSConfig) else make_config(cfg)
        if self.cfg.seed is None:
            self.cfg = dataclasses.replace(self.cfg, seed=seed)
        self.scheduler = SamSScheduler(self.cfg, d_model, device)
        self.metrics: dict[str, float] = {}
        self.last_mask: torch.Tensor | None = None
        if self.cfg.init_from:
            path = Path(self.cfg.init_from)
            if not path.is_absolute() and output_dir is not None and not path.exists():
                path = Path(output_dir).resolve().parent / path
            self.scheduler.load_weights(path)

    @property
    def needs_hidden_states(self) -> bool:
        return self.cfg.name == "sams"

    @property
    def frozen_policy(self) -> bool:
        return self.cfg.mode == "pretrain"

    def weights(self, hidden_states, response_mask: torch.Tensor, x, result) -> torch.Tensor:
        """Per-pair weights (B_local,) for sum(weights * losses); see the module docstring."""
        b = result.losses.numel()
        losses = result.losses if self.cfg.reward_loss == "pair" else -x.chosen_avg
        if self.needs_hidden_states:
            feats = pair_features(hidden_states, response_mask)
        else:
            feats = result.losses.new_zeros(b, 1, 1)
        mask, local = self._decide(feats, losses, result.chosen_rewards - result.rejected_rewards, x.chosen)
        n = mask.numel()
        denom = int(mask.sum()) if self.cfg.loss_normalization == "selected" else n
        world = rank_and_world()[1]
        return local.to(result.losses.dtype) * (world / denom)

    def observe_sft(self, hidden_states, response_mask: torch.Tensor, nll: torch.Tensor, logps: torch.Tensor) -> None:
        """mode sft: the scheduler sees one SFT micro-batch and learns; nothing is selected or weighted.

        nll: (N,) token-mean NLL of each response (the `sft` reward loss); logps: (N,) summed log pi(y | x). There is
        no rejected response, so the sample term's margin is log pi(y | x) too: both terms carry the same quantity,
        as in the released code's SFT-phase rewards (with delta 0.5 the sample term is 0.5 for every sequence and
        the label varies through r_B only). The scheduler's own random draws (dropout, pool) run on a forked RNG,
        so the policy's dropout masks and data order are those of SFT without a scheduler.
        """
        devices = [nll.device] if nll.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            self._decide(sequence_features(hidden_states, response_mask), nll, logps, logps)

    def _decide(self, feats: torch.Tensor, losses: torch.Tensor, margins: torch.Tensor, chosen_logps: torch.Tensor
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """One scheduler step on the global micro-batch: (global mask, this rank's slice of it)."""
        device, b = losses.device, losses.numel()
        rank, world = rank_and_world()
        rnd = Round(gather_rows(feats), gather_detached(losses.float()), gather_detached(margins.float()),
                    gather_detached(chosen_logps.float()))
        n = rnd.losses.numel()
        if rank == 0:
            with torch.autocast(device_type=device.type, enabled=False):  # fp32 scheduler under bf16
                mask = self.scheduler.step(rnd).to(device)
        else:
            mask = torch.zeros(n, dtype=torch.bool, device=device)
        if world > 1:
            offsets = gather_detached(torch.tensor([b], device=device))
            flag = mask.to(torch.uint8)
            dist.broadcast(flag, src=0)
            mask = flag.bool()
            start = int(offsets[:rank].sum().item())
        else:
            start = 0
        local = mask[start:start + b]
        self.last_mask = local  # this rank's decision of the last micro-step (tests, logging)
        self.metrics = dict(self.scheduler.metrics) if rank == 0 else {}
        self.metrics["sams/selected_fraction"] = float(mask.float().mean())
        return mask, local

    def loss(self, weights: torch.Tensor, losses: torch.Tensor) -> torch.Tensor:
        """sum_i w_i l_i with unselected pairs detached (no gradient path through them at all)."""
        return (weights * torch.where(weights > 0, losses, losses.detach())).sum()

    def state_dict(self) -> dict:
        return self.scheduler.state_dict()

    def load_state_dict(self, state: dict) -> None:
        self.scheduler.load_state_dict(state)

    def save_weights(self, folder) -> None:
        self.scheduler.save_weights(folder)
