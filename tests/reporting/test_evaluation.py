"""Evaluation reports from a hand-made summary: the selection and temperature plots' series, the
models side by side, and the note naming rows whose pass@k left SE samples out."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.reporting import evaluation as report


def _summary(model: str, pass_at_1: float, se_count: int = 0) -> pl.DataFrame:
    rows = []
    for temperature in (0.6, 0.2):
        for language in ("python", "all"):
            for metric, mean in (
                ("pass_at_1", pass_at_1),
                ("pass_at_2", pass_at_1 + 0.1),
                ("pass_at_1_select_at_2", pass_at_1 + 0.05),
                ("pass_at_1_genselect_at_2", pass_at_1 + 0.02),
                ("se_count", float(se_count)),
                ("se_share", se_count / 8),
            ):
                rows.append(
                    {
                        "model": model,
                        "language": language,
                        "temperature": temperature,
                        "breakdown": "all",
                        "group": "all",
                        "metric": metric,
                        "mean": mean,
                        "stderr": 0.01,
                    }
                )
    return pl.DataFrame(rows)


def test_the_selection_plot_draws_each_series_at_the_headline_temperature():
    figure = report.selection_plot(_summary("m", 0.5), ["python"], [1, 2], 0.6)
    names = [trace.name for trace in figure.data]
    assert names.count("pass@k (oracle)") == 2  # python and all
    assert names.count("pass@1|select@k (self-critique)") == 2
    genselect = next(t for t in figure.data if t.name == "pass@1|genselect@k (GenSelect)")
    assert list(genselect.x) == [2] and list(genselect.y) == [0.52]  # only at its k
    oracle = next(trace for trace in figure.data if trace.name == "pass@k (oracle)")
    assert list(oracle.x) == [1, 2] and list(oracle.y) == [0.5, 0.6]
    assert "temperature 0.6" in figure.layout.title.text


def test_the_temperature_plot_has_pass_at_1_and_select_at_k_max_per_language():
    figure = report.temperature_plot(_summary("m", 0.5), ["python"], [2, 1])
    assert sorted(trace.name for trace in figure.data) == [
        "all pass@1",
        "all pass@1|select@2",
        "python pass@1",
        "python pass@1|select@2",
    ]
    assert list(figure.data[0].x) == [0.2, 0.6]  # sorted by temperature


def test_models_side_by_side_with_their_reference_loss_and_the_se_note():
    loss = pl.DataFrame({"model": ["a"], "language": ["python"], "loss_per_token": [1.25]})
    wide = report.comparison_table([_summary("a", 0.5), _summary("b", 0.25, 2)], [loss])
    assert wide.height == 8  # 2 models x 2 languages x 2 temperatures
    assert wide.select("model", "language", "temperature").row(0) == ("a", "all", 0.2)
    python = wide.filter((pl.col("language") == "python") & (pl.col("temperature") == 0.6))
    assert python["reference_loss"].to_list() == [1.25, None]
    assert python["se_count"].dtype == pl.Int64
    markdown = report.comparison_markdown(wide)
    assert markdown.startswith("# Evaluation: models side by side\n")
    assert "- b python t=0.6: 2 samples (25.0%)" in markdown
    assert "- a python" not in markdown and "b all" not in markdown


def test_no_model_evaluated():
    wide = report.comparison_table([pl.DataFrame()], [pl.DataFrame()])
    assert wide.is_empty()
    assert report.comparison_markdown(wide) == "# Evaluation\n\nNo model was evaluated.\n"
    assert report.system_error_note(pl.DataFrame({"model": ["a"]})) == ""
