"""ZeroEval's answer extraction and scoring (yuchenlin/ZeroEval, src/evaluation/{eval_utils,gsm_eval,mcqa_eval}.py).

The model is asked for a JSON block {"reasoning": ..., "answer": ...}. Its answer is read in two steps:
1. a complete top-level JSON object of the output (balanced braces, braces inside strings counted like any other,
   newlines removed before `json.loads`); which object is `json_pick`:
     last   ZeroEval as of 2024-07-17 (commit 45a7cc0), the day SimPO's README added its Gemma table (our default);
     first  ZeroEval from 2024-07-21 on (commits df25896 for GSM, 31f331a for MMLU-Redux).
   An object that does not parse gives nothing (the other objects are not tried), as in ZeroEval.
2. when that gives no "answer" key: `key_values`, ZeroEval's regex fallback, in its order: `"answer": "v"`,
   then the same across lines with quotes inside the value, then an unquoted value (up to a comma or white
   space), then an unquoted key (`answer: v`, case-sensitive).

Scoring, per task:
    gsm8k  no "answer" key: no answer (wrong). Otherwise str(answer) and the reference (its '#' removed) are both
           sanitised ('$' and ',' removed; a fraction is evaluated to a float) and compared as floats of their first
           number, regex -?\\d+(\\.\\d+)? ; no number on either side is wrong.
    mmlu   no "answer" key, or an answer that is null or "": no answer (wrong). Correct iff the answer equals the
           letter of the correct choice, or contains "<letter>)".
Reason length (ZeroEval's "Reason Lens", the length the SimPO Gemma table prints): the mean number of characters of
the "reasoning" value over the answered items (gsm8k: every item with an "answer" key; mmlu: the non-empty ones).

Where we differ on purpose: ZeroEval evaluates a fraction with Python's eval; `evaluate_fraction` evaluates only
arithmetic (numbers, + - * / // % **, parentheses), so no model output is executed. Anything eval would have
accepted beyond that would be a name or a call, which ZeroEval's own try/except also leaves unchanged in practice.
ZeroEval's Llama-3.1-only \\boxed{} rescue (added after the Gemma table) is not applied. A non-string MMLU answer
(a JSON number) is compared through str(), where ZeroEval's `in` test would raise.
"""

from __future__ import annotations

import ast
import json
import operator
import re
from dataclasses import dataclass

JSON_PICKS = ("last", "first")
LETTERS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_FIRST_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_OPS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
        ast.FloorDiv: operator.floordiv, ast.Mod: operator.mod, ast.Pow: operator.pow,
        ast.USub: operator.neg, ast.UAdd: operator.pos}


def json_objects(text: str) -> list[str]:
    """Every complete top-level {...} span of `text`, by brace counting alone (ZeroEval's stack scan)."""
    spans, depth, start = [], 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                start = i
            depth += 1
        elif ch == "}" and depth:  # a '}' with nothing open is skipped
            depth -= 1
            if depth == 0:
                spans.append(text[start : i + 1])
    return spans


def pick_json(text: str, pick: str = "last") -> dict | None:
    """The first or last complete JSON object of `text`, parsed with its newlines removed; None when it does not
    parse (or is not an object)."""
    spans = json_objects(text)
    if not spans:
        return None
    try:
        value = json.loads(spans[0 if pick == "first" else -1].replace("\n", ""))
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def key_values(text: str, keys=("reasoning", "answer")) -> dict:
    """ZeroEval's regex fallback (`extract_values_from_json` with allow_no_quotes=True): key -> value string."""
    found = {}
    for key in keys:
        match = re.search(f'"{key}"\\s*:\\s*"([^"]*?)"', text)
        if not match:  # a value with quotes inside, possibly over several lines
            match = re.search(f'"{key}"\\s*:\\s*"(.*?)"', text, re.DOTALL)
        if not match:  # an unquoted value, then an unquoted key
            match = re.search(f'"{key}"\\s*:\\s*([^,\\s]*)', text) or re.search(f'{key}\\s*:\\s*([^,\\s]*)', text)
        if match:
            found[key] = match.group(1)
    return found


def parse_output(text: str, pick: str = "last") -> dict:
    """{"reasoning", "answer"} as ZeroEval reads them from a model output ({} when nothing is found)."""
    parsed = pick_json(text, pick)
    if parsed is None or "answer" not in parsed:
        parsed = key_values(text)
    return parsed


def evaluate_fraction(text: str) -> float | None:
    """The value of an arithmetic expression such as '3/4' or '(1+2)/3', or None when `text` is not one."""
    def value(node):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float):
            return node.value
        if isinstance(node, ast.BinOp) and type(node.op) in _OPS:
            left, right = value(node.left), value(node.right)
            if isinstance(node.op, ast.Pow) and abs(right) > 64:
                raise ValueError("exponent too large")
            return _OPS[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp) and type(node.op) in _OPS:
            return _OPS[type(node.op)](value(node.operand))
        raise ValueError("not arithmetic")

    try:
        return float(value(ast.parse(text.strip(), mode="eval").body))
    except (SyntaxError, ValueError, ZeroDivisionError, OverflowError, TypeError):
        return None


def sanitize_number(answer: str) -> str:
    """ZeroEval's `santize_math_answers`: drop '$' and ',', and turn a fraction into its float's str()."""
    answer = answer.replace("$", "").strip().replace(",", "")
    if "/" in answer:
        number = evaluate_fraction(answer)
        if number is not None:
            answer = str(number)
    return answer


def first_number(text: str) -> float | None:
    match = _FIRST_NUMBER.search(text)
    return float(match.group()) if match else None


def gsm_reference(answer: str) -> str:
    """The reference of a GSM8K row: zero-eval's '# 18', or GSM8K's own '<solution>\\n#### 18' (the final answer)."""
    return (answer.split("####")[-1] if "####" in answer else answer).replace("#", "").strip()


@dataclass(frozen=True)
class Scored:
    answered: bool          # an answer was extracted (ZeroEval's "No answer" counts the others)
    correct: bool
    answer: str | None      # the extracted answer, as compared
    reasoning_chars: int | None  # len of the reasoning value, for answered items


def _chars(reasoning) -> int:
    return len(reasoning) if isinstance(reasoning, str) else len(str(reasoning))


def score_gsm(output: str, reference: str, pick: str = "last") -> Scored:
    parsed = parse_output(output, pick)
    if "answer" not in parsed:
        return Scored(False, False, None, None)
    answer = str(parsed["answer"])
    mine, gold = first_number(sanitize_number(answer)), first_number(sanitize_number(gsm_reference(reference)))
    correct = mine is not None and gold is not None and mine == gold
    return Scored(True, correct, answer, _chars(parsed.get("reasoning", "")))


def score_mcqa(output: str, choices: list[str], correct_answer: str, pick: str = "last") -> Scored:
    parsed = parse_output(output, pick)
    answer = parsed.get("answer")
    if answer is None or answer == "":
        return Scored(False, False, None, None)
    letter = LETTERS[choices.index(correct_answer)]
    correct = answer == letter or f"{letter})" in str(answer)
    return Scored(True, correct, str(answer), _chars(parsed.get("reasoning", "")))


def summarize(scored: list[Scored]) -> dict:
    """ZeroEval's table row: Acc and No answer in % of all items, Total, Reason Lens (mean over the answered items;
    None when no item was answered, where ZeroEval would divide by zero)."""
    n = len(scored)
    lengths = [s.reasoning_chars for s in scored if s.answered]
    return {
        "accuracy": 100 * sum(s.correct for s in scored) / n,
        "no_answer": 100 * sum(not s.answered for s in scored) / n,
        "total": n,
        "length": sum(lengths) / len(lengths) if lengths else None,
    }
