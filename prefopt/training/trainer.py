"""PreferenceTrainer: the one trainer every pairwise method goes through.

It knows no loss by name. The loss's registry entry (`prefopt.losses.LossSpec`) says whether reference
log-probs are needed and whether the loss keeps state; the trainer supplies them, runs ONE concatenated
forward per step (`prefopt.modeling.logprobs.pair_forward`), and logs the metrics the papers log.

An optional sample scheduler (config block `sample_scheduler:`, `prefopt.training.sams.SampleSchedulerHook`) turns the per-pair
losses into a weighted sum: it sees the same forward's per-pair losses and hidden states and returns per-pair
weights (0 for pairs that get no gradient). Without it the loss is the plain mean.
"""

from __future__ import annotations

import contextlib
import logging
from collections import defaultdict

import torch
from transformers import Trainer

from prefopt.data import PairCollator
from prefopt.data.collate import SharedPrefixPairCollator
from prefopt.losses import PairLogps, get_loss
from prefopt.modeling.loading import disable_dropout
from prefopt.modeling.logprobs import pair_forward

from .extra_state import SAMPLE_SCHEDULER_STATE_FILE, ExtraStateMixin
from .sams import SampleSchedulerHook

__all__ = ["SAMPLE_SCHEDULER_STATE_FILE", "STATE_FILE", "PreferenceTrainer"]

STATE_FILE = "prefopt_loss_state.pt"
logger = logging.getLogger("prefopt")


class PreferenceTrainer(ExtraStateMixin, Trainer):
    """transformers.Trainer with a registry-driven pairwise loss.

    Datasets hold tokenized pairs (`prefopt.data.tokenize_pairs` rows). When the loss needs a reference,
    either the rows carry `ref_chosen_logps` / `ref_rejected_logps` (from `prefopt.modeling.refcache`; no reference
    model in memory) or `ref_model` is given and runs alongside the policy each step.
    """

    loss_is_scaled_for_ga = False  # compute_loss returns a per-micro-batch mean; Trainer scales for accumulation

    def __init__(self, model, args, train_dataset=None, eval_dataset=None, processing_class=None, ref_model=None,
                 data_collator=None, **kwargs):
        self.loss_spec = get_loss(args.loss)
        self.loss_hparams = vars(self.loss_spec.make_hparams(args.loss_hparams))
        self.loss_state: dict | None = {} if self.loss_spec.stateful else None
        self._metrics: dict[str, dict[str, list[float]]] = {"train": defaultdict(list), "eval": defaultdict(list)}
        if args.disable_dropout:
            disable_dropout(model)
        if data_collator is None:
            data_collator = _collator(args, processing_class.pad_token_id)
        args.remove_unused_columns = False  # our rows are not model kwargs
        super().__init__(model=model, args=args, data_collator=data_collator, train_dataset=train_dataset,
                         eval_dataset=eval_dataset, processing_class=processing_class, **kwargs)
        self.model_accepts_loss_kwargs = False
        self.sample_scheduler = None
        if getattr(args, "sample_scheduler", None):
            self.sample_scheduler = SampleSchedulerHook(args.sample_scheduler, model.config.hidden_size,
                                                        self.args.device, args.output_dir, seed=args.seed)
        self.ref_model = None
        if self.loss_spec.needs_reference:
            for name, ds in (("train", train_dataset), ("eval", eval_dataset)):
                if ds is not None and "ref_chosen_logps" not in ds.column_names and ref_model is None:
                    raise ValueError(
                        f"loss {args.loss!r} needs reference log-probs: the {name} rows carry none and no ref_model "
                        "was given (use prefopt.training.preference.attach_reference_logps or pass ref_model)"
                    )
            if ref_model is not None:
                if args.disable_dropout:
                    disable_dropout(ref_model)
                ref_model.eval().requires_grad_(False)
                self.ref_model = ref_model.to(self.args.device)

    # ---- the loss -------------------------------------------------------------------------------
    def pair_logps(self, model, inputs, output_hidden_states: bool = False) -> tuple[PairLogps, object]:
        how = {"impl": self.args.logprob_impl, "chunk_tokens": self.args.logprob_chunk_tokens}
        chosen, rejected, lc, lr, out = pair_forward(model, inputs, self.args.logp_chunk_size, output_hidden_states,
                                                     **how)
        ref_c, ref_r = inputs.get("ref_chosen_logps"), inputs.get("ref_rejected_logps")
        if self.loss_spec.needs_reference and ref_c is None:
            with torch.no_grad():
                ref_c, ref_r, *_ = pair_forward(self.ref_model, inputs, self.args.logp_chunk_size, **how)
        return PairLogps(chosen, rejected, lc, lr, ref_c, ref_r), out

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        mode = "train" if model.training else "eval"
        hook = self.sample_scheduler if mode == "train" else None
        with torch.no_grad() if hook is not None and hook.frozen_policy else contextlib.nullcontext():
            x, outputs = self.pair_logps(model, inputs, output_hidden_states=hook is not None and hook.needs_hidden_states)
            # Evaluation must not move a stateful loss's running statistics: it sees a copy.
            state = self.loss_state if mode == "train" or self.loss_state is None else dict(self.loss_state)
            result = self.loss_spec.fn(x, state, **self.loss_hparams)
        if mode == "eval":
            self._eval_pair_losses = result.losses.detach()
        if hook is None:
            loss = result.losses.mean()
        else:
            weights = hook.weights(outputs.hidden_states, inputs["response_mask"], x, result)
            outputs.hidden_states = None
            loss = hook.loss(weights, result.losses)
            if hook.frozen_policy:  # scheduler pretraining: nothing flows back into the policy
                loss = torch.zeros((), device=loss.device, requires_grad=True)
            m = self._metrics[mode]
            m["loss_all_pairs"].append(result.losses.detach().mean().item())
            for key, value in hook.metrics.items():
                m[key].append(value)
        self._record(mode, x, result)
        return (loss, outputs) if return_outputs else loss

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        """The batch's mean loss; with a compute_metrics and rows that carry `row_index`, also each pair's loss and
        its row (transformers gathers both over ranks in data set order: per-pair records of an evaluation)."""
        inputs = self._prepare_inputs(inputs)
        with torch.no_grad(), self.compute_loss_context_manager():
            loss = self.compute_loss(model, inputs)
        if prediction_loss_only or "row_index" not in inputs:
            return loss.detach(), None, None
        return loss.detach(), self._eval_pair_losses.float(), inputs["row_index"]

    # ---- metrics --------------------------------------------------------------------------------
    def _record(self, mode: str, x: PairLogps, result) -> None:
        # Training metrics describe every row the loss trained on, the pairs that pad an epoch's last batch on
        # some ranks (even_batches) included. gather_for_metrics would drop those by the dataloader's remainder,
        # which a resumed dataloader (skip_first_batches) no longer knows: a resumed run logged the same losses
        # but other rewards/* at that step. Evaluation drops them, as the eval loop does for its predictions.
        gather = self.accelerator.gather if mode == "train" else self.accelerator.gather_for_metrics
        rc, rr = gather(result.chosen_rewards.float()), gather(result.rejected_rewards.float())
        m = self._metrics[mode]
        m["rewards/chosen"].append(rc.mean().item())
        m["rewards/rejected"].append(rr.mean().item())
        m["rewards/accuracies"].append((rc > rr).float().mean().item())
        m["rewards/margins"].append((rc - rr).mean().item())
        m["logps/chosen"].append(gather(x.chosen.detach().float()).mean().item())
        m["logps/rejected"].append(gather(x.rejected.detach().float()).mean().item())
        for key, value in result.metrics.items():
            m[key].append(gather(value.detach().float().reshape(-1)).mean().item())

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        mode = "train" if "loss" in logs else "eval"
        prefix = "" if mode == "train" else "eval_"
        for key, values in self._metrics[mode].items():
            if values:
                logs[prefix + key] = sum(values) / len(values)
        self._metrics[mode].clear()
        super().log(logs, start_time)

    # ---- stateful losses survive checkpoints (the rest of the machinery: ExtraStateMixin) ----------------
    def _extra_state(self) -> dict[str, tuple]:
        extra = super()._extra_state()
        if self.loss_state is not None:
            extra[STATE_FILE] = (lambda: self.loss_state, lambda s: (self.loss_state.clear(), self.loss_state.update(s)))
        return extra


# config batch_layout -> the collator that builds that layout (prefopt.modeling.logprobs tells them apart by their
# keys). The config parser checks the layout's name and its combinations (prefopt.config.parse).
COLLATORS = {"pairs": PairCollator, "shared_prefix": SharedPrefixPairCollator}


def _collator(args, pad_token_id: int):
    return COLLATORS[getattr(args, "batch_layout", "pairs")](pad_token_id=pad_token_id)
