"""Per-token loss of a model on reference completions (held-out solutions): a signal that moves with
training even when a tiny student's pass@1 stays at zero.

Each example is a chat (`prompt` messages + `completion` assistant message), tokenized with the same
assistant-only labels as SFT (`tokenize_example`), so the number is the SFT objective measured on
data the student never trained on.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ocr2_kedro.training.tokenize import IGNORE_INDEX, tokenize_example


@dataclass(frozen=True)
class ExampleLoss:
    """Summed negative log-likelihood over an example's assistant tokens, and how many there were."""

    nll: float
    tokens: int
    truncated: bool


def reference_losses(
    model_path: str,
    examples: Sequence[dict[str, Any]],
    *,
    max_length: int = 1024,
    batch_size: int = 4,
    dtype: str = "float32",
    device: str | None = None,
) -> list[ExampleLoss]:
    """One `ExampleLoss` per example, in order (teacher forcing, no sampling: deterministic)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    tokenizer = AutoTokenizer.from_pretrained(model_path)
    model = AutoModelForCausalLM.from_pretrained(model_path, dtype=getattr(torch, dtype))
    model.to(device).eval()
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    rows = [tokenize_example(tokenizer, example, max_length) for example in examples]
    results: list[ExampleLoss] = []
    with torch.inference_mode():
        for start in range(0, len(rows), batch_size):
            batch = rows[start : start + batch_size]
            width = max(len(row["input_ids"]) for row in batch)
            input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
            labels = torch.full((len(batch), width), IGNORE_INDEX, dtype=torch.long)
            attention = torch.zeros((len(batch), width), dtype=torch.long)
            for i, row in enumerate(batch):
                length = len(row["input_ids"])
                input_ids[i, :length] = torch.tensor(row["input_ids"])
                labels[i, :length] = torch.tensor(row["labels"])
                attention[i, :length] = 1
            logits = model(
                input_ids=input_ids.to(device), attention_mask=attention.to(device)
            ).logits.float()
            # Token t is predicted from the logits at t - 1.
            shifted = labels[:, 1:].to(device)
            nll = torch.nn.functional.cross_entropy(
                logits[:, :-1].transpose(1, 2), shifted, ignore_index=IGNORE_INDEX, reduction="none"
            )
            counted = shifted != IGNORE_INDEX
            for i, row in enumerate(batch):
                results.append(
                    ExampleLoss(
                        float(nll[i][counted[i]].sum()),
                        int(counted[i].sum()),
                        # tokenize_example keeps the first max_length tokens
                        truncated=len(row["input_ids"]) >= max_length,
                    )
                )
    return results


def per_token_loss(losses: Sequence[ExampleLoss]) -> float:
    """Mean loss per assistant token over all examples (token-weighted); NaN when there are none."""
    tokens = sum(loss.tokens for loss in losses)
    return sum(loss.nll for loss in losses) / tokens if tokens else math.nan
