"""Evaluation nodes on small frames: bad benchmark rows and references become rejects with a reason,
scoring and summaries count what the samples say."""

from __future__ import annotations

import math

import polars as pl
import pytest

from ocr2_kedro.metrics.evaluation import REFERENCE_TOKEN_LOSS
from ocr2_kedro.pipelines.evaluation.nodes import (
    _samples,
    benchmark_subset,
    collect_references,
    compare_models,
    compare_models_paired,
    evaluation_metrics,
    execute_samples,
    plot_evaluation,
    prepare_benchmark,
    resolve_model,
    score_samples,
    summarize_evaluation,
)
from ocr2_kedro.schemas import PROBLEM, conform
from tests.support.parameters import stage_settings
from tests.support.path import path_without

OVERRIDES = {
    "languages": ["python", "cpp"],
    "samples_per_problem": 2,
    "sampling": {"top_p": 0.95, "max_tokens": 16},
    "ks": [1, 2],
    "temperatures": [0.6],
    "breakdowns": ["difficulty"],
    "bootstrap": {"resamples": 100, "seed": 0},
    "self_critique": {"fallback": "random"},
}
PARAMS = stage_settings("evaluation", OVERRIDES)


def settings(**overrides):
    """The test's evaluation settings with `overrides` merged over them."""
    return stage_settings("evaluation", {**OVERRIDES, **overrides})


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


def _pool(counts: dict[str, int]) -> pl.DataFrame:
    """`counts[source]` scoreable problems of each source."""
    rows = [
        {**problem(f"{source}-{i}", [{"input": "1", "output": "1"}]), "source": source}
        for source, count in counts.items()
        for i in range(count)
    ]
    return conform(rows, PROBLEM)


def _chosen(problems: pl.DataFrame, seed: int = 0, **per_source) -> set[str]:
    subset = settings(subset={"seed": seed, "per_source": per_source}).subset
    return set(benchmark_subset(problems, subset)["question_id"])


def test_the_subset_is_seeded_per_source_nested_and_the_same_whatever_the_row_order():
    pool = _pool({"humaneval": 40, "bundled": 6, "other": 3})
    chosen = _chosen(pool, humaneval=10, bundled=4)
    by_source = {
        source: {q for q in chosen if q.startswith(source)}
        for source in ("humaneval", "bundled", "other")
    }
    # A size per named source; a source not named keeps all of its problems.
    assert [len(by_source[s]) for s in ("humaneval", "bundled", "other")] == [10, 4, 3]
    # The same problems whatever order the rows come in (ranked by id, never by position) ...
    assert (
        _chosen(pool.sample(fraction=1.0, shuffle=True, seed=7), humaneval=10, bundled=4) == chosen
    )
    # ... nested: a smaller size picks a subset of a larger one's ...
    assert _chosen(pool, humaneval=5, bundled=4) < chosen
    assert chosen < _chosen(pool, humaneval=20, bundled=4)
    # ... not the first N by id, and another seed picks others.
    assert by_source["humaneval"] != {f"humaneval-{i}" for i in range(10)}
    assert _chosen(pool, seed=1, humaneval=10, bundled=4) != chosen
    # null, or a size above what the source holds: all of it.
    assert len(_chosen(pool, humaneval=None, bundled=100)) == 49


def test_prepare_benchmark_rejects_unscoreable_rows_then_takes_the_subset():
    pool = pl.concat([_pool({"humaneval": 5}), conform([problem("empty", [])], PROBLEM)])
    kept, rejects = prepare_benchmark(
        pool, settings(subset={"seed": 0, "per_source": {"humaneval": 2}})
    )
    assert kept.height == 2 and set(kept["source"]) == {"humaneval"}
    assert rejects["record_id"].to_list() == ["empty"]


def test_a_problem_whose_source_has_no_evaluated_language_is_a_reject():
    pool = _pool({"humaneval": 2, "bundled": 1})
    kept, rejects = prepare_benchmark(
        pool, settings(languages=["cpp"], source_languages={"humaneval": ["python"]})
    )
    assert kept["question_id"].to_list() == ["bundled-0"]
    assert rejects["record_id"].to_list() == ["humaneval-0", "humaneval-1"]
    assert set(rejects["reason"]) == {"language_not_evaluated"}


def test_each_source_is_asked_in_its_own_languages():
    pool = _pool({"humaneval": 2, "bundled": 1})
    params = settings(
        languages=["python", "cpp"],
        source_languages={"humaneval": ["python"]},
        samples_per_problem=2,
    )
    model = {"name": "base", "path": "model", "backend": None}
    requests = _samples(pool, model, params, 0.6)
    asked = requests.group_by("question_id").agg(pl.col("language").unique().sort())
    assert dict(asked.iter_rows()) == {
        "humaneval-0": ["python"],
        "humaneval-1": ["python"],
        "bundled-0": ["cpp", "python"],
    }
    assert requests.height == (2 * 1 + 1 * 2) * 2
    # Problem-major, as the prompt builder makes them.
    assert requests["question_id"].to_list()[:2] == ["humaneval-0"] * 2


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
    missing = settings(models={"stage1": {"path": str(tmp_path / "missing")}}).models["stage1"]
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model("unused", missing)
    served = settings(
        models={"x": {"checkpoint": None, "path": "served-name", "backend": "openai"}},
        openai={"endpoints": ["http://127.0.0.1:8000/v1"]},
    ).models["x"]
    assert resolve_model("unused", served) == {
        "name": "x",
        "path": "served-name",
        "backend": "openai",
    }


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


def _scored_by(model: str, verdicts: list[str]) -> pl.DataFrame:
    """The per-problem results of `model` whose samples a, b (q1) and c, d (q2) got `verdicts`."""
    samples = pl.DataFrame(
        {
            "sample_id": ["a", "b", "c", "d"],
            "model": [model] * 4,
            "question_id": ["q1", "q1", "q2", "q2"],
            "language": ["python"] * 4,
            "temperature": [0.6] * 4,
            "sample_idx": [0, 1, 0, 1],
            "solution": ["x", "y", "z", "w"],
        }
    )
    critiques = pl.DataFrame(
        {
            "sample_id": ["a", "b", "c", "d"],
            "judgement": ["right"] * 4,
            "critique_length": [1, 2, 3, 4],
        }
    )
    executions = pl.DataFrame({"sample_id": ["a", "b", "c", "d"], "verdict": verdicts})
    problems = conform([problem(q, [{"input": "1", "output": "1"}]) for q in ("q1", "q2")], PROBLEM)
    return score_samples(samples, critiques, executions, problems, PARAMS)[1]


def _token_losses(model: str, nll: list[float]) -> pl.DataFrame:
    rows = [
        {"model": model, "question_id": q, "language": "python", "reference_idx": 0}
        | {"tokens": tokens, "nll": loss, "truncated": False}
        for q, tokens, loss in zip(["q1", "q2"], [10, 30], nll, strict=True)
    ]
    return conform(rows, REFERENCE_TOKEN_LOSS)


def test_models_are_compared_paired_against_the_first_and_the_one_before():
    tables = [
        _scored_by("base", ["WA", "WA", "WA", "WA"]),  # pass@1: q1 0, q2 0
        _token_losses("base", [20.0, 60.0]),  # 2.0 per token on both references
        _scored_by("stage1", ["AC", "WA", "WA", "WA"]),  # q1 0.5, q2 0
        _token_losses("stage1", [15.0, 45.0]),  # 1.5
        _scored_by("stage2", ["AC", "AC", "AC", "WA"]),  # q1 1.0, q2 0.5
        _token_losses("stage2", [10.0, 60.0]),  # 1.0 and 2.0: (10 + 60) / 40 = 1.75
    ]
    table, markdown, figure, metrics = compare_models_paired(PARAMS, *tables)
    rows = {
        (row["comparison"], row["metric"], row["language"]): row
        for row in table.iter_rows(named=True)
    }
    assert sorted({key[0] for key in rows}) == [
        "stage1_vs_base",
        "stage2_vs_base",
        "stage2_vs_stage1",
    ]
    assert {key[1] for key in rows} >= {
        "pass_at_1",
        "pass_at_2",
        "pass_at_1_select_at_2",
        "random_select_at_2",
        "critique_at_2",
        "reference_loss",
    }
    # pass@1 differences per problem: 0.5 and 0 (n.s.); 1.0 and 0.5; 0.5 and 0.5 (every resample).
    noise = rows[("stage1_vs_base", "pass_at_1", "python")]
    assert (noise["difference"], noise["ci_low"], noise["ci_high"]) == (0.25, 0.0, 0.5)
    assert not noise["significant"]
    real = rows[("stage2_vs_base", "pass_at_1", "python")]
    assert (real["difference"], real["ci_low"], real["ci_high"]) == (0.75, 0.5, 1.0)
    assert real["significant"] and real["units"] == 2
    step = rows[("stage2_vs_stage1", "pass_at_1", "python")]
    assert (step["difference"], step["ci_low"], step["ci_high"]) == (0.5, 0.5, 0.5)
    loss = rows[("stage2_vs_stage1", "reference_loss", "all")]
    assert (loss["baseline_mean"], loss["variant_mean"]) == (1.5, 1.75)
    assert loss["difference"] == pytest.approx(0.25) and loss["unit"] == "reference"
    assert "| stage1_vs_base | pass_at_1 | python | 0.6 | problem | 2 |" in markdown
    assert "+0.250 [+0.000, +0.500] (n.s.)" in markdown
    assert "+0.750 [+0.500, +1.000] |" in markdown
    assert metrics["stage2_vs_base.python.t0.6.pass_at_1.significant"]["value"] == 1.0
    assert metrics["stage1_vs_base.python.reference_loss.difference"]["value"] == -0.5
    assert {trace.name for trace in figure.data} == {
        "stage1_vs_base",
        "stage2_vs_base",
        "stage2_vs_stage1",
    }
    with pytest.raises(ValueError, match="2 tables per model"):
        compare_models_paired(PARAMS, *tables[:4])


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

    selection, temperature = plot_evaluation(summary, settings(languages=["python"]))
    names = {trace.name for trace in selection.data}
    assert "pass@1|select@k (self-critique)" in names and "pass@k (oracle)" in names
    assert len(temperature.data) == 4  # python and all, pass@1 and select@2

    wide, markdown = compare_models(
        summary, pl.DataFrame({"model": ["m"], "language": ["python"], "loss_per_token": [1.5]})
    )
    assert wide.filter(pl.col("language") == "python")["reference_loss"].to_list() == [1.5]
    assert "pass_at_1_select_at_2" in markdown and not math.isnan(wide["pass_at_1"][0])


def _sample_frame(rows: list[tuple[str, str, str, int, str | None]]) -> pl.DataFrame:
    """(sample_id, question_id, language, sample_idx, solution) rows of model "m" at t=0.6."""
    sample_id, question_id, language, sample_idx, solution = zip(*rows, strict=True)
    return pl.DataFrame(
        {
            "sample_id": sample_id,
            "model": ["m"] * len(rows),
            "question_id": question_id,
            "language": language,
            "temperature": [0.6] * len(rows),
            "sample_idx": sample_idx,
            "solution": solution,
        }
    )


def _overall(summary: pl.DataFrame, language: str) -> dict[str, dict]:
    rows = summary.filter((pl.col("breakdown") == "all") & (pl.col("language") == language))
    return {row["metric"]: row for row in rows.iter_rows(named=True)}


def test_se_samples_leave_n_and_c_and_are_counted_hand_worked():
    """q1: AC, WA and two SE samples the model judged right with the shortest critiques; q2: two AC,
    two WA. SE samples are left out of n and c: q1 is n = 2, c = 1 (pass@1 = 0.5, pass@2 = 1; as
    failures it would be n = 4: pass@1 = 0.25, pass@2 = 1 - C(3,2)/C(4,2) = 0.5, and select@2
    would pick an SE sample in 5 of 6 pairs: 1/6). pass@4 is not estimated for q1 (2 samples left).
    q2: pass@2 = 1 - C(2,2)/C(4,2) = 5/6; select@2 over its 6 pairs = (1+0+1+0+0.5+0)/6 = 5/12."""
    samples = _sample_frame(
        [
            ("a", "q1", "python", 0, "x"),
            ("b", "q1", "python", 1, "x"),
            ("c", "q1", "python", 2, "x"),
            ("d", "q1", "python", 3, "x"),
            ("e", "q2", "python", 0, "x"),
            ("f", "q2", "python", 1, "x"),
            ("g", "q2", "python", 2, "x"),
            ("h", "q2", "python", 3, "x"),
        ]
    )
    critiques = pl.DataFrame(
        {
            "sample_id": list("abcdefgh"),
            "judgement": ["right", "wrong", "right", "right", "right", "wrong", "right", "wrong"],
            "critique_length": [10, 5, 1, 2, 4, 6, 2, 8],
        }
    )
    fault = "sandbox fault after retries: zygote died"
    executions = pl.DataFrame(
        {
            "sample_id": list("abcdefgh"),
            "verdict": ["AC", "WA", "SE", "SE", "AC", "AC", "WA", "WA"],
            "error": [None, "WA: 1 != 2", fault, fault, None, None, None, None],
        }
    )
    problems = conform(
        [
            problem("q1", [{"input": "1", "output": "1"}]),
            problem("q2", [{"input": "1", "output": "1"}]),
        ],
        PROBLEM,
    )
    params = settings(samples_per_problem=4, ks=[1, 2, 4])
    sample_results, problem_results = score_samples(
        samples, critiques, executions, problems, params
    )
    assert sample_results.filter(pl.col("system_error"))["sample_id"].to_list() == ["c", "d"]
    assert sample_results.filter(pl.col("sample_id") == "c")["error"].to_list() == [fault]
    rows = {row["question_id"]: row for row in problem_results.iter_rows(named=True)}
    q1, q2 = rows["q1"], rows["q2"]
    assert (q1["n"], q1["correct"], q1["se_count"], q1["se_error"]) == (2, 1, 2, fault)
    assert q1["pass_at_1"] == 0.5 and q1["pass_at_2"] == 1.0 and q1["pass_at_4"] is None
    assert q1["pass_at_1_select_at_2"] == 1.0
    assert (q2["n"], q2["correct"], q2["se_count"], q2["se_error"]) == (4, 2, 0, None)
    assert q2["pass_at_2"] == pytest.approx(5 / 6) and q2["pass_at_4"] == 1.0
    assert q2["pass_at_1_select_at_2"] == pytest.approx(5 / 12)

    summary = summarize_evaluation(problem_results, sample_results, params)
    python = _overall(summary, "python")
    assert python["pass_at_1"]["mean"] == pytest.approx(0.5)
    assert python["pass_at_2"]["mean"] == pytest.approx((1 + 5 / 6) / 2)
    assert (python["pass_at_4"]["mean"], python["pass_at_4"]["problems"]) == (1.0, 1)
    assert python["pass_at_1_select_at_2"]["mean"] == pytest.approx((1 + 5 / 12) / 2)
    assert (python["se_count"]["mean"], python["se_count"]["samples"]) == (2, 8)
    assert python["se_share"]["mean"] == pytest.approx(0.25)
    # The critic against execution over the 6 samples with a verdict: a TP, b TN, e TP, f FN,
    # g FP, h TN.
    assert python["critic_accuracy"]["samples"] == 6
    assert python["critic_accuracy"]["mean"] == pytest.approx(4 / 6)
    assert python["critic_precision"]["mean"] == pytest.approx(2 / 3)


def test_se_samples_from_a_real_sandbox_are_counted_per_language_and_warned_about(
    tmp_path, monkeypatch, caplog
):
    """Through the real sandbox, on a host without g++: a good problem's Python samples get
    verdicts, its C++ samples end in SE (no compiler) and a malformed problem's samples in SE (bad
    problem). The SE samples are counted per language, logged, kept with their errors, and left
    out of pass@k instead of counting as failures."""
    monkeypatch.setenv("PATH", path_without("g++", tmp_path / "bin"))
    problems = conform(
        [
            problem("echo", [{"input": "3\n", "output": "3\n"}, {"input": "5\n", "output": "5\n"}]),
            problem("broken", [{"input": "[1,", "output": "1"}], "functional", "f"),
        ],
        PROBLEM,
    )
    cpp_echo = "#include <iostream>\nint main(){int x;std::cin>>x;std::cout<<x;}"
    samples = _sample_frame(
        [
            ("py_ac", "echo", "python", 0, "print(input())"),
            ("py_wa", "echo", "python", 1, "print(0)"),
            ("cpp_1", "echo", "cpp", 0, cpp_echo),
            ("cpp_2", "echo", "cpp", 1, "int main(){return 0;}"),
            ("bad_1", "broken", "python", 0, "def f(x):\n    return x"),
            ("bad_2", "broken", "python", 1, "def f(x):\n    return 1"),
        ]
    )
    params = settings(
        execution={
            "stop_at_first_failure": True,
            "workers": 1,
            "progress": False,
            "cache_dir": str(tmp_path / "cpp_cache"),
        }
    )
    executions = execute_samples(samples, problems, params)
    critiques = pl.DataFrame(
        {"sample_id": samples["sample_id"], "judgement": ["right"] * 6, "critique_length": [9] * 6}
    )
    with caplog.at_level("WARNING", logger="ocr2_kedro.metrics.evaluation"):
        sample_results, problem_results = score_samples(
            samples, critiques, executions, problems, params
        )

    verdicts = dict(zip(sample_results["sample_id"], sample_results["verdict"], strict=True))
    assert verdicts == {
        "py_ac": "AC",
        "py_wa": "WA",
        "cpp_1": "SE",
        "cpp_2": "SE",
        "bad_1": "SE",
        "bad_2": "SE",
    }
    errors = dict(zip(sample_results["sample_id"], sample_results["error"], strict=True))
    assert "g++" in errors["cpp_1"] and "bad problem" in errors["bad_1"]
    rows = {(r["question_id"], r["language"]): r for r in problem_results.iter_rows(named=True)}
    echo_python = rows[("echo", "python")]
    assert (echo_python["n"], echo_python["correct"], echo_python["se_count"]) == (2, 1, 0)
    assert echo_python["pass_at_1"] == 0.5 and echo_python["pass_at_2"] == 1.0
    for key in (("echo", "cpp"), ("broken", "python")):
        assert (rows[key]["n"], rows[key]["se_count"], rows[key]["pass_at_1"]) == (0, 2, None)
    assert "g++" in rows[("echo", "cpp")]["se_error"]
    assert "bad problem" in rows[("broken", "python")]["se_error"]

    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("2 of 2 cpp samples ended in SE" in w and "g++" in w for w in warnings)
    assert any("2 of 4 python samples ended in SE" in w and "bad problem" in w for w in warnings)

    summary = summarize_evaluation(problem_results, sample_results, params)
    python, cpp, every = (_overall(summary, lang) for lang in ("python", "cpp", "all"))
    # Counted as failures, the broken problem would halve Python's pass@1 to 0.25.
    assert (python["pass_at_1"]["mean"], python["pass_at_1"]["problems"]) == (0.5, 1)
    assert (python["se_count"]["mean"], python["se_share"]["mean"]) == (2, 0.5)
    assert (cpp["se_count"]["mean"], cpp["se_share"]["mean"]) == (2, 1.0)
    assert cpp["pass_at_1"]["problems"] == 0 and math.isnan(cpp["pass_at_1"]["mean"])
    assert every["se_share"]["mean"] == pytest.approx(4 / 6)

    logged = evaluation_metrics(summary, pl.DataFrame({"language": [], "loss_per_token": []}))
    assert logged["python.t0.6.se_count"]["value"] == 2
    assert logged["cpp.t0.6.se_share"]["value"] == 1.0
    assert logged["all.t0.6.se_count"]["value"] == 4
    assert "cpp.t0.6.pass_at_1" not in logged  # no C++ problem has a verdict: nothing to average
    assert all("@" not in name for name in logged)

    wide, markdown = compare_models(summary, pl.DataFrame())
    assert wide.filter(pl.col("language") == "cpp")["se_count"].to_list() == [2]
    header = markdown.splitlines()[2]
    assert "se_count" in header and "se_share" in header
    assert "m cpp t=0.6: 2 samples (100.0%)" in markdown
    assert "m python t=0.6: 2 samples (50.0%)" in markdown


def test_a_problem_that_needs_a_checker_and_ships_none_is_a_needs_checker_reject():
    """It accepts several answers: judged by text a right answer could be WA, so it is not scored
    (with a checker it is, and so is one that needs none)."""
    test = [{"input": "4", "output": "2 2"}]
    checker = {"needs_checker": True, "checker": "import sys\n", "checker_language": "python"}
    pool = conform(
        [
            {**problem("any-split", test), "needs_checker": True},
            {**problem("checked", test), **checker},
            {**problem("plain", test), "needs_checker": False},
        ],
        PROBLEM,
    )
    kept, rejects = prepare_benchmark(pool, settings())
    assert kept["question_id"].to_list() == ["checked", "plain"]
    assert rejects.select("record_id", "reason").rows() == [("any-split", "needs_checker")]
