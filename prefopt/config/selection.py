"""The `data_selection:` config block: Selective DPO's data selection in front of a pairwise config.

    dataset: outputs/llama3-instruct/selective-dpo-selection/selected   # where the kept pairs are written
    train_sampling_strategy: sequential                                 # easiest first, no shuffling
    data_selection:
      source: princeton-nlp/llama3-ultrafeedback    # all training pairs
      seeds: [0, 1, 2]
      evals_per_run: 5
      keep_fraction: 0.5
      work_dir: outputs/llama3-instruct/selective-dpo-selection

Gao et al., "Principled Data Selection for Alignment: The Hidden Risks of Difficult Examples" (ICML 2025): rank
the pairs by the held-out loss of reference runs trained on the other half, keep the easiest fraction, train on
them easy to hard. The steps are prefopt.training.selection; this block holds their settings.
"""

from __future__ import annotations

from dataclasses import dataclass

from prefopt.core.errors import InputError
from prefopt.core.fields import arg, build_checked


@dataclass
class DataSelectionConfig:
    source: str = arg(None, "All training pairs to select from (hub id, folder or file, any format prefopt.data "
                            "reads); pairs with identical chosen and rejected are dropped, as the released code does.")
    source_split: str = arg("train", "Split of source.")
    seeds: list = arg([0, 1, 2], "One random split into halves per seed; each half trains a reference run scored on "
                                 "the other half (released: 3 seeds -> 6 reference runs).")
    evals_per_run: int = arg(5, "Evaluations of the held-out half per reference run, evenly spaced over its steps "
                                "(released: 5, step00..step04).", ge=1)
    keep_fraction: float = arg(0.5, "Share of the pairs kept, lowest held-out loss first (released: 0.5; 0.6 for "
                                    "Gemma-2-9B).", gt=0, le=1)
    work_dir: str = arg(None, "Folder of the reference runs, their recorded losses and selection.json; cells that "
                              "share one selection name the same folder (and dataset).")
    keep_reference_models: bool = arg(False, "Keep each reference run's weights (false: deleted once its losses are "
                                             "recorded; a 7-8B run is about 16 GB).")

    def validate(self) -> None:
        if not self.source or not self.work_dir:
            raise ValueError("data_selection needs source (all training pairs) and work_dir (the reference runs)")
        seeds = self.seeds
        if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds) \
                or len(set(seeds)) != len(seeds):
            raise ValueError(f"data_selection.seeds must be distinct integers, got {seeds!r}")


def make_selection_config(values: dict, source: str = "<config>") -> DataSelectionConfig:
    return build_checked(DataSelectionConfig, values, source=source, prefix="data_selection.",
                         what="data_selection key")


def check_selection(data, train, method, source: str) -> DataSelectionConfig | None:
    """The block's rules across groups: a pairwise method, the kept pairs trained in order, written elsewhere."""
    if not getattr(train, "data_selection", None):
        return None
    cfg = make_selection_config(train.data_selection, source)
    if method is None or method.loss is None:
        raise InputError("data_selection needs a pairwise loss (its reference runs score held-out pairs with it)",
                         where=source, fix="use a pairwise loss, e.g. dpo")
    if train.train_sampling_strategy != "sequential":
        raise InputError(f"data_selection trains the kept pairs easiest first, but train_sampling_strategy is "
                         f"{train.train_sampling_strategy!r}", where=source, fix="set train_sampling_strategy: sequential")
    if data.dataset in (cfg.source, cfg.work_dir):
        raise InputError("dataset is where the selected pairs are written: it must differ from data_selection.source "
                         "and work_dir", where=source, fix="e.g. dataset: <work_dir>/selected")
    return cfg
