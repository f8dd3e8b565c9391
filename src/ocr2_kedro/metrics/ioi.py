"""IOI scoring: a problem's points are split over subtasks, each a group of tests (groups share
tests). A submission's score on a subtask is its points times the lowest score among the subtask's
tests (1 for AC, 0 otherwise, or a checker's partial score in [0, 1]): a subtask counts fully only
when every one of its tests passes. A problem's score is, per subtask, the best score among the
submissions made, summed over subtasks; at most `SUBMISSION_LIMIT` (50, IOI's rule since 2017)
submissions are made per problem. Which of a model's n samples are submitted is a choice
(`CHOICES`): the first ones (by sample index), a seeded random draw, or the order the
self-critique selector prefers them (`metrics.passk.self_critique_order`: judged right first,
shorter critique reasoning first; the others by the selector's fallback).

Kedro-free and pure: plain numbers in the scoring functions, polars frames in `ioi_scores`.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping, Sequence

import polars as pl

from ocr2_kedro.metrics.passk import self_critique_order

SUBMISSION_LIMIT = 50
CHOICES = ("first", "random", "self_critique")

# One row per model, IOI problem, language and temperature (`ioi_scores`).
IOI_SCORE = pl.Schema(
    {
        "model": pl.String,
        "question_id": pl.String,
        "source_id": pl.String,
        "language": pl.String,
        "temperature": pl.Float64,
        "subtasks": pl.Int64,
        "max_points": pl.Float64,  # the problem's points (sum over subtasks)
        "n": pl.Int64,  # samples with a verdict (SE left out)
        "se_count": pl.Int64,
        "choose": pl.String,  # the configured choice (`score`, `submitted`, `subtask_scores`)
        "submitted": pl.Int64,
        "score": pl.Float64,
        "score_first": pl.Float64,
        "score_random": pl.Float64,
        "score_self_critique": pl.Float64,
        "score_all_samples": pl.Float64,  # every sample submitted, no limit: the ceiling
        "best_submission": pl.Float64,  # the best single sample's score
        "subtask_scores": pl.String,  # "<name>: <best>/<points>" per subtask, configured choice
    }
)


def subtask_scores(test_scores: Sequence[float | None], subtasks: Sequence[Mapping]) -> list[float]:
    """One submission's score on each subtask: points x the lowest score among its tests.

    `test_scores[i]` is the submission's score in [0, 1] on test i (None: the test has no result,
    e.g. left out by `max_tests`; it counts 0, a test never passed). `subtasks` are
    {name, points, tests} with `tests` indices into `test_scores`. A subtask with no tests, negative
    points or an index outside the tests is a data error (ValueError)."""
    scores = []
    for subtask in subtasks:
        name, points, tests = subtask["name"], subtask["points"], subtask["tests"]
        if not tests:
            raise ValueError(f"subtask {name!r} has no tests: its score is undefined")
        if points is None or not math.isfinite(points) or points < 0:
            raise ValueError(f"subtask {name!r} has points={points!r}, not a number >= 0")
        lowest = 1.0
        for index in tests:
            if not 0 <= index < len(test_scores):
                raise ValueError(
                    f"subtask {name!r} names test {index}, outside the {len(test_scores)} tests"
                )
            score = test_scores[index]
            score = 0.0 if score is None else float(score)
            if not 0.0 <= score <= 1.0:
                raise ValueError(f"test {index} has score {score!r}, outside [0, 1]")
            lowest = min(lowest, score)
        scores.append(points * lowest)
    return scores


def problem_score(submissions: Sequence[Sequence[float]], subtask_count: int) -> list[float]:
    """The best score per subtask among `submissions` (each a list of per-subtask scores, as
    `subtask_scores` gives); all 0 with no submission. The problem's score is their sum."""
    best = [0.0] * subtask_count
    for scores in submissions:
        if len(scores) != subtask_count:
            raise ValueError(
                f"a submission has {len(scores)} subtask scores, expected {subtask_count}"
            )
        best = [max(b, s) for b, s in zip(best, scores, strict=True)]
    return best


def choose_submissions(
    n: int,
    choose: str,
    *,
    limit: int = SUBMISSION_LIMIT,
    rng: random.Random,
    judged_right: Sequence[bool | None] | None = None,
    critique_lengths: Sequence[float] | None = None,
    fallback: str = "random",
) -> list[int]:
    """Which of n samples (indices in sample order) are submitted, at most `limit`: the first
    ones ("first"), a uniform draw by `rng` ("random"), or the self-critique selector's preference
    order ("self_critique", with `judged_right`, `critique_lengths` and the selector's `fallback`;
    with fallback "fail" only the samples judged right are submitted)."""
    if choose not in CHOICES:
        raise ValueError(f"unknown choice {choose!r}: expected one of {CHOICES}")
    if limit < 1:
        raise ValueError(f"the submission limit must be >= 1, got {limit}")
    if choose == "first":
        return list(range(min(n, limit)))
    if choose == "random":
        return sorted(rng.sample(range(n), min(n, limit)))
    if judged_right is None or critique_lengths is None:
        raise ValueError("choose='self_critique' needs judged_right and critique_lengths")
    if not len(judged_right) == len(critique_lengths) == n:
        raise ValueError(
            f"judged_right and critique_lengths need one entry per sample ({n}), got "
            f"{len(judged_right)} and {len(critique_lengths)}"
        )
    return self_critique_order(judged_right, critique_lengths, fallback, rng)[:limit]


def _rng(seed: int, *key: object) -> random.Random:
    # A str seed is hashed with SHA-512: the same draw on every machine and Python run.
    return random.Random(":".join(map(str, (seed, *key))))


def _sample_test_scores(tests: list[dict] | None, count: int) -> list[float | None]:
    scores: list[float | None] = [None] * count
    for index, outcome in enumerate((tests or [])[:count]):
        if outcome is None:
            continue
        score = outcome.get("score")
        if score is None:
            score = 1.0 if outcome.get("verdict") == "AC" else 0.0
        scores[index] = float(score)
    return scores


def _label(subtasks: Sequence[Mapping], best: Sequence[float]) -> str:
    return "; ".join(
        f"{subtask['name']}: {score:g}/{subtask['points']:g}"
        for subtask, score in zip(subtasks, best, strict=True)
    )


def ioi_scores(
    samples: pl.DataFrame,
    critiques: pl.DataFrame,
    executions: pl.DataFrame,
    problems: pl.DataFrame,
    *,
    choose: str,
    limit: int,
    seed: int,
    fallback: str,
) -> pl.DataFrame:
    """One row per model, problem with subtasks, language and temperature (IOI_SCORE): the IOI
    score of the submissions `choose` picks (`score`), of every choice side by side, of all the
    samples with no limit, and of the best single sample. Samples the sandbox could not judge (SE)
    are never submitted (counted in `se_count`); a sample without code is a submission that scores
    0 (CE on every test). `seed` seeds the random choice and the self-critique selector's ties, per
    problem, language and temperature."""
    if choose not in CHOICES:
        raise ValueError(f"unknown choice {choose!r}: expected one of {CHOICES}")
    if "subtasks" not in problems.columns:
        return pl.DataFrame(schema=IOI_SCORE)
    scored = problems.filter(pl.col("subtasks").is_not_null())
    if scored.is_empty() or samples.is_empty():
        return pl.DataFrame(schema=IOI_SCORE)
    info = {
        row["question_id"]: row
        for row in scored.select(
            "question_id", "source_id", "subtasks", pl.col("tests").list.len().alias("test_count")
        ).iter_rows(named=True)
    }
    critique_columns = ["sample_id", "judgement", "critique_length"]
    joined = (
        samples.filter(pl.col("question_id").is_in(list(info)))
        .select("sample_id", "model", "question_id", "language", "temperature", "sample_idx")
        .join(executions.select("sample_id", "verdict", "tests"), on="sample_id", how="left")
        .join(critiques.select(critique_columns), on="sample_id", how="left")
        .sort("model", "question_id", "language", "temperature", "sample_idx")
    )
    rows = []
    for (model, question_id, language, temperature), group in joined.group_by(
        ["model", "question_id", "language", "temperature"], maintain_order=True
    ):
        problem = info[question_id]
        subtasks = problem["subtasks"]
        judged = group.filter(pl.col("verdict").is_not_null() & (pl.col("verdict") != "SE"))
        per_sample = [
            subtask_scores(_sample_test_scores(tests, problem["test_count"]), subtasks)
            for tests in judged["tests"].to_list()
        ]
        right = [judgement == "right" for judgement in judged["judgement"].to_list()]
        lengths = [
            math.inf if length is None else float(length)
            for length in judged["critique_length"].to_list()
        ]
        key = (question_id, language, temperature)
        chosen = {
            option: choose_submissions(
                len(per_sample),
                option,
                limit=limit,
                rng=_rng(seed, option, *key),
                judged_right=right,
                critique_lengths=lengths,
                fallback=fallback,
            )
            for option in CHOICES
        }
        best = {
            option: problem_score([per_sample[i] for i in indices], len(subtasks))
            for option, indices in chosen.items()
        }
        rows.append(
            {
                "model": model,
                "question_id": question_id,
                "source_id": problem["source_id"],
                "language": language,
                "temperature": temperature,
                "subtasks": len(subtasks),
                "max_points": float(sum(subtask["points"] for subtask in subtasks)),
                "n": len(per_sample),
                "se_count": group.height - judged.height,
                "choose": choose,
                "submitted": len(chosen[choose]),
                "score": sum(best[choose]),
                **{f"score_{option}": sum(best[option]) for option in CHOICES},
                "score_all_samples": sum(problem_score(per_sample, len(subtasks))),
                "best_submission": max((sum(scores) for scores in per_sample), default=0.0),
                "subtask_scores": _label(subtasks, best[choose]),
            }
        )
    return pl.DataFrame(rows, schema=IOI_SCORE) if rows else pl.DataFrame(schema=IOI_SCORE)


def ioi_metrics(table: pl.DataFrame) -> dict[str, dict[str, float]]:
    """MLflow metrics of an `ioi_scores` table, per language and temperature
    (`ioi.<language>.t<temperature>.`, as the evaluation's headline metrics; the catalog prefixes
    them with `evaluation.<model>`): `total_score` (the configured choice, summed over problems),
    `max_score`, `problems`, `total_score_<choice>` for every choice and `total_score_all_samples`,
    and `<source_id>.score` per problem."""
    logged: dict[str, dict[str, float]] = {}

    def put(name: str, value: float) -> None:
        logged[name] = {"value": float(value), "step": 0}

    for (language, temperature), group in table.group_by(
        ["language", "temperature"], maintain_order=True
    ):
        prefix = f"ioi.{language}.t{float(temperature):g}"
        put(f"{prefix}.total_score", group["score"].sum())
        put(f"{prefix}.max_score", group["max_points"].sum())
        put(f"{prefix}.problems", group.height)
        for option in (*CHOICES, "all_samples"):
            put(f"{prefix}.total_score_{option}", group[f"score_{option}"].sum())
        for row in group.iter_rows(named=True):
            put(f"{prefix}.{row['source_id']}.score", row["score"])
    return logged
