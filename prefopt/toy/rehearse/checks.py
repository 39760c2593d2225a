"""Template checks on real rendered rows: what the cell's own data path makes of the first rows of its training
split, with its tokenizer (the miniature's, i.e. the real vocabulary and special ids) and chat template.

Per row: how many BOS tokens the sequence holds and where (exactly one, first), whether the template's
end-of-turn token closes each response where the template puts it, and which tokens count as response tokens
(the first and last few, as tokens). Runs in the rehearsal's own process, with the rehearsal's variables set.
"""

from __future__ import annotations

from prefopt.config import DataArguments, ModelArguments
from prefopt.core.fields import config_fields
from prefopt.modeling.loading import load_tokenizer
from prefopt.training.preference import tokenized_pairs_loader
from prefopt.training.sft import sft_loader

ROWS = 3
SENTINEL = "Zq7 sentinel answer"


def end_of_turn(tok) -> int | None:
    """The special token the chat template writes right after an assistant message (None: it writes none)."""
    conv = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": SENTINEL}]
    text = tok.apply_chat_template(conv, tokenize=False)
    tail = text[text.rindex(SENTINEL) + len(SENTINEL):]
    specials = set(tok.all_special_ids) | {i for i, t in tok.added_tokens_decoder.items() if t.special}
    for tid in tok(tail, add_special_tokens=False)["input_ids"]:
        if tid in specials:
            return tid
        if tok.decode([tid]).strip():
            return None  # plain text follows the answer before any special token
    return None


def _tokens(tok, ids: list[int]) -> list[str]:
    return tok.convert_ids_to_tokens(ids)


def check_sequence(tok, prompt: list[int], response: list[int], eot: int | None, max_length: int | None = None
                   ) -> dict:
    """The checks of one rendered sequence. A sequence that fills max_length had its response cut by the length
    budget (prefopt.data truncates the response's end last): its missing end of turn and EOS are the truncation,
    not the template, so those two checks hold for it and `cut_at_max_length` says why."""
    seq = prompt + response
    cut = max_length is not None and len(seq) >= max_length
    bos = tok.bos_token_id
    if response and response[-1] == tok.eos_token_id == bos:
        seq = seq[:-1]  # GPT-NeoX: BOS and EOS are one token; the final EOS is no second BOS
    positions = [i for i, t in enumerate(seq) if t == bos] if bos is not None else []
    body = response
    if body and body[-1] == tok.eos_token_id and tok.eos_token_id != eot:
        body = body[:-1]  # the EOS prefopt appends after the template's end of turn
    while body and body[-1] != eot and not tok.decode(body[-1:]).strip():
        body = body[:-1]  # whitespace the template writes after its end-of-turn token
    return {"bos_positions": positions[:4], "one_bos_first": bos is None or positions == [0],
            "ends_with_eos": cut or (bool(response) and response[-1] == tok.eos_token_id),
            "end_of_turn_closes_response": cut or eot is None or (bool(body) and body[-1] == eot),
            "cut_at_max_length": cut,
            "response_head": _tokens(tok, response[:4]), "response_tail": _tokens(tok, response[-3:]),
            "n_prompt": len(prompt), "n_response": len(response)}


def template_checks(raw: dict, kind: str) -> dict:
    """Checks on the first ROWS rows of the training split, or why none ran (reward models read plain text)."""
    if kind == "rm":
        return {"checked": False, "why": "reward model: hh text with a separator token, no chat template"}
    model = ModelArguments(**{k: v for k, v in raw.items() if k in config_fields(ModelArguments)})
    data = DataArguments(**{k: v for k, v in raw.items() if k in config_fields(DataArguments)})
    tok = load_tokenizer(model)
    eot = end_of_turn(tok)
    load = sft_loader(data, tok) if kind == "sft" else tokenized_pairs_loader(data, tok)
    rows, report = load(data.dataset, data.train_split, ROWS)
    seqs = [(r["prompt_ids"], r["response_ids"]) for r in rows] if kind == "sft" else \
        [(r["prompt_ids"], r[side]) for r in rows for side in ("chosen_ids", "rejected_ids")]
    checks = [check_sequence(tok, p, resp, eot, data.max_length) for p, resp in seqs]
    keys = ("one_bos_first", "ends_with_eos", "end_of_turn_closes_response")
    return {"checked": True, "rows": len(rows), "sequences": len(checks),
            "bos": tok.bos_token, "eos": tok.eos_token, "end_of_turn": tok.convert_ids_to_tokens(eot) if eot else None,
            "role_header_in_response": bool(raw.get("role_header_in_response")) if kind != "sft" else False,
            **{k: all(c[k] for c in checks) for k in keys}, "cut_at_max_length": sum(c["cut_at_max_length"] for c in checks),
            "max_length": data.max_length,
            "bos_handling": report.settings.get("bos"), "example": checks[0] if checks else None,
            "failures": [c for c in checks if not all(c[k] for k in keys)][:2]}


def check_text(t: dict) -> str:
    """One table cell: BOS / end of turn / response tokens."""
    if not t.get("checked"):
        return f"not checked: {t.get('why')}"
    ex = t["example"] or {}
    flag = {True: "ok", False: "FAIL"}
    head = " ".join(ex.get("response_head", []))
    tail = " ".join(ex.get("response_tail", []))
    # a BOS the template does not write (GPT-NeoX's hh prompt format) is prefopt's: say so, the authors' rows may lack it
    who = " (prepended by prefopt, not by the template)" if str(t.get("bos_handling")).startswith("prepended") else ""
    closed = flag[t["end_of_turn_closes_response"]]
    if t.get("cut_at_max_length"):  # a response the length budget cut ends without its end of turn, by design
        closed += f" ({t['cut_at_max_length']} of {t.get('sequences')} responses cut at max_length {t.get('max_length')})"
    return (f"1 BOS first{who}: {flag[t['one_bos_first']]}; end of turn {t['end_of_turn'] or '(none in template)'}: "
            f"{closed}; response = `{head} ... {tail}`")
