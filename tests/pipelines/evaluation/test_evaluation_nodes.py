"""Evaluation nodes on small frames: bad benchmark rows and references become rejects with a reason,
scoring and summaries count what the samples say."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ocr2_kedro.pipelines.evaluation.nodes import (
    check_evaluation_settings,
    collect_references,
    compare_models,
    evaluation_metrics,
    plot_evaluation,
    prepare_benchmark,
    resolve_model,
    score_samples,
    summarize_evaluation,
)
from ocr2_kedro.schemas import PROBLEM, conform

PARAMS = {
    "languages": ["python", "cpp"],
    "samples_per_problem": 2,
    "sampling": {"top_p": 0.95, "max_tokens": 16},
    "ks": [1, 2],
    "temperatures": [0.6],
    "breakdowns": ["difficulty"],
    "bootstrap": {"resamples": 100, "seed": 0},
    "self_critique": {"fallback": "random"},
}


def problem(question_id: str, tests, test_type="stdin", fn_name=None, difficulty="easy") -> dict:
    return {
        "question_id": question_id,
        "source": "bundled",
        "source_id": question_id,
        "split": "test",
        "question": f"question {question_id}",
        "test_type": test_type,
        "fn_name": fn_name,
        "tests": tests,
        "difficulty": difficulty,
    }


def test_benchmark_rows_that_cannot_be_scored_are_rejected_with_a_reason():
    problems = conform(
        [
            problem("ok", [{"input": "1\n", "output": "1\n"}]),
            problem("empty", []),
            problem("bad-json", [{"input": "not json", "output": "1"}], "functional", "f"),
            problem("no-fn", [{"input": "[1]", "output": "1"}], "functional", None),
            problem("odd-type", [{"input": "1", "output": "1"}], "interactive"),
        ],
        PROBLEM,
    )
    kept, rejects = prepare_benchmark(problems, PARAMS)
    assert kept["question_id"].to_list() == ["ok"]
    reasons = dict(zip(rejects["record_id"], rejects["reason"], strict=True))
    assert reasons == {
        "empty": "no_tests",
        "bad-json": "malformed_tests",
        "no-fn": "malformed_tests",
        "odd-type": "malformed_tests",
    }
    assert rejects["detail"].str.len_chars().min() > 0


def test_settings_that_cannot_work_fail_before_anything_runs():
    with pytest.raises(ValueError, match="java"):
        prepare_benchmark(pl.DataFrame(schema=PROBLEM), {**PARAMS, "languages": ["python", "java"]})
    with pytest.raises(ValueError, match=r"ks \[4\].*samples_per_problem \(2\)"):
        check_evaluation_settings({**PARAMS, "ks": [1, 4]})
    with pytest.raises(ValueError, match="fallback"):
        check_evaluation_settings({**PARAMS, "self_critique": {"fallback": "best"}})


def test_references_in_the_bundled_layout_and_unknown_languages_become_rejects():
    problems = conform([problem("q1", [{"input": "1", "output": "1"}])], PROBLEM)
    references = pl.DataFrame(
        {
            "source_id": ["q1", "train-only"],
            "solutions": [
                {"python": "print(1)", "cpp": "int main(){}", "java": "class A {}"},
                {"python": "print(2)", "cpp": None, "java": None},
            ],
        }
    )
    kept, rejects = collect_references(references, problems, PARAMS)
    assert sorted(kept["language"].to_list()) == ["cpp", "python"]
    assert rejects.select("record_id", "reason", "detail").rows() == [
        ("q1", "unknown_language", "java")
    ]
    long, _ = collect_references(kept, problems, PARAMS)
    assert long.sort("language").equals(kept.sort("language"))


def test_a_model_path_that_does_not_exist_is_refused_with_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model("unused", {"name": "stage1", "path": str(tmp_path / "missing")})
    served = resolve_model("unused", {"name": "x", "path": "served-name", "backend": "openai"})
    assert served["path"] == "served-name"


def _scored():
    """Two problems, n = 2 each: q1 has one passing sample (judged right), q2 none."""
    samples = pl.DataFrame(
        {
            "sample_id": ["a", "b", "c", "d"],
            "model": ["m"] * 4,
            "question_id": ["q1", "q1", "q2", "q2"],
            "language": ["python"] * 4,
            "temperature": [0.6] * 4,
            "sample_idx": [0, 1, 0, 1],
            "solution": ["x", "y", None, "z"],
        }
    )
    critiques = pl.DataFrame(
        {
            "sample_id": ["a", "b", "d"],
            "judgement": ["right", "wrong", "right"],
            "critique_length": [10, 5, 3],
        }
    )
    executions = pl.DataFrame(
        {"sample_id": ["a", "b", "c", "d"], "verdict": ["AC", "WA", "CE", "TLE"]}
    )
    problems = conform(
        [
            problem("q1", [{"input": "1", "output": "1"}], difficulty="easy"),
            problem("q2", [{"input": "1", "output": "1"}], difficulty="hard"),
        ],
        PROBLEM,
    )
    return score_samples(samples, critiques, executions, problems, PARAMS)


def test_scoring_counts_passes_and_judgements_per_problem():
    sample_results, problem_results = _scored()
    assert sample_results["passed"].to_list() == [True, False, False, False]
    assert sample_results["judged_right"].to_list() == [True, False, False, True]
    rows = {row["question_id"]: row for row in problem_results.iter_rows(named=True)}
    assert rows["q1"]["correct"] == 1 and rows["q1"]["pass_at_1"] == 0.5
    assert rows["q1"]["pass_at_2"] == 1.0 and rows["q1"]["pass_at_1_select_at_2"] == 1.0
    assert rows["q2"]["pass_at_2"] == 0.0 and rows["q2"]["difficulty"] == "hard"


def test_summary_has_means_with_errors_per_breakdown_and_the_critic_agreement():
    sample_results, problem_results = _scored()
    summary = summarize_evaluation(problem_results, sample_results, PARAMS)
    overall = summary.filter((pl.col("breakdown") == "all") & (pl.col("language") == "python"))
    value = dict(zip(overall["metric"], overall["mean"], strict=True))
    assert value["pass_at_1"] == pytest.approx(0.25)  # (0.5 + 0) / 2 problems
    assert value["pass_at_1_select_at_2"] == pytest.approx(0.5)
    # 3 samples with code: a (AC, right), b (WA, wrong), d (TLE, right).
    assert value["critic_accuracy"] == pytest.approx(2 / 3)
    assert value["critic_precision"] == pytest.approx(0.5)
    assert value["critic_recall"] == pytest.approx(1.0)
    easy = summary.filter(
        (pl.col("breakdown") == "difficulty")
        & (pl.col("group") == "easy")
        & (pl.col("metric") == "pass_at_1")
    )
    assert easy["mean"].to_list() == [0.5, 0.5]  # python and "all"
    stderr = overall.filter(pl.col("metric") == "pass_at_1")["stderr"][0]
    assert stderr == pytest.approx(0.25)  # std([0.5, 0]) / sqrt(2)

    logged = evaluation_metrics(
        summary, pl.DataFrame({"language": ["python"], "loss_per_token": [1.5]})
    )
    assert logged["python.t0.6.pass_at_1"]["value"] == pytest.approx(0.25)
    assert logged["python.reference_loss"]["value"] == 1.5
    assert all("@" not in name for name in logged)

    selection, _, temperature, _ = plot_evaluation(summary, {**PARAMS, "languages": ["python"]})
    names = {trace.name for trace in selection.data}
    assert "pass@1|select@k (self-critique)" in names and "pass@k (oracle)" in names
    assert len(temperature.data) == 4  # python and all, pass@1 and select@2

    wide, markdown = compare_models(
        summary, pl.DataFrame({"model": ["m"], "language": ["python"], "loss_per_token": [1.5]})
    )
    assert wide.filter(pl.col("language") == "python")["reference_loss"].to_list() == [1.5]
    assert "pass_at_1_select_at_2" in markdown and not math.isnan(wide["pass_at_1"][0])
