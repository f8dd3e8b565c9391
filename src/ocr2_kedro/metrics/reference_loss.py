"""Per-token loss of an evaluated model on the benchmark's reference solutions, per language: the
question as the student is trained on it (the same prompt builder), the reference solution as the
assistant's answer, scored by teacher forcing (`training.loss`). It moves with training even when a
tiny student's pass@1 stays at zero. Besides the per-language loss, each reference's summed loss and
tokens are kept, so two models' losses can be paired over the same references. Kedro-free."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import polars as pl

from ocr2_kedro.generation.prompts import FENCE_TAGS, solution_prompt
from ocr2_kedro.metrics.evaluation import REFERENCE_LOSS, REFERENCE_TOKEN_LOSS
from ocr2_kedro.schemas import conform
from ocr2_kedro.training.loss import per_token_loss, reference_losses

logger = logging.getLogger(__name__)


def reference_examples(rows: pl.DataFrame, language: str) -> list[dict]:
    """Question -> reference solution as the chat the student is trained on (same prompt builder)."""
    tag = FENCE_TAGS[language]
    return [
        {
            "prompt": [
                {
                    "role": "user",
                    "content": solution_prompt(
                        row["question"],
                        language,
                        row["test_type"],
                        row["starter_code"] or "",
                        row["fn_name"],
                    ),
                }
            ],
            "completion": [
                {"role": "assistant", "content": f"```{tag}\n{row['solution'].rstrip()}\n```"}
            ],
        }
        for row in rows.iter_rows(named=True)
    ]


def skipped_reference_loss(
    model: str, languages: Sequence[str], reason: str
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A REFERENCE_LOSS row per language saying why the loss was not measured, and no
    per-reference rows."""
    logger.warning("reference loss of %s not measured: %s", model, reason)
    rows = [
        {"model": model, "language": language, "skipped_reason": reason} for language in languages
    ]
    return conform(rows, REFERENCE_LOSS), pl.DataFrame(schema=REFERENCE_TOKEN_LOSS)


def reference_loss_tables(
    references: pl.DataFrame,
    problems: pl.DataFrame,
    *,
    model: str,
    model_path: str,
    languages: Sequence[str],
    max_length: int,
    batch_size: int,
    dtype: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(one REFERENCE_LOSS row per language: references scored, their tokens, how many were
    truncated to `max_length`, and the loss per token, or why a language has none; one
    REFERENCE_TOKEN_LOSS row per reference scored: its summed loss and tokens)."""
    if references.is_empty():
        return skipped_reference_loss(
            model, languages, "no reference solutions for the benchmark problems"
        )
    joined = references.with_columns(
        pl.int_range(pl.len()).over("question_id", "language").alias("reference_idx")
    ).join(
        problems.select("question_id", "question", "test_type", "starter_code", "fn_name"),
        on="question_id",
        maintain_order="left",
    )
    rows, per_reference = [], []
    for language in languages:
        scored = joined.filter(pl.col("language") == language)
        examples = reference_examples(scored, language)
        if not examples:
            rows.append(
                {
                    "model": model,
                    "language": language,
                    "skipped_reason": f"no {language} reference solutions",
                }
            )
            continue
        losses = reference_losses(
            model_path, examples, max_length=max_length, batch_size=batch_size, dtype=dtype
        )
        rows.append(
            {
                "model": model,
                "language": language,
                "references": len(losses),
                "tokens": sum(loss.tokens for loss in losses),
                "truncated": sum(loss.truncated for loss in losses),
                "loss_per_token": per_token_loss(losses),
            }
        )
        per_reference += [
            {
                "model": model,
                "question_id": question_id,
                "language": language,
                "reference_idx": index,
                "tokens": loss.tokens,
                "nll": loss.nll,
                "truncated": loss.truncated,
            }
            for question_id, index, loss in zip(
                scored["question_id"], scored["reference_idx"], losses, strict=True
            )
        ]
    return conform(rows, REFERENCE_LOSS), conform(per_reference, REFERENCE_TOKEN_LOSS)
