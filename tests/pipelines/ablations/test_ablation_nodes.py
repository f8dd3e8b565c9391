"""Ablation nodes: nested seeded subsets, sizes scaled to the export, overrides checked by name."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.parameters.ablations import AblationsSettings, VariantSettings
from ocr2_kedro.pipelines.ablations.nodes import compare_variants, select_variant_data
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
