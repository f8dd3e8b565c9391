"""Tokenize prompt/completion examples with the student's chat template; loss on assistant tokens only.

Labels are -100 on every prompt token (system, user and the assistant header), so the loss covers
exactly the assistant turn, its end-of-turn token included. This does not depend on the template
carrying `{% generation %}` markers (SmolLM2's does not): the completion starts where the rendered
prompt with the generation header ends.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

IGNORE_INDEX = -100


def tokenize_example(tokenizer: Any, example: dict[str, Any], max_length: int) -> dict[str, Any]:
    """input_ids and labels of one example, cut to `max_length` tokens (keeping the start)."""
    prompt_text = tokenizer.apply_chat_template(
        example["prompt"], tokenize=False, add_generation_prompt=True
    )
    full_text = tokenizer.apply_chat_template(
        example["prompt"] + example["completion"], tokenize=False
    )
    if not full_text.startswith(prompt_text):
        raise ValueError(
            "the chat template renders the prompt differently alone and with its completion; "
            "cannot tell assistant tokens apart"
        )
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + completion_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + completion_ids)[:max_length]
    return {"input_ids": input_ids, "labels": labels, "prompt_tokens": len(prompt_ids)}


def untrainable_reason(tokens: dict[str, Any], max_length: int) -> str | None:
    """Why a tokenized example has nothing to train on (its prompt fills max_length), or None."""
    if all(label == IGNORE_INDEX for label in tokens["labels"]):
        return f"prompt ({tokens['prompt_tokens']} tokens) fills max_length {max_length}"
    return None


def tokenize_examples(
    tokenizer: Any, examples: Iterable[dict[str, Any]], max_length: int
) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """Tokenized rows (input_ids, labels, id, kind) and the examples skipped with the reason.

    An example whose prompt alone fills `max_length` has no trainable token left and is skipped.
    In one process, as Python lists: for small inputs and as the reference for
    `data.tokenize_to_disk`, which does the same into a memory-mapped dataset.
    """
    rows, skipped = [], []
    for example in examples:
        tokens = tokenize_example(tokenizer, example, max_length)
        reason = untrainable_reason(tokens, max_length)
        if reason is not None:
            skipped.append(
                {"id": str(example.get("id")), "kind": str(example.get("kind")), "reason": reason}
            )
            continue
        rows.append(
            {
                "id": str(example.get("id")),
                "kind": str(example.get("kind")),
                "input_ids": tokens["input_ids"],
                "labels": tokens["labels"],
            }
        )
    return rows, skipped


def packing_efficiency(sequence_lengths: Iterable[int], max_length: int) -> float:
    """Share of the packed rows' capacity (rows x max_length) filled by real tokens."""
    lengths = list(sequence_lengths)
    if not lengths:
        return 0.0
    return sum(lengths) / (len(lengths) * max_length)


def padded_share(batches: Iterable[list[int]]) -> float:
    """Share of non-padding tokens when each batch of lengths is padded to its longest member."""
    real = padded = 0
    for lengths in batches:
        if lengths:
            real += sum(lengths)
            padded += max(lengths) * len(lengths)
    return real / padded if padded else 0.0
