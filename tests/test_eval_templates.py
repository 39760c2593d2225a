"""Eval templates render the SimPO repository's prompts (one BOS), and GENERATION strings parse as documented."""

from __future__ import annotations

import dataclasses

import jinja2
import pytest

from prefopt.core.errors import InputError
from prefopt.evaluation.settings import GenerationSettings, parse_generation
from prefopt.evaluation.templates import TEMPLATES, apply_template


class _Tok:
    """Just enough of a tokenizer for apply_chat_template's Jinja: special tokens and the template."""

    bos_token, eos_token = "<BOS>", "</EOS>"
    chat_template = None

    def render(self, messages, add_generation_prompt=True):
        env = jinja2.Environment()
        env.globals["raise_exception"] = lambda msg: (_ for _ in ()).throw(ValueError(msg))
        return env.from_string(self.chat_template).render(messages=messages, bos_token=self.bos_token,
                                                         eos_token=self.eos_token,
                                                         add_generation_prompt=add_generation_prompt)


SIMPO_BOS = {"llama3": "<|begin_of_text|>", "mistral_base": "<s>"}


@pytest.mark.parametrize("name", ["llama3", "llama3-nobos", "mistral_base", "mistral_instruct"])
def test_single_turn_equals_simpo_alpacaeval_template(name, shared_data):
    simpo = (shared_data("simpo_repo_assets") / f"eval/alpacaeval2/templates/{name}.txt").read_text()
    tok = _Tok()
    bos = SIMPO_BOS.get(name.removesuffix("-nobos"), "")
    tok.bos_token, tok.eos_token = bos or "<s>", "</s>"
    ours = apply_template(tok, name).render([{"role": "user", "content": "Say hi."}])
    expected = simpo.replace("{instruction}", "Say hi.")
    if name == "llama3-nobos" or name == "mistral_instruct":
        # vLLM put the tokenizer's BOS before these prompt strings; our generator adds none, so the template does.
        expected = tok.bos_token + expected
    assert ours == expected


@pytest.mark.parametrize("name", ["llama3", "mistral_instruct", "gemma"])
def test_multi_turn_equals_simpo_arenahard_template(name, shared_data):
    simpo = (shared_data("simpo_repo_assets") / f"eval/arenahard/templates/{name}.jinja").read_text()
    conv = [{"role": "user", "content": " Q1 "}, {"role": "assistant", "content": "A1"}, {"role": "user", "content": "Q2"}]
    ref, ours = _Tok(), _Tok()
    ref.chat_template = simpo
    apply_template(ours, name)
    expected = ref.render(conv)
    if name == "mistral_instruct":  # SimPO's server template relied on vLLM adding the BOS
        expected = ours.bos_token + expected
    assert ours.render(conv) == expected


def test_gemma_refuses_a_system_turn():
    tok = apply_template(_Tok(), "gemma")
    with pytest.raises(ValueError, match="system"):
        tok.render([{"role": "system", "content": "x"}, {"role": "user", "content": "y"}])


def test_unknown_template_and_missing_template():
    with pytest.raises(InputError, match="unknown TEMPLATE"):
        apply_template(_Tok(), "llama2")
    with pytest.raises(InputError, match="no chat template"):
        apply_template(_Tok(), None)


def test_parse_generation_registry_strings():
    s = parse_generation("do_sample=true temperature=0.9 top_p=1.0 max_new_tokens=4096 stop_token_ids=128001,128009")
    assert (s.sampling, s.temperature, s.max_new_tokens, s.stop_token_ids) == (True, 0.9, 4096, (128001, 128009))
    assert s.generate_kwargs()["extra_eos_ids"] == [128001, 128009]
    greedy = parse_generation("temperature=0.0 max_new_tokens=4096 stop_token_ids=2")
    assert not greedy.sampling and "temperature" not in greedy.generate_kwargs()
    # vLLM semantics: a temperature alone samples (SimPO's Mistral-Instruct config sets neither do_sample nor top_p)
    assert parse_generation("temperature=0.5 max_new_tokens=2048").sampling


def test_fastchat_default_per_category():
    s = parse_generation("fastchat-default")
    assert s.max_new_tokens == 1024
    assert s.for_category("writing").temperature == 0.7 and s.for_category("writing").sampling
    assert not s.for_category("math").sampling and s.for_category("stem").temperature == 0.1
    assert dataclasses.replace(s, per_category_temperature=False).for_category("writing") == \
        dataclasses.replace(s, per_category_temperature=False)


@pytest.mark.parametrize("bad", ["temperature=hot", "beam=4", "nonsense", "max_new_tokens=0", "do_sample=maybe"])
def test_parse_generation_errors_name_the_key(bad):
    with pytest.raises(InputError, match="GENERATION"):
        parse_generation(bad)


def test_generation_settings_fields_have_help():
    assert all(f.metadata.get("help") for f in dataclasses.fields(GenerationSettings))
    assert set(TEMPLATES) >= {"llama3", "mistral_base", "mistral_instruct", "gemma"}


def test_benchmarks_refuse_several_answers_per_question():
    """num_return_sequences is eval-rm-score's (several scored answers per query); a judged benchmark stops early."""
    from prefopt.evaluation.answers import Question, generate_answers

    with pytest.raises(InputError, match="one answer per question") as e:
        generate_answers(None, None, [Question("q1", ["hi"])], parse_generation("num_return_sequences=2"))
    assert "eval-rm-score" in str(e.value)
