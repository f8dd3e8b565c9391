"""The one markdown table renderer."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.reporting import markdown_table


def test_a_titled_table_with_floats_rounded_and_gaps_empty():
    table = pl.DataFrame({"name": ["a|b", None], "value": [0.123456, float("nan")]})
    assert markdown_table("Side by side", table) == (
        "# Side by side\n\n| name | value |\n|---|---|\n| a\\|b | 0.1235 |\n|  |  |\n"
    )
    assert markdown_table(None, table, decimals=1).splitlines()[0] == "| name | value |"


def test_gaps_and_numbers_can_be_written_the_way_a_report_wants():
    # The dataset card's style: gaps as an en dash, 3 decimals below 10 and 1 above.
    table = pl.DataFrame({"": ["mean", "max", "n"], "value": [1.23456, 300.0, None]})
    card = markdown_table(
        None, table, missing="–", number=lambda v: f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}"
    )
    assert card == "|  | value |\n|---|---|\n| mean | 1.235 |\n| max | 300.0 |\n| n | – |\n"
