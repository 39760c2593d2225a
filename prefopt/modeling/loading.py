"""Loading policies, references and tokenizers: hub ids, local folders, and scheme names (`tiny:<size>/<task>`,
built offline by the builder that prefopt.core.plugins.MODEL_SCHEMES names). Every load goes through `resolve`,
the one point where a rehearsal swaps a hub id for its miniature (prefopt.core.rehearsal)."""

from __future__ import annotations

import contextlib
import logging
import os

import torch
from huggingface_hub import snapshot_download
from torch import nn
from transformers import AutoModelForCausalLM, AutoTokenizer
from transformers.integrations import deepspeed as hf_deepspeed

from prefopt.core.errors import InputError
from prefopt.core.plugins import resolve_model_name
from prefopt.core.rehearsal import swap_model

logger = logging.getLogger(__name__)
DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16, "auto": "auto"}


def resolve(name: str) -> str:
    """A scheme name (`tiny:1m/addition`) -> the local folder its builder makes or reuses; while rehearsing
    ($PREFOPT_MODEL_MINIATURES), a hub id -> its miniature's folder; anything else passes."""
    return swap_model(resolve_model_name(name))


def check_local(name: str, field: str = "model_name_or_path") -> None:
    """A name written as a path (/x, ./x, ~/x, x/y/z) must exist: say so instead of a hub-id error."""
    looks_local = name.startswith(("/", "./", "../", "~")) or name.count("/") > 1
    if looks_local and not os.path.exists(os.path.expanduser(name)):
        raise InputError(f"{field}: model folder {name} does not exist",
                         fix="check the path (relative paths are read from the current directory), or give a hub id")


def _offline_hint(name: str, err: Exception) -> InputError:
    local = os.path.exists(name)
    what = f"cannot load {name!r}: {str(err).splitlines()[0][:300]}"
    fix = (
        "check the folder holds config.json and weights"
        if local
        else "pass a local folder, or download the hub id first (huggingface-cli download) while online; "
        "runs here use HF_HUB_OFFLINE=1"
    )
    return InputError(what, fix=fix)


def load_tokenizer(model_args, require_chat_template: bool = True):
    """The run's tokenizer (pad = EOS when it has none). Chat models need a template; reward models read
    hh-rlhf text and pass require_chat_template=False."""
    name = resolve(model_args.tokenizer_name_or_path or model_args.model_name_or_path)
    check_local(name, "tokenizer_name_or_path" if model_args.tokenizer_name_or_path else "model_name_or_path")
    try:
        tok = AutoTokenizer.from_pretrained(name, revision=model_args.model_revision,
                                            trust_remote_code=model_args.trust_remote_code)
    except (OSError, ValueError) as e:
        raise _offline_hint(name, e) from None
    if tok.pad_token_id is None:  # as the handbook does: pad with EOS; padding is masked everywhere
        tok.pad_token = tok.eos_token
    if model_args.chat_template:
        tok.chat_template = model_args.chat_template
    if require_chat_template and tok.chat_template is None:
        raise InputError(f"tokenizer {name!r} has no chat template", fix="set chat_template in the config")
    return tok


@contextlib.contextmanager
def without_zero3_init():
    """Load a full, unpartitioned copy even when the run uses DeepSpeed ZeRO-3.

    The frozen reference of the log-prob pass is a full copy on every rank, each scoring its own batches
    (`prefopt.refshard` says why). Under ZeRO-3, transformers would build it inside `deepspeed.zero.Init`,
    partitioned, so that every forward became a collective. transformers keeps the switch in a module-level
    weak reference; it is cleared for the duration and restored after.
    """
    saved = hf_deepspeed._hf_deepspeed_config_weak_ref
    hf_deepspeed._hf_deepspeed_config_weak_ref = None
    try:
        yield
    finally:
        hf_deepspeed._hf_deepspeed_config_weak_ref = saved


def load_model(name: str, model_args):
    name = resolve(name)
    check_local(name, "model_name_or_path" if name == model_args.model_name_or_path else "reference_model_name_or_path")
    if model_args.trust_remote_code:
        logger.warning("trust_remote_code is ON for %s (opted in by the config)", name)
    kwargs = {"revision": model_args.model_revision, "trust_remote_code": model_args.trust_remote_code,
              "dtype": DTYPES[model_args.torch_dtype]}
    if model_args.attn_implementation:
        kwargs["attn_implementation"] = model_args.attn_implementation
    try:
        return AutoModelForCausalLM.from_pretrained(name, **kwargs)
    except (OSError, ValueError) as e:
        raise _offline_hint(name, e) from None


def local_folder(name: str, revision: str = "main") -> str:
    """The local folder behind a model name (a hub id resolves to its cached snapshot)."""
    name = resolve(name)
    if os.path.isdir(name):
        return name
    return snapshot_download(name, revision=revision, local_files_only=True)


def disable_dropout(model: nn.Module) -> None:
    """Zero every dropout probability: preference losses compare log-probs that dropout would make noisy."""
    for module in model.modules():
        if isinstance(module, nn.Dropout):
            module.p = 0.0
    for key in ("attention_dropout", "hidden_dropout", "dropout"):
        if hasattr(model.config, key):
            setattr(model.config, key, 0.0)
