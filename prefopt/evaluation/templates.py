"""The chat templates of the papers' eval configs (TEMPLATE=<name>), as Jinja chat templates.

SimPO evaluated with vLLM and prompt strings (eval/alpacaeval2/templates/*.txt) or vLLM server chat templates
(eval/arenahard/templates/*.jinja). vLLM tokenizes a prompt string with the tokenizer's special tokens, so a
template that writes `<|begin_of_text|>` itself got a second BOS (the reason SimPO added `llama3-nobos` in
June 2024). Our generator tokenizes the rendered template with add_special_tokens=False, so each template here
writes exactly one BOS: the prompt is the token sequence the authors meant, without the duplicated BOS.
tests/test_eval_templates.py renders each one against the SimPO repository's template files (a test data folder).

TEMPLATE=model (or no TEMPLATE) keeps the tokenizer's own chat template.
"""

from __future__ import annotations

from prefopt.core.errors import InputError

_LLAMA3 = (
    "{{ bos_token }}{% for m in messages %}"
    "{{ '<|start_header_id|>' + m['role'] + '<|end_header_id|>\n\n' + m['content'] | trim + '<|eot_id|>' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|start_header_id|>assistant<|end_header_id|>\n\n' }}{% endif %}"
)
# Zephyr format with the empty system turn of SimPO's mistral_base.txt.
_MISTRAL_BASE = (
    "{{ bos_token + ' <|system|>\n' + eos_token + '\n' }}{% for m in messages %}"
    "{% if m['role'] != 'system' %}{{ '<|' + m['role'] + '|>\n' + m['content'] + eos_token + '\n' }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<|assistant|>\n' }}{% endif %}"
)
_MISTRAL_INSTRUCT = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'user' %}{{ '[INST] ' + m['content'] | trim + ' [/INST]' }}"
    "{% elif m['role'] == 'assistant' %}{{ ' ' + m['content'] | trim + ' ' + eos_token }}{% endif %}"
    "{% endfor %}"
)
_GEMMA = (
    "{{ bos_token }}{% for m in messages %}"
    "{% if m['role'] == 'system' %}{{ raise_exception('Gemma has no system role') }}{% endif %}"
    "{{ '<start_of_turn>' + ('model' if m['role'] == 'assistant' else m['role']) + '\n' + m['content'] | trim"
    " + '<end_of_turn>\n' }}{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>model\n' }}{% endif %}"
)
# APO's alpaca prompts: BOS + "\n\nHuman: ...\n\nAssistant: ..." with "\n\nAssistant:" as the generation
# prompt and EOS after a final assistant turn (the SFT target): what APO's tools/inference_llm.py feeds alpaca-native.
HH_TEMPLATE = (
    "{{ bos_token }}{% for message in messages %}"
    "{% if message['role'] == 'user' %}{{ '\n\nHuman: ' + message['content'] }}"
    "{% elif message['role'] == 'assistant' %}{{ '\n\nAssistant: ' + message['content'] }}"
    "{% if loop.last %}{{ eos_token }}{% endif %}"
    "{% else %}{{ '\n\n' + message['role'] | capitalize + ': ' + message['content'] }}{% endif %}"
    "{% endfor %}{% if add_generation_prompt %}{{ '\n\nAssistant:' }}{% endif %}"
)

TEMPLATES = {
    "llama3": _LLAMA3,
    "llama3-nobos": _LLAMA3,  # the same token sequence once the generator adds no BOS of its own
    "mistral_base": _MISTRAL_BASE,
    "mistral_instruct": _MISTRAL_INSTRUCT,
    "gemma": _GEMMA,
    "hh": HH_TEMPLATE,
}
KEEP_OWN = (None, "", "model", "tokenizer")  # names that keep the tokenizer's own chat template


def apply_template(tokenizer, name: str | None):
    """Set a template on `tokenizer` (in place) and return it: a name of TEMPLATES, fastchat:<conversation>, or a
    Jinja chat template itself (it contains '{'); None, "model" or "tokenizer" keeps the tokenizer's own."""
    if name in KEEP_OWN:
        if tokenizer.chat_template is None:
            raise InputError("the tokenizer has no chat template and no TEMPLATE was given", where="TEMPLATE",
                             fix=f"pass TEMPLATE=<one of {sorted(TEMPLATES)}>")
        return tokenizer
    if name.startswith("fastchat:"):
        return use_fastchat_conversation(tokenizer, name.partition(":")[2])
    if "{" in name:
        tokenizer.chat_template = name
        return tokenizer
    if name not in TEMPLATES:
        raise InputError(f"unknown TEMPLATE {name!r}", where="TEMPLATE",
                         fix=f"use one of {sorted(TEMPLATES)}, model, fastchat:<conversation> or a Jinja template")
    tokenizer.chat_template = TEMPLATES[name]
    return tokenizer


def use_fastchat_conversation(tokenizer, conv_name: str):
    """TEMPLATE=fastchat:<name>: prompts rendered by FastChat's conversation template <name> (fschat), as FastChat's
    MT-Bench answer generation renders them. A Conversation is Python, not Jinja, so the tokenizer's
    apply_chat_template is replaced on this instance; the template's stop string and stop token ids are left in
    `tokenizer.prefopt_stop` for the caller's GenerationSettings. FastChat tokenizes the prompt with the
    tokenizer's special tokens, so the BOS the tokenizer would add is written in front (once)."""
    try:
        from fastchat.conversation import conv_templates, get_conv_template  # noqa: PLC0415
    except ImportError:
        raise InputError("TEMPLATE=fastchat:... needs fschat", where="TEMPLATE",
                         fix="pip install -r requirements/eval.txt (fschat==0.2.36)") from None
    if conv_name not in conv_templates:
        raise InputError(f"FastChat has no conversation template {conv_name!r}", where="TEMPLATE",
                         fix=f"one of {', '.join(sorted(conv_templates))}")
    probe = tokenizer("x")["input_ids"]
    bos = tokenizer.bos_token if probe and probe[0] == tokenizer.bos_token_id else ""

    def render(messages, add_generation_prompt=False, tokenize=False, **_ignored):
        conv = get_conv_template(conv_name)
        for m in messages:
            if m["role"] == "system":
                conv.set_system_message(m["content"])
            else:
                conv.append_message(conv.roles[0 if m["role"] == "user" else 1], m["content"])
        if add_generation_prompt:
            conv.append_message(conv.roles[1], None)
        text = conv.get_prompt()
        text = text if not bos or text.startswith(bos) else bos + text
        return tokenizer(text, add_special_tokens=False)["input_ids"] if tokenize else text

    conv = get_conv_template(conv_name)
    stop = (conv.stop_str,) if isinstance(conv.stop_str, str) else tuple(conv.stop_str or ())
    tokenizer.apply_chat_template = render
    tokenizer.prefopt_stop = {"stop": stop, "stop_token_ids": tuple(conv.stop_token_ids or ())}
    return tokenizer
