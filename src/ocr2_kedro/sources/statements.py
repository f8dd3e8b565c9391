"""What a problem statement says about judging it: the floating-point tolerance it states and whether
it accepts more than one answer. Shared by every loader whose source publishes statements
(Codeforces, CodeContests, TACO/APPS, LiveCodeBench). Kedro-free, pure text functions.

`stated_tolerance(text)`: the absolute-or-relative error the statement allows ("Your answer will be
considered correct if its absolute or relative error does not exceed 10^{-6}"), as a float in
(0, 1), or None when it states none. The number is read right after an error phrase ("absolute or
relative error", "error", "precision", "tolerance", "within"), in the forms statements write it:
`10^{-6}`, `$$$10^{-6}$$$`, `10^-6`, `10^(-6)`, `10⁻⁶`, `10<sup>-6</sup>`, `1e-9`, `2 \\cdot 10^{-5}`,
`0.000001`, and `10 - 6` (how CodeContests' descriptions render a lost superscript). A statement that
names several numbers gives the first one after the first error phrase.

`accepts_any_answer(text)`: True when the statement says several answers are accepted ("If there
are multiple answers, print any of them", "print any permutation", "any valid answer is accepted",
"the answer is not unique"). Such a problem needs a checker; without one it is marked
(`needs_checker`) and not judged by text. "Print the lexicographically smallest", "print the answer
in any case" and "there are multiple test cases" are not such statements.
"""

from __future__ import annotations

import math
import re

_FLAGS = re.IGNORECASE

# ---------------------------------------------------------------------------------- tolerance

_MINUS = r"[-−–]"  # ASCII hyphen, Unicode minus, en dash
_MANTISSA = r"(?:(?P<m>\d+(?:\.\d+)?)\s*(?:\\cdot|\\times|·|⋅|\*|×|x)\s*)?"
_SUPERSCRIPT = str.maketrans("⁻⁰¹²³⁴⁵⁶⁷⁸⁹", "-0123456789")
# Each form of a small number, with named groups: m (mantissa, optional), e (the exponent's
# digits), or d (a plain decimal).
_NUMBER_FORMS = (
    # 10^{-6}, 10^-6, 10^(-6), 10^{ - 6}, 10**-6, 2·10^{-5}, 2 \cdot 10^{-5}
    _MANTISSA + r"10\s*(?:\^|\*\*)\s*[{(]?\s*" + _MINUS + r"\s*(?P<e>\d+)\s*[})]?",
    # 10<sup>-6</sup>
    _MANTISSA + r"10\s*<sup[^>]*>\s*" + _MINUS + r"\s*(?P<e>\d+)\s*</sup>",
    # 10⁻⁶
    _MANTISSA + r"10(?P<sup>⁻[⁰¹²³⁴⁵⁶⁷⁸⁹]+)",
    # 1e-9, 1E-09, 1.0e-6
    r"(?<![\w.])(?P<m>\d+(?:\.\d+)?)[eE]\s*" + _MINUS + r"\s*(?P<e>\d+)\b",
    # 0.000001
    r"(?<![\w.])(?P<d>0\.\d+)\b",
    # "10 - 6": a superscript lost when the statement was flattened (CodeContests)
    _MANTISSA + r"(?<![\w.])10\s+" + _MINUS + r"\s*(?P<e>\d{1,2})\b(?!\s*[.,]?\d)",
)
# One compiled pattern per form (a group name cannot repeat across alternatives).
_NUMBERS = tuple(re.compile(form, _FLAGS) for form in _NUMBER_FORMS)
_ERROR_PHRASE = re.compile(
    r"\b(?:(?:absolute|relative)\s+(?:(?:or|and|/)\s+(?:absolute|relative)\s+)?"
    r"(?:error|difference|precision)|errors?|precision|tolerance|differs?|difference)\b",
    _FLAGS,
)
_WITHIN = re.compile(
    r"\bwithin\s+(?:an?\s+)?(?:(?:absolute|relative)\s+)?(?:error\s+of\s+)?", _FLAGS
)
# No statement allows less than 1e-18; a smaller number read is something else.
_SMALLEST_EXPONENT = 18
# How far after the phrase the number may be (the rest of the sentence or formula).
_WINDOW = 240


def _value(match: re.Match) -> float | None:
    groups = match.groupdict()
    if groups.get("d"):
        value = float(groups["d"])
    else:
        if groups.get("sup"):
            exponent = int(groups["sup"].translate(_SUPERSCRIPT).lstrip("-"))
        else:
            exponent = int(groups["e"])
        mantissa = float(groups["m"]) if groups.get("m") else 1.0
        if exponent > _SMALLEST_EXPONENT:
            return None
        value = mantissa * 10.0**-exponent
    return value if math.isfinite(value) and 0 < value < 1 else None


def _first_number(text: str, flattened: bool) -> float | None:
    """The first small number written in `text` (None when the first one is not in (0, 1)); the
    flattened form "10 - 6" only when `flattened` (after an error phrase, never after "within")."""
    patterns = _NUMBERS if flattened else _NUMBERS[:-1]
    found = [match for pattern in patterns if (match := pattern.search(text))]
    if not found:
        return None
    return _value(min(found, key=lambda match: (match.start(), -match.end())))


def stated_tolerance(text: str | None) -> float | None:
    """The absolute-or-relative tolerance the statement states, or None (see the module)."""
    if not text:
        return None
    for phrase in (_WITHIN, _ERROR_PHRASE):
        for match in phrase.finditer(text):
            window = text[match.end() : match.end() + _WINDOW].split("\n\n", 1)[0]
            if phrase is _WITHIN:
                # "within 1e-4": the number comes first, or "within" says something else.
                window = window[:40]
            value = _first_number(window, flattened=phrase is _ERROR_PHRASE)
            if value is not None:
                return value
    return None


# ------------------------------------------------------------------------------ several answers

_ANY_ANSWER = tuple(
    re.compile(pattern, _FLAGS | re.DOTALL)
    for pattern in (
        # "If there are multiple answers, print any of them." / "several possible solutions,
        # output any" / "many optimal answers, you may print any" / "more than one way ... any"
        r"\b(?:multiple|several|many|more\s+than\s+one)\s+(?:\w+\s+){0,2}?"
        r"(?:answers?|solutions?|outputs?|ways?|arrays?|permutations?|strings?)\b[^.;]{0,80}?\bany\b",
        # "print any of them", "output any permutation", "you can print any", "print any one"
        r"\b(?:print|output|write|return)(?:\s+out)?\s+any\b"
        r"(?!\s+(?:number|amount)\s+of\b)(?!\s+(?:letter\s+)?case\b)",
        # "any valid answer", "any correct solution", "any of the optimal answers"
        r"\bany\s+(?:of\s+the(?:m|se)?\s+)?(?:valid|correct|possible|suitable|acceptable|optimal)\s+"
        r"(?:answers?|solutions?|outputs?)\b",
        # "any of them will be accepted", "any such answer is considered correct"
        r"\bany\b[^.;]{0,40}?\b(?:will\s+be|is|are)\s+(?:accepted|considered\s+correct)\b",
        # "If the answer is not unique, ..." / "answers are not unique"
        r"\b(?:answers?|solutions?)\s+(?:is|are)\s+not\s+unique\b",
    )
)


def accepts_any_answer(text: str | None) -> bool:
    """Whether the statement says more than one answer is accepted (see the module)."""
    if not text:
        return False
    flat = re.sub(r"\s+", " ", text)
    return any(pattern.search(flat) for pattern in _ANY_ANSWER)


def judging_fields(statement: str | None) -> dict:
    """The PROBLEM fields a statement alone decides: `float_tolerance` (stated_tolerance) and
    `needs_checker` (True when it accepts several answers; null, not False, when it does not say
    so: the statement is silent, which is not a promise that the answer is unique)."""
    return {
        "float_tolerance": stated_tolerance(statement),
        "needs_checker": True if accepts_any_answer(statement) else None,
    }
