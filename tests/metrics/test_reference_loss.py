"""Reference loss without a model: the chats it scores, and the rows that say why a language has
no loss (the loss itself is measured on a tiny model in tests/pipelines/evaluation)."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.metrics.evaluation import REFERENCE_LOSS, REFERENCE_TOKEN_LOSS
from ocr2_kedro.metrics.reference_loss import (
    reference_examples,
    reference_loss_tables,
    skipped_reference_loss,
)


def test_a_reference_is_scored_as_the_training_chat_with_a_fenced_answer():
    rows = pl.DataFrame(
        {
            "question": ["Print 1."],
            "test_type": ["stdin"],
            "starter_code": [None],
            "fn_name": [None],
            "solution": ["int main() { return 0; }\n\n"],
        }
    )
    [example] = reference_examples(rows, "cpp")
    assert example["prompt"][0]["role"] == "user" and "Print 1." in example["prompt"][0]["content"]
    assert example["completion"] == [
        {"role": "assistant", "content": "```cpp\nint main() { return 0; }\n```"}
    ]


def test_no_references_give_a_reason_per_language():
    empty = pl.DataFrame(schema={"question_id": pl.String, "language": pl.String})
    table, per_reference = reference_loss_tables(
        empty,
        pl.DataFrame(),
        model="base",
        model_path="unused",
        languages=["python", "cpp"],
        max_length=16,
        batch_size=1,
        dtype="float32",
    )
    assert table.schema == REFERENCE_LOSS
    assert (
        table["skipped_reason"].to_list()
        == ["no reference solutions for the benchmark problems"] * 2
    )
    assert per_reference.schema == REFERENCE_TOKEN_LOSS and per_reference.is_empty()
    skipped, none = skipped_reference_loss("m", ["python"], "off")
    assert skipped["loss_per_token"].to_list() == [None]
    assert none.schema == REFERENCE_TOKEN_LOSS and none.is_empty()
