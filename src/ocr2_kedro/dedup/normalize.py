"""Text normalization shared by exact and near-duplicate matching.

Two statements that differ only in layout (spacing, case, LaTeX dollar signs and braces, unicode
compatibility forms such as the full-width digits or "≤" written as "<=") normalize to the same string,
so the exact pass catches them and the fuzzy scores are not spent on formatting. Line breaks are kept
(one "\n" per run of blank lines): they are where headings, list items and doctest lines end, which the
order-robust verification (`ocr2_kedro.dedup.sentences`) splits on. `text_hash` ignores them, so two
statements that differ only in line breaks still hash the same.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_LATEX_NOISE = re.compile(r"[$\\{}]")
_WHITESPACE = re.compile(r"[^\S\n]+")
_LINE_BREAKS = re.compile(r" ?\n[\s]*")
# Superscript exponents ("10⁵") become "10^5" before NFKC, which would turn them into plain digits
# ("105") and change the number.
_SUPERSCRIPTS = re.compile("[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")
_SYMBOLS = {"≤": "<=", "≥": ">=", "≠": "!=", "×": "*", "·": "*", "−": "-", "–": "-", "—": "-"}
# Case-insensitive: an upper-cased statement ("1 \\LE N") is still LaTeX.
_LATEX_WORDS = re.compile(r"\\(le|leq|ge|geq|ne|neq|cdot|times|ldots|dots)\b", re.IGNORECASE)
_LATEX_WORD_REPLACEMENT = {
    "le": "<=",
    "leq": "<=",
    "ge": ">=",
    "geq": ">=",
    "ne": "!=",
    "neq": "!=",
    "cdot": "*",
    "times": "*",
    "ldots": "...",
    "dots": "...",
}


def normalize_text(text: str | None) -> str:
    """Lower-cased, NFKC, LaTeX-light form of a statement with single spaces and single line breaks
    ('' for None)."""
    if not text:
        return ""
    text = _SUPERSCRIPTS.sub(
        lambda match: "^" + match.group(0).translate(_SUPERSCRIPT_DIGITS), text
    )
    text = unicodedata.normalize("NFKC", text)
    text = _LATEX_WORDS.sub(
        lambda match: " " + _LATEX_WORD_REPLACEMENT[match.group(1).lower()] + " ", text
    )
    for symbol, replacement in _SYMBOLS.items():
        text = text.replace(symbol, replacement)
    text = _LATEX_NOISE.sub("", text)
    text = _WHITESPACE.sub(" ", text.lower())
    return _LINE_BREAKS.sub("\n", text).strip()


def text_hash(text: str | None) -> str:
    """Hash of the normalized text: equal for statements that differ only in formatting."""
    return hashlib.sha1(" ".join(normalize_text(text).split()).encode("utf-8")).hexdigest()
