"""Ablation nodes: nested seeded subsets, sizes scaled to the export, overrides checked by name."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.metrics.evaluation import REFERENCE_TOKEN_LOSS
from ocr2_kedro.parameters.ablations import AblationsSettings, VariantSettings
from ocr2_kedro.pipelines.ablations.nodes import (
    compare_variants,
    compare_variants_paired,
    select_variant_data,
)
from ocr2_kedro.schemas import conform
from tests.support.parameters import stage_settings

SWEEP = stage_settings(
    "ablations", {"seed": 13, "full_size": 2_500_000, "scale_to_available": True}
)


def variant(name: str, **data) -> VariantSettings:
    return VariantSettings(name=name, sweep="s", data=data)


def sweep(**changes) -> AblationsSettings:
    return SWEEP.model_copy(update=changes)


def export(rows: int = 200) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [f"g{i}" for i in range(rows)],
            "language": ["python" if i % 3 else "cpp" for i in range(rows)],
            "pass_rate": [1.0 if i % 4 == 0 else 0.5 for i in range(rows)],
        }
    )


def test_sizes_scale_to_the_export_and_the_smaller_subset_is_inside_the_larger():
    data = export()
    small, small_info = select_variant_data(data, SWEEP, variant("s", nominal_size=737_000))
    large, large_info = select_variant_data(data, SWEEP, variant("l", nominal_size=2_500_000))
    assert small_info["nominal_size"] == 737_000 and small_info["actual_size"] == 59  # 29.48%
    assert large.height == 200 and large_info["available_rows"] == 200
    assert set(small["id"]) <= set(large["id"])
    # Deterministic: the same subset every time, whatever the row order of the export.
    again, _ = select_variant_data(data.reverse(), SWEEP, variant("s", nominal_size=737_000))
    assert set(again["id"]) == set(small["id"])
    other_seed, _ = select_variant_data(data, sweep(seed=14), variant("s", nominal_size=737_000))
    assert set(other_seed["id"]) != set(small["id"])


def test_filters_then_size_and_a_size_larger_than_the_export_is_refused():
    data = export()
    passing, info = select_variant_data(data, SWEEP, variant("p", execution_filter="passing"))
    assert (passing["pass_rate"] == 1.0).all() and info["actual_size"] == 50
    cpp, _ = select_variant_data(data, SWEEP, variant("c", languages=["cpp"]))
    assert set(cpp["language"]) == {"cpp"}
    with pytest.raises(ValueError, match="scale_to_available"):
        select_variant_data(
            data, sweep(scale_to_available=False), variant("x", nominal_size=737_000)
        )


def test_the_comparison_lines_variants_up_with_a_plot():
    results = [
        pl.DataFrame(
            {
                "variant": [name] * 2,
                "actual_size": [size] * 2,
                "language": ["python", "all"],
                "pass_at_1": [0.1, 0.2],
                "reference_loss": [1.2, 1.1],
            }
        )
        for name, size in (("size_2500k", 27), ("size_737k", 8))
    ]
    table, markdown, figure = compare_variants(*results)
    assert table.filter(pl.col("language") == "all")["variant"].to_list() == [
        "size_737k",
        "size_2500k",
    ]
    assert "| size_737k |" in markdown and "reference_loss" in markdown
    assert len(figure.data) == 8  # 2 languages x 2 metrics x (bar + by-size line)


def _variant(name: str, size: int, pass_at_1: list[float], nll: list[float]) -> list[pl.DataFrame]:
    """(result row, problem results, per-reference losses) of a variant: three problems in Python
    at t=0.6; every variant's model is "student", as in a sweep."""
    result = pl.DataFrame({"variant": [name] * 2, "actual_size": [size] * 2})
    problems = pl.DataFrame(
        {
            "model": ["student"] * 3,
            "question_id": ["q1", "q2", "q3"],
            "language": ["python"] * 3,
            "temperature": [0.6] * 3,
            "n": [1] * 3,
            "pass_at_1": pass_at_1,
        }
    )
    losses = conform(
        [
            {"model": "student", "question_id": q, "language": "python", "reference_idx": 0}
            | {"tokens": tokens, "nll": loss, "truncated": False}
            for q, tokens, loss in zip(["q1", "q2", "q3"], [10, 20, 40], nll, strict=True)
        ],
        REFERENCE_TOKEN_LOSS,
    )
    return [result, problems, losses]


def test_every_variant_is_compared_paired_against_the_first_declared_one():
    bootstrap = stage_settings("evaluation").bootstrap
    tables = [
        *_variant("size_737k", 8, [0.0, 1.0, 0.0], [12.0, 24.0, 48.0]),  # 1.2 per token
        *_variant("size_2500k", 27, [1.0, 1.0, 0.0], [11.0, 22.0, 44.0]),  # 1.1 on every one
        *_variant("size_100", 1, [0.0, 1.0, 0.0], [12.0, 24.0, 48.0]),  # the first, again
    ]
    table, markdown, figure, metrics = compare_variants_paired(bootstrap, *tables)
    assert set(table["baseline"]) == {"size_737k"}
    assert table["comparison"].unique(maintain_order=True).to_list() == [
        "size_2500k_vs_size_737k",
        "size_100_vs_size_737k",
    ]
    rows = {
        (row["comparison"], row["metric"], row["language"]): row
        for row in table.iter_rows(named=True)
    }
    solved = rows[("size_2500k_vs_size_737k", "pass_at_1", "all")]
    # Per-problem differences 1, 0, 0: resamples give 0, 1/3, 2/3 or 1; P(0) = 8/27 > 2.5%.
    assert (solved["difference"], solved["ci_low"], solved["units"]) == (1 / 3, 0.0, 3)
    assert not solved["significant"]
    loss = rows[("size_2500k_vs_size_737k", "reference_loss", "python")]
    assert loss["difference"] == pytest.approx(-0.1) and loss["significant"]
    same = rows[("size_100_vs_size_737k", "reference_loss", "all")]
    assert (same["difference"], same["ci_low"], same["ci_high"]) == (0.0, 0.0, 0.0)
    assert "Ablations: paired differences against size_737k" in markdown
    assert "(n.s.)" in markdown
    assert metrics["size_2500k_vs_size_737k.python.reference_loss.significant"]["value"] == 1.0
    assert "size_2500k_vs_size_737k.all.t0.6.pass_at_1.ci_high" in metrics
    assert len(figure.data) == 4  # 2 metrics x 2 comparisons
    with pytest.raises(ValueError, match="3 tables per variant"):
        compare_variants_paired(bootstrap, *tables[:4])
