"""Prompt token counting for the question budget (OCR dropped questions over ~3,200 teacher tokens)."""

from __future__ import annotations

import logging

logger = logging.getLogger(__name__)

# Rough characters per token of BPE tokenizers on English + code, used only when no tokenizer loads.
APPROX_CHARS_PER_TOKEN = 4


class TokenCounter:
    """Counts tokens with the teacher's tokenizer (`tokenizer`: "embedded", a path or a hub id).

    Where the tokenizer cannot be loaded (an API-only model, an offline box) it falls back to an
    estimate of one token per 4 characters, and says so.
    """

    def __init__(self, tokenizer: str | None) -> None:
        self.name = tokenizer
        self.exact = False
        self._tokenizer = None
        if tokenizer:
            try:
                from transformers import AutoTokenizer

                from ocr2_kedro.models import resolve_model_path

                try:
                    path = resolve_model_path(tokenizer)
                except FileNotFoundError:
                    path = tokenizer
                self._tokenizer = AutoTokenizer.from_pretrained(path)
                self.exact = True
            except (OSError, ValueError) as error:
                logger.warning(
                    "tokenizer %r not loadable (%s): counting ~%d characters per token",
                    tokenizer,
                    error,
                    APPROX_CHARS_PER_TOKEN,
                )

    def count(self, text: str) -> int:
        if self._tokenizer is not None:
            return len(self._tokenizer.encode(text, add_special_tokens=False))
        return -(-len(text) // APPROX_CHARS_PER_TOKEN)
