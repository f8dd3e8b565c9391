"""IOI scoring through the evaluation nodes, with the real sandbox and g++: the fixture tasks in
open-r1's layout (a grader task and a plain stdin task) are read by the ingestion node, prepared
as the benchmark, known right / partial / wrong C++ solutions run every test (even with
stop_at_first_failure on), and the IOI scores are the hand-worked ones per choice."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from ocr2_kedro.metrics.evaluation import EVAL_SAMPLE, REFERENCE_LOSS, SELF_CRITIQUE
from ocr2_kedro.parameters.ingestion import SourceSettings
from ocr2_kedro.pipelines.evaluation.nodes import (
    evaluation_metrics,
    execute_samples,
    prepare_benchmark,
    score_ioi,
)
from ocr2_kedro.pipelines.ingestion.nodes import normalize_source
from ocr2_kedro.schemas import conform
from ocr2_kedro.sources.readers import RecordSource
from tests.support.parameters import stage_settings

FIXTURES = Path(__file__).parents[2] / "fixtures" / "ioi"

SUMVEC = {
    "wrong": '#include "sumvec.h"\nlong long sum(std::vector<int> a) { return a[0]; }\n',
    # Adds in 32 bits: right while the sum fits an int (subtasks 0 and 1), wrong past it.
    "partial": (
        '#include "sumvec.h"\nlong long sum(std::vector<int> a) {\n'
        "  unsigned s = 0;\n  for (int x : a) s += (unsigned)x;\n  return (int)s;\n}\n"
    ),
    "right": (
        '#include "sumvec.h"\nlong long sum(std::vector<int> a) {\n'
        "  long long s = 0;\n  for (int x : a) s += x;\n  return s;\n}\n"
    ),
}
MAXPAIR = {
    "wrong": (
        '#include <cstdio>\nint main() { long long n, a, b; std::scanf("%lld %lld %lld", &n, &a, &b);'
        ' std::printf("%lld\\n", a + b); }\n'
    ),
    # The two largest start at 0: right for non-negative numbers (subtask 1) only.
    "partial": (
        '#include <cstdio>\nint main() { int n; std::scanf("%d", &n); long long b1 = 0, b2 = 0;'
        ' for (int i = 0; i < n; i++) { long long x; std::scanf("%lld", &x);'
        " if (x > b1) { b2 = b1; b1 = x; } else if (x > b2) b2 = x; }"
        ' std::printf("%lld\\n", b1 + b2); }\n'
    ),
    "right": (
        "#include <algorithm>\n#include <cstdio>\n#include <functional>\n#include <vector>\n"
        'int main() { int n; std::scanf("%d", &n); std::vector<long long> a(n);'
        ' for (auto& x : a) std::scanf("%lld", &x); std::sort(a.begin(), a.end(), std::greater<>());'
        ' std::printf("%lld\\n", a[0] + a[1]); }\n'
    ),
}
ORDER = ("wrong", "partial", "right")  # sample_idx 0, 1, 2
# The model's own judgements: the partial one judged right with the shortest critique, the right
# one judged right with a longer one, the wrong one judged wrong.
CRITIQUES = {"wrong": ("wrong", 5), "partial": ("right", 10), "right": ("right", 50)}


def _settings(tmp_path: Path, **overrides):
    return stage_settings(
        "evaluation",
        {
            "languages": ["python", "cpp"],
            "source_languages": {"ioi": ["cpp"]},
            "subset": {"seed": 0, "per_source": {}},
            "samples_per_problem": 3,
            "ks": [1],
            "temperatures": [0.6],
            "self_critique": {"fallback": "random"},
            "execution": {
                "stop_at_first_failure": True,
                "workers": 2,
                "progress": False,
                "cache_dir": str(tmp_path / "cpp_cache"),
            },
            **overrides,
        },
    )


def _samples(problems: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    ids = dict(zip(problems["source_id"], problems["question_id"], strict=True))
    rows, critiques = [], []
    for source_id, solutions in (("2024-sumvec", SUMVEC), ("2024-maxpair", MAXPAIR)):
        for index, kind in enumerate(ORDER):
            sample_id = f"{source_id}-{kind}"
            rows.append(
                {
                    "sample_id": sample_id,
                    "model": "base",
                    "question_id": ids[source_id],
                    "language": "cpp",
                    "temperature": 0.6,
                    "sample_idx": index,
                    "solution": solutions[kind],
                }
            )
            judgement, length = CRITIQUES[kind]
            critiques.append(
                {"sample_id": sample_id, "judgement": judgement, "critique_length": length}
            )
    return conform(rows, EVAL_SAMPLE), conform(critiques, SELF_CRITIQUE)


def test_ioi_problems_run_every_test_and_score_per_choice_in_the_real_sandbox(tmp_path):
    read, rejects = normalize_source(
        RecordSource(path=str(FIXTURES), splits=("train", "test")),
        SourceSettings(name="ioi", kind="ioi", enabled=True, limit=None),
    )
    assert rejects["reason"].to_list() == ["unsupported_task_type"]  # the Communication task
    settings = _settings(tmp_path, ioi={"submission_limit": 2, "choose": "first", "seed": 0})
    problems, benchmark_rejects = prepare_benchmark(read, settings)
    assert problems.height == 2 and benchmark_rejects.is_empty()
    samples, critiques = _samples(problems)

    executions = execute_samples(samples, problems, settings)
    by_id = {row["sample_id"]: row for row in executions.iter_rows(named=True)}
    verdicts = {sample_id: row["verdict"] for sample_id, row in by_id.items()}
    assert verdicts == {
        "2024-sumvec-wrong": "WA",
        "2024-sumvec-partial": "WA",
        "2024-sumvec-right": "AC",
        "2024-maxpair-wrong": "WA",
        "2024-maxpair-partial": "WA",
        "2024-maxpair-right": "AC",
    }, {sample_id: row["error"] for sample_id, row in by_id.items()}
    # Every test ran although the first failure would have stopped a pass/fail problem.
    partial = [test["score"] for test in by_id["2024-sumvec-partial"]["tests"]]
    assert partial == [1.0, 1.0, 1.0, 0.0, 0.0]
    assert len(by_id["2024-sumvec-wrong"]["tests"]) == 5

    table, metrics = score_ioi(samples, critiques, executions, problems, settings)
    rows = {row["source_id"]: row for row in table.iter_rows(named=True)}
    # By hand. sumvec: wrong 0, partial 30 (subtask 1), right 100; maxpair: wrong 0, partial 40
    # (subtask 1), right 100. Limit 2: first = {wrong, partial}: 30 and 40; self-critique =
    # {partial, right} (judged right, shorter critique first): 100 and 100.
    assert rows["2024-sumvec"]["subtask_scores"] == "0: 0/0; 1: 30/30; 2: 0/70"
    for source_id, first in (("2024-sumvec", 30.0), ("2024-maxpair", 40.0)):
        row = rows[source_id]
        assert (row["score_first"], row["score"], row["submitted"]) == (first, first, 2)
        assert row["score_self_critique"] == 100.0
        assert (row["score_all_samples"], row["best_submission"], row["n"]) == (100.0, 100.0, 3)
    assert metrics["ioi.cpp.t0.6.total_score"]["value"] == 70.0
    assert metrics["ioi.cpp.t0.6.total_score_self_critique"]["value"] == 200.0
    assert metrics["ioi.cpp.t0.6.max_score"]["value"] == 200.0
    assert metrics["ioi.cpp.t0.6.2024-maxpair.score"]["value"] == 40.0
    # Logged with the headline numbers (the catalog prefixes them with evaluation.<model>).
    logged = evaluation_metrics(pl.DataFrame(), pl.DataFrame(schema=REFERENCE_LOSS), metrics)
    assert logged["ioi.cpp.t0.6.total_score"] == {"value": 70.0, "step": 0}
