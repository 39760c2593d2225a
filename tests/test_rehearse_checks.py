"""The rehearsal's template checks (prefopt.toy.rehearse.checks.check_sequence) on sequences written by hand, one
per tokenizer layout the table holds: Llama-3-Instruct (EOS is the end-of-turn token), Gemma-2 (end of turn, a
newline, then the EOS prefopt appends), GPT-NeoX (BOS and EOS are one token, no end-of-turn token), and the two
failures the check exists for (a second BOS, a response whose end of turn was cut off), told apart from a response
the length budget cut (the Gemma-2 SamS rows of 1024 tokens once read "end of turn: FAIL")."""

from __future__ import annotations

from prefopt.toy.rehearse.checks import check_sequence, check_text


class Tok:
    """Just what check_sequence reads from a tokenizer: ids of BOS / EOS, and id -> text."""

    def __init__(self, vocab: dict[int, str], bos: int | None, eos: int):
        self.vocab, self.bos_token_id, self.eos_token_id = vocab, bos, eos

    def decode(self, ids):
        return "".join(self.vocab[i] for i in ids)

    def convert_ids_to_tokens(self, ids):
        return [self.vocab[i] for i in ids]


LLAMA3 = Tok({128000: "<|begin_of_text|>", 128006: "<|start_header_id|>", 128007: "<|end_header_id|>",
              128009: "<|eot_id|>", 9906: "Hello", 1917: " world", 271: "\n\n", 78191: "assistant"}, 128000, 128009)
GEMMA = Tok({2: "<bos>", 1: "<eos>", 106: "<start_of_turn>", 107: "<end_of_turn>", 108: "\n", 5: "Hi", 6: " there"}, 2, 1)
NEOX = Tok({0: "<|endoftext|>", 11: "\n\nHuman: hi\n\nAssistant:", 12: " No", 13: "."}, 0, 0)


def test_llama3_instruct_eos_is_the_end_of_turn_and_closes_the_response():
    prompt = [128000, 128006, 9906, 128007, 271]
    response = [128006, 78191, 128007, 271, 9906, 1917, 128009]  # role header in the response, then <|eot_id|>
    c = check_sequence(LLAMA3, prompt, response, eot=128009)
    assert c["one_bos_first"] and c["ends_with_eos"] and c["end_of_turn_closes_response"]
    assert c["bos_positions"] == [0] and c["response_tail"] == ["Hello", " world", "<|eot_id|>"]


def test_gemma_end_of_turn_then_newline_then_appended_eos():
    c = check_sequence(GEMMA, [2, 106, 5, 107, 108, 106], [5, 6, 107, 108, 1], eot=107)
    assert c["one_bos_first"] and c["end_of_turn_closes_response"] and c["ends_with_eos"]


def test_gpt_neox_final_eos_is_not_a_second_bos():
    # <|endoftext|> is BOS and EOS: prefopt prepends it and appends it; only the first counts as a BOS
    c = check_sequence(NEOX, [0, 11], [12, 13, 0], eot=None)
    assert c["bos_positions"] == [0] and c["one_bos_first"] and c["end_of_turn_closes_response"]
    # the SamS authors' code (eric-mitchell DPO) adds no BOS: its row has none, which the check reports
    assert check_sequence(NEOX, [11], [12, 13, 0], eot=None)["bos_positions"] == []


def test_a_second_bos_and_a_lost_end_of_turn_fail():
    doubled = check_sequence(LLAMA3, [128000, 128000, 9906], [1917, 128009], eot=128009)
    assert doubled["bos_positions"] == [0, 1] and not doubled["one_bos_first"]
    cut = check_sequence(GEMMA, [2, 5], [5, 6, 1], eot=107)  # EOS appended but no <end_of_turn> before it
    assert not cut["end_of_turn_closes_response"]


def test_table_text_says_who_put_the_bos_there():
    ex = check_sequence(NEOX, [0, 11], [12, 13, 0], eot=None)
    t = {"checked": True, "one_bos_first": True, "end_of_turn_closes_response": True, "end_of_turn": None,
         "example": ex, "bos_handling": "prepended (not in the template): 3"}
    assert check_text(t).startswith("1 BOS first (prepended by prefopt, not by the template): ok;")
    t["bos_handling"] = "from the template: 3"
    assert check_text(t).startswith("1 BOS first: ok;")


def test_a_response_cut_at_max_length_is_not_a_lost_end_of_turn():
    # 2 + 3 = max_length 5: the response was cut by the length budget, so no end of turn and no EOS is expected
    cut = check_sequence(GEMMA, [2, 5], [5, 6, 6], eot=107, max_length=5)
    assert cut["cut_at_max_length"] and cut["end_of_turn_closes_response"] and cut["ends_with_eos"]
    # the same response one token shorter than the budget really lost its end of turn
    lost = check_sequence(GEMMA, [2, 5], [5, 6, 6], eot=107, max_length=6)
    assert not lost["cut_at_max_length"] and not lost["end_of_turn_closes_response"] and not lost["ends_with_eos"]
    t = {"checked": True, "one_bos_first": True, "end_of_turn_closes_response": True, "end_of_turn": "<end_of_turn>",
         "example": cut, "bos_handling": "from the template: 3", "cut_at_max_length": 1, "sequences": 6,
         "max_length": 5}
    assert "end of turn <end_of_turn>: ok (1 of 6 responses cut at max_length 5)" in check_text(t)
