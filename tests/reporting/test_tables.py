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
