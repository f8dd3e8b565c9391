"""Text normalization shared by exact and near-duplicate matching.

Two statements that differ only in layout (whitespace, case, LaTeX dollar signs and braces, unicode
compatibility forms such as the full-width digits or "≤" written as "<=") normalize to the same string,
so the exact pass catches them and the fuzzy scores are not spent on formatting.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_LATEX_NOISE = re.compile(r"[$\\{}]")
_WHITESPACE = re.compile(r"\s+")
_SYMBOLS = {"≤": "<=", "≥": ">=", "≠": "!=", "×": "*", "·": "*", "−": "-", "–": "-", "—": "-"}
_LATEX_WORDS = re.compile(r"\\(le|leq|ge|geq|ne|neq|cdot|times|ldots|dots)\b")
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
    """Lower-cased, NFKC, LaTeX-light, single-spaced form of a statement ('' for None)."""
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _LATEX_WORDS.sub(lambda match: " " + _LATEX_WORD_REPLACEMENT[match.group(1)] + " ", text)
    for symbol, replacement in _SYMBOLS.items():
        text = text.replace(symbol, replacement)
    text = _LATEX_NOISE.sub("", text)
    return _WHITESPACE.sub(" ", text.lower()).strip()


def text_hash(text: str | None) -> str:
    """Hash of the normalized text: equal for statements that differ only in formatting."""
    return hashlib.sha1(normalize_text(text).encode("utf-8")).hexdigest()
