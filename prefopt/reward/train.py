"""Reward-model training and evaluation behind scripts/run_rm.py (APO's train.py, on the HF Trainer).

    model, data, train = parse_config(["training_configs/tiny/rm.yaml"], RewardConfig)
    metrics = train_rm(model, data, train)

The human pairs come from `dataset` (any format `prefopt.reward.data` reads); `apo_dataset` adds the
golden-vs-sample items of `prefopt.reward.converter` (`task_type: apo`). Every eval set (the `eval_split` of
`eval_dataset`/`dataset`, named by the split, plus each of `eval_datasets`) is scored separately: metric prefix
`eval_<name>_`, and `final_eval_results.json` at the end, as APO does. Outputs, manifest, resume and
metrics.json follow the one run skeleton, `prefopt.training.run`. The config is `prefopt.config.reward.RewardConfig`.
"""

from __future__ import annotations

import logging
from pathlib import Path

import torch
from transformers import Trainer

from prefopt.config.reward import RewardConfig
from prefopt.core.errors import InputError
from prefopt.core.manifest import update_manifest, write_json
from prefopt.modeling.loading import DTYPES, disable_dropout
from prefopt.training.run import run_training

from .data import RewardCollator, RewardTokenizer, load_items
from .losses import apo_loss
from .metrics import rm_metrics
from .model import RewardModel, from_backbone, is_reward_model, load_reward_model, reward_settings

logger = logging.getLogger("prefopt")


def gather_rewards(flat: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """(N,) rewards of every response -> (B, K) per item (0 where index is -1)."""
    return flat[index.clamp(min=0)] * (index >= 0).to(flat.dtype)


@torch.no_grad()
def score_items(model: RewardModel, items: list[dict], collator: RewardCollator, batch_size: int = 16,
                device=None) -> list[list[float]]:
    """The reward of every response of every tokenized item, in order."""
    was_training = model.training
    model.eval()
    device = device or next(model.parameters()).device
    out: list[list[float]] = []
    for i in range(0, len(items), batch_size):
        batch = collator(items[i: i + batch_size])
        flat = model(batch["input_ids"].to(device), batch["attention_mask"].to(device)).float().cpu()
        for b, it in enumerate(items[i: i + batch_size]):
            out.append(flat[batch["index"][b, : len(it["input_ids"])]].tolist())
    model.train(was_training)
    return out


def evaluate_sets(model, eval_sets: dict[str, list[dict]], collator, batch_size: int, bins, device=None) -> dict:
    metrics = {}
    for name, items in eval_sets.items():
        rewards = score_items(model, items, collator, batch_size, device)
        for k, v in rm_metrics(rewards, [it["scores"] for it in items], bins).items():
            metrics[f"eval_{name}_{k}"] = v
    return metrics


class RewardTrainer(Trainer):
    """HF Trainer with APO's ranking / APO loss, multi-set evaluation and reward-model saving."""

    def __init__(self, *args, eval_sets: dict[str, list[dict]] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.eval_sets = eval_sets or {}

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        a = self.args
        flat = model(inputs["input_ids"], inputs["attention_mask"])
        rewards = gather_rewards(flat, inputs["index"])
        loss = apo_loss(rewards, inputs["scores"], inputs["mask"], inputs["is_apo"], rm_kl_coeff=a.rm_kl_coeff,
                        apo_loss_coeff=a.apo_loss_coeff, apo_sample_num=a.apo_sample_num,
                        apo_loss_type=a.apo_loss_type)
        return (loss, rewards) if return_outputs else loss

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict:
        metrics = evaluate_sets(self.model, self.eval_sets, self.data_collator, self.args.per_device_eval_batch_size,
                                self.args.calibration_bins, self.args.device)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics

    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        super()._save(output_dir, state_dict)  # model.safetensors: the whole state dict (backbone.*, reward_head)
        if self.args.should_save:
            model = self.accelerator.unwrap_model(self.model)
            model.save_extra(output_dir or self.args.output_dir, add_sep_token=self.args.add_sep_token,
                             max_length=getattr(self, "max_length", None))


def _load(source, split, data_args, args, rt: RewardTokenizer, limit=None, force_type=None):
    items, dropped = load_items(source, split, bad_rows=data_args.bad_rows, limit=limit,
                                drop_score_ties=args.drop_score_ties)
    if force_type:
        items = [dict(it, type=force_type) for it in items]
    before = dict(rt.stats)
    rows = [rt.item(it) for it in items]
    report = {"source": source, "split": split, "items": len(rows), "dropped": dropped,
              "responses": rt.stats["sequences"] - before["sequences"],
              "truncated_left": rt.stats["truncated"] - before["truncated"]}
    logger.info("%s[%s]: %s", source, split, report)
    return rows, report


def initial_reward_model(model_args, args: RewardConfig) -> tuple[RewardModel, dict]:
    """What a run starts from, and a note of it for the manifest.

    A `scripts/run_rm.py` output folder (it has reward_config.json) is a trained reward model: its backbone and head
    are continued (APO's earlier recipe trains the APO RM from the base RM). Anything else is a backbone that gets a
    fresh head. Loading an RM folder as a backbone would find none of its `backbone.*` keys and start from random
    weights, so the two are told apart here.
    """
    name, dtype = model_args.model_name_or_path, DTYPES[model_args.torch_dtype]
    if not is_reward_model(name):
        return from_backbone(name, args.pooling_type, dtype), {"from": name, "kind": "backbone"}
    saved = reward_settings(name)
    for key in ("pooling_type", "add_sep_token"):  # the head was trained on that input layout and pooling
        if key in saved and saved[key] != getattr(args, key):
            raise InputError(f"{key} is {getattr(args, key)!r} but the reward model in {name} was trained with "
                             f"{saved[key]!r}", where=key, fix=f"set {key}: {saved[key]!r} to continue that model")
    return load_reward_model(name, dtype), {"from": name, "kind": "reward-model"}


def train_rm(model_args, data_args, args: RewardConfig) -> dict:
    """Train a reward model (APO's base RM or APO RM); returns the final metrics, also in final_eval_results.json."""

    def build(tokenizer, manifest):
        rt = RewardTokenizer(tokenizer, max_length=data_args.max_length, add_sep_token=args.add_sep_token)
        train_rows, train_report = _load(data_args.dataset, data_args.train_split, data_args, args, rt,
                                         data_args.max_train_samples)
        reports = {"train": train_report}
        if args.task_type == "apo":
            apo_rows, reports["apo"] = _load(args.apo_dataset, "train", data_args, args, rt, force_type="apo")
            train_rows = train_rows + apo_rows
        eval_sets = {}
        if data_args.eval_split:
            name = data_args.eval_split
            eval_sets[name], reports[f"eval_{name}"] = _load(data_args.eval_dataset or data_args.dataset,
                                                             data_args.eval_split, data_args, args, rt,
                                                             data_args.max_eval_samples)
        for name, source in args.eval_datasets.items():
            eval_sets[name], reports[f"eval_{name}"] = _load(source, data_args.eval_split or "test", data_args, args,
                                                             rt, data_args.max_eval_samples)
        model, start = initial_reward_model(model_args, args)
        if args.process_index == 0:
            update_manifest(manifest, reward_model_start=start)
        if args.disable_dropout:
            disable_dropout(model)
        args.remove_unused_columns = False
        trainer = RewardTrainer(
            model=model, args=args, processing_class=tokenizer, data_collator=RewardCollator(tokenizer.pad_token_id),
            train_dataset=train_rows, eval_dataset=next(iter(eval_sets.values()), None), eval_sets=eval_sets,
        )
        trainer.max_length = data_args.max_length
        return trainer, reports

    metrics = run_training("reward", model_args, data_args, args, build, require_chat_template=False)
    if args.process_index == 0:
        write_json(Path(args.output_dir) / "final_eval_results.json",
                   {k: v for k, v in metrics.items() if k.startswith("eval_")})
    return metrics
