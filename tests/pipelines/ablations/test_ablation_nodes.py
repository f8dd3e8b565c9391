"""Ablation nodes: nested seeded subsets, sizes scaled to the export, overrides checked by name."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.pipelines.ablations.nodes import (
    check_variant,
    compare_variants,
    deep_merge,
    select_variant_data,
    variant_settings,
)

SWEEP = {"seed": 13, "full_size": 2_500_000, "scale_to_available": True}
TRAINING = {
    "student": "embedded",
    "work_dir": "w",
    "trainer": {"max_steps": 12},
    "stages": ["stage1"],
}
EVALUATION = {
    "languages": ["python"],
    "samples_per_problem": 2,
    "ks": [1, 2],
    "temperatures": [0.6],
    "sampling": {"top_p": 0.95, "max_tokens": 16},
    "self_critique": {"fallback": "random"},
}


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
    small, small_info = select_variant_data(
        data, SWEEP, {"name": "s", "data": {"nominal_size": 737_000}}
    )
    large, large_info = select_variant_data(
        data, SWEEP, {"name": "l", "data": {"nominal_size": 2_500_000}}
    )
    assert small_info["nominal_size"] == 737_000 and small_info["actual_size"] == 59  # 29.48%
    assert large.height == 200 and large_info["available_rows"] == 200
    assert set(small["id"]) <= set(large["id"])
    # Deterministic: the same subset every time, whatever the row order of the export.
    again, _ = select_variant_data(
        data.reverse(), SWEEP, {"name": "s", "data": {"nominal_size": 737_000}}
    )
    assert set(again["id"]) == set(small["id"])
    other_seed, _ = select_variant_data(
        data, {**SWEEP, "seed": 14}, {"name": "s", "data": {"nominal_size": 737_000}}
    )
    assert set(other_seed["id"]) != set(small["id"])


def test_filters_then_size_and_a_size_larger_than_the_export_is_refused():
    data = export()
    passing, info = select_variant_data(
        data, SWEEP, {"name": "p", "data": {"execution_filter": "passing"}}
    )
    assert (passing["pass_rate"] == 1.0).all() and info["actual_size"] == 50
    cpp, _ = select_variant_data(data, SWEEP, {"name": "c", "data": {"languages": ["cpp"]}})
    assert set(cpp["language"]) == {"cpp"}
    with pytest.raises(ValueError, match="scale_to_available"):
        select_variant_data(
            data,
            {**SWEEP, "scale_to_available": False},
            {"name": "x", "data": {"nominal_size": 737_000}},
        )


def test_overrides_of_unknown_settings_are_refused_by_name():
    with pytest.raises(ValueError, match=r"training\.trainer\.max_stepz"):
        check_variant("v", {"training": {"trainer": {"max_stepz": 3}}}, TRAINING, EVALUATION)
    with pytest.raises(ValueError, match=r"data\.size"):
        check_variant("v", {"data": {"size": 3}}, TRAINING, EVALUATION)
    with pytest.raises(ValueError, match="execution_filter"):
        check_variant("v", {"data": {"execution_filter": "some"}}, TRAINING, EVALUATION)
    check_variant(
        "v", {"name": "v", "training": {"stages": ["stage1", "stage2"]}}, TRAINING, EVALUATION
    )


def test_variant_settings_layer_the_sweep_and_the_variant_over_the_run():
    training, evaluation = variant_settings(
        TRAINING,
        EVALUATION,
        {
            **SWEEP,
            "sweep_overrides": {
                "enabled": True,
                "training": {"trainer": {"max_steps": 6}},
                "evaluation": {"ks": [1]},
            },
        },
        {"name": "v", "training": {"stages": ["stage1", "stage2"]}},
    )
    assert training["trainer"]["max_steps"] == 6 and training["stages"] == ["stage1", "stage2"]
    assert training["work_dir"] == "w/ablations/v" and evaluation["ks"] == [1]
    assert TRAINING["trainer"]["max_steps"] == 12  # the run's settings are not modified
    assert deep_merge({"a": {"b": 1, "c": 2}}, {"a": {"b": 3}}) == {"a": {"b": 3, "c": 2}}


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
    table, markdown, figure, _ = compare_variants(*results)
    assert table.filter(pl.col("language") == "all")["variant"].to_list() == [
        "size_737k",
        "size_2500k",
    ]
    assert "| size_737k |" in markdown and "reference_loss" in markdown
    assert len(figure.data) == 8  # 2 languages x 2 metrics x (bar + by-size line)


def test_sweep_overrides_can_be_turned_off():
    training, _ = variant_settings(
        TRAINING,
        EVALUATION,
        {**SWEEP, "sweep_overrides": {"enabled": False, "training": {"trainer": {"max_steps": 6}}}},
        {"name": "v"},
    )
    assert training["trainer"]["max_steps"] == 12
