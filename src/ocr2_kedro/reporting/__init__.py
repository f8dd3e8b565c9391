"""Reporting: the tables, markdown and plots a run shows a person (evaluation summaries, the dataset
card, ablation comparisons). Kedro-free; nodes hand it frames and save what it returns."""

from ocr2_kedro.reporting.tables import markdown_table

__all__ = ["markdown_table"]
