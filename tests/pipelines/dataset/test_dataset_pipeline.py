"""Dataset export and card: accepted samples only, critiques and verdicts joined, agreement numbers
right, the same from lazy scans of real parquet files and with the join split into buckets; and the
real `kedro run` chain generation -> critique -> dataset in a project copy."""

from __future__ import annotations

import json
from collections import Counter

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from ocr2_kedro.datasets import StreamingParquetDataset
from ocr2_kedro.datasets.streaming_parquet import StreamingNdjsonDataset
from ocr2_kedro.pipelines.dataset import create_pipeline
from ocr2_kedro.pipelines.dataset.nodes import (
    build_export,
    build_preference_pairs,
    dataset_statistics,
    plot_dataset_overview,
    render_dataset_card,
    split_by_language,
    summarize_dataset,
)
from ocr2_kedro.schemas import CRITIQUE, GENERATION, PROBLEM, REJECT, VERIFICATION, conform
from tests.conftest import run_kedro
from tests.support.parameters import stage_settings
from tests.support.versions import latest_path, read_latest, save_versioned


def tables():
    problems = conform(
        [
            {
                "question_id": "q1",
                "source": "taco",
                "source_id": "7",
                "question": "Q1",
                "difficulty": "EASY",
                "license": "apache-2.0",
                "split": "train",
            },
            {
                "question_id": "q2",
                "source": "apps",
                "source_id": "9",
                "question": "Q2",
                "difficulty": None,
                "license": "mit",
                "split": "train",
            },
        ],
        PROBLEM,
    )
    gens = [
        # (generation_id, question, language, tokens, flags, judgement, pass_rate)
        ("a", "q1", "python", 100, [], "right", 1.0),  # true positive
        ("b", "q1", "python", 120, [], "right", 0.5),  # false positive
        ("c", "q2", "python", 80, [], "wrong", 1.0),  # false negative
        ("d", "q2", "cpp", 90, [], "wrong", 0.0),  # true negative
        ("e", "q2", "cpp", 70, [], None, 1.0),  # unparseable critique
        ("f", "q1", "cpp", 300, ["truncated", "no_code"], None, None),  # rejected sample
    ]
    generations = conform(
        [
            {
                "generation_id": g,
                "question_id": q,
                "language": lang,
                "num_output_tokens": t,
                "flags": flags,
                "output": f"out-{g}",
                "solution": None if flags else f"code-{g}",
            }
            for g, q, lang, t, flags, _, _ in gens
        ],
        GENERATION,
    )
    critiques = conform(
        [
            {"generation_id": g, "critic_model": "critic", "critique": f"crit-{g}", "judgement": j}
            for g, _, _, _, flags, j, _ in gens
            if not flags
        ],
        CRITIQUE,
    )
    verifications = conform(
        [
            {
                "generation_id": g,
                "verdict": "AC" if p == 1.0 else "WA",
                "passed": int(p * 2),
                "total": 2,
                "pass_rate": p,
            }
            for g, _, _, _, _, _, p in gens
            if p is not None
        ],
        VERIFICATION,
    )
    rejects = conform(
        [
            {
                "stage": "generation",
                "source": "taco",
                "record_id": "q3",
                "reason": "question_over_token_budget",
            },
            {"stage": "generation", "source": "cpp", "record_id": "f", "reason": "truncated"},
            {"stage": "generation", "source": "cpp", "record_id": "f", "reason": "no_code"},
        ],
        REJECT,
    )
    return problems, generations, critiques, verifications, rejects


def dataset_settings(**overrides):
    """conf/base's dataset settings, the joins' bucket files in the system temp folder."""
    return stage_settings("dataset", {"export": {"work_dir": None}, **overrides})


def joins(**overrides):
    """How the export's joins are bucketed (dataset.export)."""
    return dataset_settings(export={"work_dir": None, **overrides}).export


def export_of(*inputs, settings=None) -> pl.DataFrame:
    """build_export's batches as one frame."""
    return pl.concat(list(build_export(*inputs, settings or joins())))


def test_export_has_the_ocr2_columns_and_only_accepted_samples():
    problems, generations, critiques, verifications, _ = tables()
    export = export_of(problems, generations, critiques, verifications)
    for column in (
        "question",
        "r1_generation",
        "qwq_critique",
        "solution",
        "judgement",
        "pass_rate",
        "source",
        "license",
        "dataset",
        "split",
        "difficulty",
        "index",
        "id",
        "question_id",
        # What the teacher's prompt was built from: training rebuilds the same prompt.
        "test_type",
        "starter_code",
        "fn_name",
    ):
        assert column in export.columns
    assert sorted(export["id"]) == ["a", "b", "c", "d", "e"]  # "f" was flagged
    row = export.filter(pl.col("id") == "a").row(0, named=True)
    assert row["r1_generation"] == "out-a" and row["qwq_critique"] == "crit-a"
    assert row["judgement"] == "right" and row["pass_rate"] == 1.0 and row["index"] == "7"
    python, cpp, python_jsonl, cpp_jsonl = (
        frame.collect() for frame in split_by_language(export.lazy())
    )
    assert python["id"].to_list() == ["a", "b", "c"] and cpp["id"].to_list() == ["d", "e"]
    assert python_jsonl.equals(python) and cpp_jsonl.equals(cpp)


def test_export_in_buckets_from_scans_of_parquet_files(tmp_path):
    """The catalog's way: inputs are lazy scans of real files, the export is written batch by batch
    and split by language into parquet and JSONL without collecting; a bucket budget far below the
    tables' size gives the same rows as one bucket."""
    problems, generations, critiques, verifications, _ = tables()
    scans = []
    for name, frame in (
        ("generations", generations),
        ("critiques", critiques),
        ("verifications", verifications),
    ):
        dataset = StreamingParquetDataset(filepath=str(tmp_path / f"{name}.parquet"))
        dataset.save(frame)
        scans.append(dataset.load())
    whole = export_of(problems, generations, critiques, verifications)
    work_dir = tmp_path / "buckets"
    batches = build_export(problems, *scans, joins(bucket_megabytes=1e-4, work_dir=str(work_dir)))
    export = StreamingParquetDataset(filepath=str(tmp_path / "export.parquet"))
    export.save(batches)
    assert not list(work_dir.iterdir())  # the bucket files are gone
    bucketed = export.load().collect()
    assert_frame_equal(bucketed, whole, check_row_order=False)
    # Within a bucket the rows are sorted; with one bucket, throughout.
    assert whole["id"].to_list() == ["d", "e", "a", "b", "c"]  # language, question_id, id

    python, cpp, python_jsonl, cpp_jsonl = split_by_language(export.load())
    assert all(isinstance(frame, pl.LazyFrame) for frame in (python, cpp))
    jsonl = StreamingNdjsonDataset(filepath=str(tmp_path / "python.jsonl"))
    jsonl.save(python_jsonl)
    lines = (tmp_path / "python.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == ["a", "b", "c"]
    assert_frame_equal(
        jsonl.load().collect(),
        python.collect(),
        check_row_order=False,
        check_dtypes=False,  # JSON has no difference between e.g. a null column's types
    )

    stats = dataset_statistics(
        problems,
        *scans,
        tables()[4].lazy(),
        export.load(),
        joins(bucket_megabytes=1e-4, work_dir=str(work_dir)),
    )
    assert stats == dataset_statistics(
        problems, generations, critiques, verifications, tables()[4], whole, joins()
    )


def test_statistics_card_and_metrics():
    problems, generations, critiques, verifications, rejects = tables()
    export = export_of(problems, generations, critiques, verifications)
    stats = dataset_statistics(
        problems, generations, critiques, verifications, rejects, export, joins()
    )
    agreement = stats["agreement"]
    assert agreement["pairs"] == 5
    assert agreement["matrix"] == {
        "right": {"passed": 1, "failed": 1},
        "wrong": {"passed": 1, "failed": 1},
        "null": {"passed": 1, "failed": 0},
    }
    assert agreement["precision_right"] == 0.5
    assert agreement["recall_right"] == pytest.approx(1 / 3)
    assert agreement["accuracy_judged"] == 0.5
    assert stats["judgement_parse_rate"] == pytest.approx(4 / 5)
    assert stats["by_language"]["cpp"]["tokens_all"]["max"] == 300
    assert stats["by_language"]["cpp"]["tokens_accepted"]["max"] == 90
    assert stats["by_language"]["cpp"]["tokens_all"] == {
        "n": 3,
        "mean": pytest.approx(460 / 3),
        "p50": 90.0,
        "p90": 300.0,
        "max": 300.0,
    }
    python = stats["by_language"]["python"]
    assert (python["generated"], python["accepted"], python["exported"]) == (3, 3, 3)
    assert python["judgements"] == {"right": 2, "wrong": 1, "null": 0}
    assert python["agreement"]["matrix"]["right"] == {"passed": 1, "failed": 1}
    assert stats["questions_generated"] == 2 and stats["exported"] == 5
    assert stats["accepted_by_execution"] == 3 and stats["verified"] == 5
    assert ("taco", "python", 2) in stats["by_source"]
    assert ("unknown", "cpp", 2) in stats["by_difficulty"]

    card = render_dataset_card(stats, dataset_settings(name="test card"), "teacher-x", "critic-y")
    assert card.startswith("# test card")
    for section in (
        "## Counts",
        "per source",
        "per difficulty",
        "## Output token lengths",
        "## Rejection reasons",
        "question_over_token_budget",
        "## Critic judgements",
        "## Critic vs execution",
        "precision(right) = 0.500",
        "teacher-x",
    ):
        assert section in card, section

    metrics = summarize_dataset(stats)
    assert metrics["samples"]["value"] == 5
    assert metrics["critic.precision_right"]["value"] == 0.5
    assert metrics["rejected.generation.truncated"]["value"] == 1
    assert metrics["cpp.judgement.null"]["value"] == 1
    assert all(set(v) == {"value", "step"} for v in metrics.values())


def test_preference_pairs_node_card_section_and_metrics(tmp_path):
    """The node's pairs from the export (python q1: a passes, b does not; cpp q2: e passes, d does
    not; python q2 has one sample), written by the catalog's dataset, on the card and in MLflow."""
    problems, generations, critiques, verifications, rejects = tables()
    export = export_of(problems, generations, critiques, verifications)
    pairs, pair_rejects, preference_stats = build_preference_pairs(
        export.lazy(), dataset_settings(preferences={"work_dir": None}).preferences, "Be brief."
    )
    target = StreamingParquetDataset(filepath=str(tmp_path / "pairs.parquet"))
    target.save(pairs)
    written = target.load().collect()
    assert written.select("chosen_id", "rejected_id").rows() == [("e", "d"), ("a", "b")]
    first = written.row(0, named=True)
    assert first["prompt"][0] == {"role": "system", "content": "Be brief."}
    assert first["chosen"] == [{"role": "assistant", "content": "out-e"}]
    assert first["rejected_judgement"] == "wrong" and first["chosen_judgement"] is None
    assert pair_rejects.select("question_id", "language", "reason").rows() == [
        ("q2", "python", "single_sample")
    ]
    assert preference_stats["by_language"] == {"cpp": 1, "python": 1}

    stats = dataset_statistics(
        problems, generations, critiques, verifications, rejects, export, joins()
    )
    card = render_dataset_card(stats, dataset_settings(), "t", "c", preference_stats)
    section = card[card.index("## Preference pairs") :]
    for text in ("mode `all`", "| pairs | 2 |", "| groups without a pair | 1 |", "single_sample"):
        assert text in section, text
    assert "## Preference pairs" not in render_dataset_card(stats, dataset_settings(), "t", "c")
    metrics = summarize_dataset(stats, preference_stats)
    assert metrics["preferences.pairs"]["value"] == 2
    assert metrics["preferences.pairs.execution"]["value"] == 2
    assert metrics["preferences.rejected.single_sample"]["value"] == 1


def test_pipeline_wires_preference_pairs_into_the_card_and_metrics():
    nodes = {node.name: node for node in create_pipeline().nodes}
    pairs = nodes["build_preference_pairs"]
    assert pairs.inputs == [
        "ocr2_export",
        "params:dataset.preferences",
        "params:training.system_prompt",
    ]
    assert pairs.outputs == ["preference_pairs", "preference_rejects", "preference_statistics"]
    assert "preference_statistics" in nodes["render_dataset_card"].inputs
    assert "preference_statistics" in nodes["summarize_dataset"].inputs


@pytest.mark.parametrize("bucket_megabytes", [256, 1e-4])
def test_overview_plot_counts_tokens_and_verdicts_per_language(tmp_path, bucket_megabytes):
    _, generations, _, verifications, _ = tables()
    figure = plot_dataset_overview(
        generations.lazy(),
        verifications.lazy(),
        joins(bucket_megabytes=bucket_megabytes, work_dir=str(tmp_path)),
    )
    histograms = {t.name: t for t in figure.data if t.type == "histogram"}
    bars = {t.name: t for t in figure.data if t.type == "bar"}
    # The histogram gets bin counts (bins shared by both languages), not the values.
    start, width = histograms["python"].xbins.start, histograms["python"].xbins.size
    assert start == 70 and width == 5  # 70..300 tokens in at most 50 integer-wide bins
    for language in ("python", "cpp"):
        part = generations.filter(pl.col("language") == language)
        tokens = part["num_output_tokens"].to_list()
        centres = Counter(start + (t - start) // width * width + width / 2 for t in tokens)
        histogram = histograms[language]
        assert histogram.histfunc == "sum"
        assert dict(zip(histogram.x, histogram.y, strict=True)) == centres
        verdicts = verifications.join(part.select("generation_id"), on="generation_id")
        assert sum(bars[language].y) == verdicts.height
        assert dict(zip(bars[language].x, bars[language].y, strict=True))["AC"] == int(
            (verdicts["verdict"] == "AC").sum()
        )
    assert not list(tmp_path.iterdir())


@pytest.mark.slow
def test_kedro_run_generation_critique_dataset(project_copy):
    problems, *_ = tables()
    problems = problems.with_columns(
        pl.Series("question", ["Read two integers and print their sum.", "Print hello."]),
        pl.lit("stdin").alias("test_type"),
    )
    save_versioned(project_copy / "data/03_primary/problems_dedup.parquet", problems)
    run_kedro(
        project_copy,
        "run",
        "--env",
        "test",
        "--pipelines",
        "generation,critique",
    )
    generations = read_latest(project_copy / "data/03_primary/generations.parquet")
    assert generations.height == 4 and set(generations["language"]) == {"python", "cpp"}
    critiques = read_latest(project_copy / "data/03_primary/critiques.parquet")
    assert sorted(critiques["generation_id"]) == sorted(
        generations.filter(pl.col("solution").is_not_null())["generation_id"]
    )
    rejects = read_latest(project_copy / "data/03_primary/generation_rejects.parquet")
    assert rejects.height == generations["flags"].list.len().sum()
    # Finished chunks are on disk for a resumed run.
    assert list((project_copy / "data/02_intermediate/generation_shards").glob("*/chunk-*.parquet"))

    # Verdicts stand in for the verify pipeline (another stage): python passes, cpp fails.
    verifications = conform(
        [
            {
                "generation_id": g,
                "verdict": "AC" if lang == "python" else "WA",
                "passed": int(lang == "python"),
                "total": 1,
                "pass_rate": float(lang == "python"),
            }
            for g, lang in generations.select("generation_id", "language").rows()
        ],
        VERIFICATION,
    )
    save_versioned(project_copy / "data/03_primary/verifications.parquet", verifications)
    run_kedro(project_copy, "run", "--env", "test", "--pipelines", "dataset")

    accepted = generations.filter(pl.col("flags").list.len() == 0).height
    export = read_latest(project_copy / "data/03_primary/ocr2/all.parquet")
    assert export.height == accepted
    for language in ("python", "cpp"):
        lines = latest_path(project_copy / f"data/08_reporting/ocr2/{language}.jsonl").read_text()
        rows = [json.loads(line) for line in lines.splitlines()]
        assert len(rows) == export.filter(pl.col("language") == language).height
    card = latest_path(project_copy / "data/08_reporting/dataset_card.md").read_text()
    assert "## Critic vs execution" in card and f"| generations | {generations.height} |" in card
    # The card and the overview figure are artifacts of the MLflow run; kedro viz reads the JSON.
    assert list((project_copy / "mlartifacts").rglob("dataset_card.md"))
    assert list((project_copy / "mlartifacts").rglob("dataset_overview.html"))
    overview = json.loads(
        latest_path(project_copy / "data/08_reporting/dataset_overview.json").read_text()
    )
    assert {trace["type"] for trace in overview["data"]} == {"histogram", "bar"}
    # One sample per question and language: no pair, a rejects row each, on the card too.
    pairs = read_latest(project_copy / "data/05_model_input/preferences/pairs.parquet")
    assert pairs.is_empty() and {"prompt", "chosen", "rejected", "pair_source"} <= set(
        pairs.columns
    )
    pair_rejects = read_latest(project_copy / "data/05_model_input/preferences/rejects.parquet")
    assert pair_rejects.height == export.select("question_id", "language").n_unique()
    assert set(pair_rejects["reason"]) == ({"single_sample"} if export.height else set())
    assert "## Preference pairs" in card
    # The patterns pipeline did not run: the card has no section for it, and nothing failed.
    assert "## Reasoning patterns" not in card
