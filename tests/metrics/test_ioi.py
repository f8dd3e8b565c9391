"""IOI scoring against hand-worked cases: subtask = points x the lowest test score, a problem's
score = per subtask the best over the submissions made (at most 50), and which samples are
submitted (first, seeded random, the self-critique selector's order)."""

from __future__ import annotations

import math
import random

import polars as pl
import pytest

from ocr2_kedro.metrics.ioi import (
    CHOICES,
    IOI_SCORE,
    SUBMISSION_LIMIT,
    choose_submissions,
    ioi_metrics,
    ioi_scores,
    problem_score,
    subtask_scores,
)
from ocr2_kedro.metrics.passk import select_at_k, self_critique_order
from ocr2_kedro.schemas import PROBLEM, conform

# The fixture task `sumvec`: subtask 0 (the example, 0 points), 1 (30 points) and 2 (70 points)
# share tests as IOI's do.
SUBTASKS = [
    {"name": "0", "points": 0.0, "tests": [0]},
    {"name": "1", "points": 30.0, "tests": [0, 1, 2]},
    {"name": "2", "points": 70.0, "tests": [0, 1, 2, 3, 4]},
]

# samples x tests -> expected per-subtask scores (worked by hand: points x min over the tests).
TABLE = [
    # test scores                expected [s0, s1, s2]   why
    ([1, 1, 1, 1, 1], [0.0, 30.0, 70.0]),  # right
    ([1, 1, 1, 0, 0], [0.0, 30.0, 0.0]),  # overflows on the big tests: subtask 1 only
    ([1, 0, 1, 1, 1], [0.0, 0.0, 0.0]),  # fails test 1, which subtasks 1 and 2 share
    ([1, 1, 1, 1, 0.5], [0.0, 30.0, 35.0]),  # a checker's half score on test 4: 70 x 0.5
    ([0, 1, 1, 1, 1], [0.0, 0.0, 0.0]),  # fails the example, in every subtask
    ([1, 1, 1, None, 1], [0.0, 30.0, 0.0]),  # test 3 has no result (not run): not passed
]


@pytest.mark.parametrize(("tests", "expected"), TABLE)
def test_subtask_score_is_points_times_the_lowest_test_score(tests, expected):
    assert subtask_scores(tests, SUBTASKS) == expected


def test_problem_score_takes_the_best_of_each_subtask_across_submissions():
    per_sample = [subtask_scores(tests, SUBTASKS) for tests, _ in TABLE]
    # By hand: submissions {1, 3} -> s1 = max(30, 30) = 30, s2 = max(0, 35) = 35: 65.
    assert sum(problem_score([per_sample[1], per_sample[3]], 3)) == 65.0
    assert sum(problem_score([per_sample[2], per_sample[4]], 3)) == 0.0
    assert problem_score(per_sample, 3) == [0.0, 30.0, 70.0]
    # No single submission scores more than 60, yet the two together score 100: subtask A from
    # one, subtask B from the other (IOI's rule).
    two = [{"name": "A", "points": 40.0, "tests": [0]}, {"name": "B", "points": 60.0, "tests": [1]}]
    a_only, b_only = subtask_scores([1, 0], two), subtask_scores([0, 1], two)
    assert (sum(a_only), sum(b_only)) == (40.0, 60.0)
    assert sum(problem_score([a_only, b_only], 2)) == 100.0


def test_no_submission_scores_zero_and_bad_subtasks_are_data_errors():
    assert problem_score([], 3) == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="has no tests"):
        subtask_scores([1.0], [{"name": "empty", "points": 10.0, "tests": []}])
    with pytest.raises(ValueError, match="outside the 1 tests"):
        subtask_scores([1.0], [{"name": "far", "points": 10.0, "tests": [3]}])
    with pytest.raises(ValueError, match="outside \\[0, 1\\]"):
        subtask_scores([1.5], [{"name": "x", "points": 10.0, "tests": [0]}])
    with pytest.raises(ValueError, match="expected 3"):
        problem_score([[1.0, 2.0]], 3)


def test_the_first_choice_submits_the_first_samples_up_to_the_limit_of_50():
    assert SUBMISSION_LIMIT == 50
    rng = random.Random(0)
    assert choose_submissions(3, "first", rng=rng) == [0, 1, 2]
    assert choose_submissions(60, "first", rng=rng) == list(range(50))
    # 60 samples, only the 56th solves the task: out of reach of the first 50, not of 60.
    subtasks = [{"name": "1", "points": 100.0, "tests": [0]}]
    per_sample = [subtask_scores([1.0 if i == 55 else 0.0], subtasks) for i in range(60)]
    first = choose_submissions(60, "first", rng=rng)
    assert sum(problem_score([per_sample[i] for i in first], 1)) == 0.0
    everything = choose_submissions(60, "first", limit=60, rng=rng)
    assert sum(problem_score([per_sample[i] for i in everything], 1)) == 100.0
    with pytest.raises(ValueError, match="limit must be >= 1"):
        choose_submissions(3, "first", limit=0, rng=rng)
    with pytest.raises(ValueError, match="unknown choice"):
        choose_submissions(3, "best", rng=rng)


def test_the_random_choice_is_a_seeded_draw_without_repeats():
    draw = choose_submissions(60, "random", rng=random.Random("seed"))
    assert draw == choose_submissions(60, "random", rng=random.Random("seed"))
    assert draw != choose_submissions(60, "random", rng=random.Random("other"))
    assert len(draw) == len(set(draw)) == 50 and draw == sorted(draw)
    assert choose_submissions(4, "random", rng=random.Random(1)) == [0, 1, 2, 3]


def test_the_self_critique_choice_is_the_selectors_order():
    right = [False, True, None, True, False]
    lengths = [5.0, 30.0, 1.0, 10.0, math.inf]
    rng = random.Random(0)
    # Judged right, shorter critique first (3 then 1); then the rest by the fallback.
    assert choose_submissions(
        5,
        "self_critique",
        rng=rng,
        judged_right=right,
        critique_lengths=lengths,
        fallback="shortest",
    ) == [3, 1, 2, 0, 4]
    assert choose_submissions(
        5, "self_critique", rng=rng, judged_right=right, critique_lengths=lengths, fallback="fail"
    ) == [3, 1]
    randomly = choose_submissions(
        5, "self_critique", rng=rng, judged_right=right, critique_lengths=lengths, fallback="random"
    )
    assert randomly[:2] == [3, 1] and sorted(randomly[2:]) == [0, 2, 4]
    assert choose_submissions(
        5,
        "self_critique",
        limit=1,
        rng=rng,
        judged_right=right,
        critique_lengths=lengths,
        fallback="random",
    ) == [3]
    with pytest.raises(ValueError, match="needs judged_right"):
        choose_submissions(5, "self_critique", rng=rng)


def test_the_order_starts_with_the_sample_select_at_k_picks_from_all_n():
    passed = [False, True, False, False, True]
    right = [True, True, False, True, False]
    lengths = [9.0, 4.0, 1.0, 7.0, 2.0]
    for fallback in ("random", "shortest", "fail"):
        first = self_critique_order(right, lengths, fallback, random.Random(3))[0]
        assert select_at_k(passed, right, lengths, k=5, fallback=fallback) == float(passed[first])


def _frames(rows: list[tuple[str, int, str, list[float] | None, str | None, int | None]]):
    """(samples, critiques, executions) from (sample_id, sample_idx, verdict, test scores,
    judgement, critique length) rows of one model, problem, language and temperature."""
    samples = pl.DataFrame(
        {
            "sample_id": [row[0] for row in rows],
            "model": "base",
            "question_id": "q-sumvec",
            "language": "cpp",
            "temperature": 0.6,
            "sample_idx": [row[1] for row in rows],
        }
    )
    executions = pl.DataFrame(
        {
            "sample_id": [row[0] for row in rows],
            "verdict": [row[2] for row in rows],
            "tests": [
                None
                if row[3] is None
                else [
                    {"verdict": "AC" if s == 1 else "WA", "time_s": 0.0, "score": float(s)}
                    for s in row[3]
                ]
                for row in rows
            ],
        },
        schema_overrides={
            "tests": pl.List(
                pl.Struct({"verdict": pl.String, "time_s": pl.Float64, "score": pl.Float64})
            )
        },
    )
    critiques = pl.DataFrame(
        {
            "sample_id": [row[0] for row in rows if row[4] is not None],
            "judgement": [row[4] for row in rows if row[4] is not None],
            "critique_length": [row[5] for row in rows if row[4] is not None],
        },
        schema={"sample_id": pl.String, "judgement": pl.String, "critique_length": pl.Int64},
    )
    return samples, critiques, executions


def _problems() -> pl.DataFrame:
    tests = [{"input": f"{i}\n", "output": f"{i}\n"} for i in range(5)]
    return conform(
        [
            {
                "question_id": "q-sumvec",
                "source": "ioi",
                "source_id": "2024-sumvec",
                "split": "test",
                "question": "Sum.",
                "test_type": "stdin",
                "tests": tests,
                "time_limit_s": 1.0,
                "memory_limit_mb": 256,
                "subtasks": SUBTASKS,
            },
            {  # a pass/fail problem: not in the IOI table
                "question_id": "q-plain",
                "source": "bundled",
                "source_id": "plain",
                "split": "test",
                "question": "Plain.",
                "test_type": "stdin",
                "tests": tests[:1],
                "time_limit_s": 1.0,
                "memory_limit_mb": 256,
            },
        ],
        PROBLEM,
    )


def test_the_ioi_table_hand_worked_per_choice():
    # idx 0 overflows (30), idx 1 is right (100) but judged wrong, idx 2 is SE (never submitted),
    # idx 3 has a half score on test 4 (65) and is judged right with the shortest critique.
    samples, critiques, executions = _frames(
        [
            ("s0", 0, "WA", [1, 1, 1, 0, 0], "right", 50),
            ("s1", 1, "AC", [1, 1, 1, 1, 1], "wrong", 10),
            ("s2", 2, "SE", None, "right", 5),
            ("s3", 3, "WA", [1, 1, 1, 1, 0.5], "right", 20),
        ]
    )
    table = ioi_scores(
        samples,
        critiques,
        executions,
        _problems(),
        choose="self_critique",
        limit=1,
        seed=0,
        fallback="random",
    )
    assert table.schema == IOI_SCORE
    [row] = table.to_dicts()
    # limit 1: first -> s0 (30); self-critique -> s3 (judged right, 20 < 50 characters): 65;
    # all three samples with a verdict -> subtask 1: 30, subtask 2: max(0, 70, 35) = 70: 100.
    assert row["source_id"] == "2024-sumvec"
    assert (row["n"], row["se_count"], row["submitted"]) == (3, 1, 1)
    assert (row["score_first"], row["score_self_critique"], row["score"]) == (30.0, 65.0, 65.0)
    assert row["score_random"] in (30.0, 100.0, 65.0)  # one of the three samples with a verdict
    assert (row["score_all_samples"], row["best_submission"], row["max_points"]) == (
        100.0,
        100.0,
        100.0,
    )
    assert row["subtask_scores"] == "0: 0/0; 1: 30/30; 2: 35/70"
    again = ioi_scores(
        samples,
        critiques,
        executions,
        _problems(),
        choose="self_critique",
        limit=1,
        seed=0,
        fallback="random",
    )
    assert again.equals(table)  # seeded: the same draw every run
    everything = ioi_scores(
        samples,
        critiques,
        executions,
        _problems(),
        choose="random",
        limit=3,
        seed=0,
        fallback="random",
    ).to_dicts()[0]
    assert everything["score_random"] == everything["score"] == 100.0
    # limit 2: self-critique submits s3 and s0 (both judged right): max(35, 0) = 35 on subtask 2.
    two = ioi_scores(
        samples,
        critiques,
        executions,
        _problems(),
        choose="first",
        limit=2,
        seed=0,
        fallback="random",
    ).to_dicts()[0]
    assert (two["score_first"], two["score_self_critique"], two["score"]) == (100.0, 65.0, 100.0)
    metrics = ioi_metrics(table)
    assert metrics["ioi.cpp.t0.6.total_score"]["value"] == 65.0
    assert metrics["ioi.cpp.t0.6.max_score"]["value"] == 100.0
    assert metrics["ioi.cpp.t0.6.2024-sumvec.score"]["value"] == 65.0
    assert metrics["ioi.cpp.t0.6.total_score_first"]["value"] == 30.0
    assert metrics["ioi.cpp.t0.6.total_score_all_samples"]["value"] == 100.0
    assert set(metrics) == {
        "ioi.cpp.t0.6.total_score",
        "ioi.cpp.t0.6.max_score",
        "ioi.cpp.t0.6.problems",
        *(f"ioi.cpp.t0.6.total_score_{option}" for option in (*CHOICES, "all_samples")),
        "ioi.cpp.t0.6.2024-sumvec.score",
    }


def test_no_problem_with_subtasks_gives_an_empty_table_and_no_metrics():
    samples, critiques, executions = _frames([("s0", 0, "AC", [1], None, None)])
    plain = _problems().filter(pl.col("subtasks").is_null())
    table = ioi_scores(
        samples.with_columns(pl.lit("q-plain").alias("question_id")),
        critiques,
        executions,
        plain,
        choose="first",
        limit=50,
        seed=0,
        fallback="random",
    )
    assert table.is_empty() and table.schema == IOI_SCORE
    assert ioi_metrics(table) == {}
