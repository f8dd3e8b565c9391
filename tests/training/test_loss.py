"""Reference loss: assistant tokens only, deterministic, and lower for real code than for noise."""

from __future__ import annotations

import math
import random

from transformers import AutoTokenizer

from ocr2_kedro.training.loss import per_token_loss, reference_losses
from ocr2_kedro.training.tokenize import IGNORE_INDEX, tokenize_example

SOLUTION = "n = int(input())\nprint(sum(range(1, n + 1)))"


def example(answer: str) -> dict:
    return {
        "prompt": [{"role": "user", "content": "Print 1 + 2 + ... + n for the n read from stdin."}],
        "completion": [{"role": "assistant", "content": f"```python\n{answer}\n```"}],
    }


def test_counts_exactly_the_assistant_tokens_and_is_deterministic(tiny_model_dir):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    labels = tokenize_example(tokenizer, example(SOLUTION), 512)["labels"]
    expected_tokens = sum(label != IGNORE_INDEX for label in labels[1:])
    first = reference_losses(str(tiny_model_dir), [example(SOLUTION)] * 3, batch_size=2)
    again = reference_losses(str(tiny_model_dir), [example(SOLUTION)], batch_size=1)
    assert first[0].tokens == expected_tokens and not first[0].truncated
    # Batching (padding) does not change an example's loss.
    assert abs(first[2].nll - again[0].nll) < 1e-3
    assert math.isfinite(per_token_loss(first)) and per_token_loss([]) != per_token_loss([])


def test_a_real_model_finds_real_code_likelier_than_shuffled_tokens(embedded_model_dir):
    words = SOLUTION.replace("\n", " \n ").split(" ")
    random.Random(0).shuffle(words)
    real, noise = reference_losses(
        str(embedded_model_dir), [example(SOLUTION), example(" ".join(words))]
    )
    assert real.nll / real.tokens < noise.nll / noise.tokens
