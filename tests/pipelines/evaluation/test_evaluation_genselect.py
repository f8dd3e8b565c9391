"""GenSelect in the evaluation nodes: its requests resume like the other sampling stages (a real
OpenAI-API server on loopback plays a scripted model) and score beside self-critique up to the
summary and MLflow names; and the embedded model, through the transformers backend, picks among
real candidates, which the sandbox judges and the scores follow."""

from __future__ import annotations

from contextlib import ExitStack

import polars as pl
import pytest

from ocr2_kedro.generation import Completion, create_backend
from ocr2_kedro.generation.critique import opened_once
from ocr2_kedro.generation.genselect import genselect_prompt
from ocr2_kedro.metrics.evaluation import EVAL_SAMPLE, SELF_CRITIQUE
from ocr2_kedro.metrics.selection import GENSELECT, SELECTOR_TABLE
from ocr2_kedro.pipelines.evaluation.nodes import (
    compare_selectors,
    evaluation_metrics,
    execute_samples,
    genselect_picks,
    sample_and_critique,
    score_samples,
    summarize_evaluation,
)
from ocr2_kedro.schemas import PROBLEM, conform
from tests.support.openai_server import serve
from tests.support.parameters import stage_settings


class ScriptedStudent:
    """Writes a solution (sample i of a problem echoes, every other one prints a constant), judges
    every solution right, and in GenSelect names the second candidate."""

    model_name = "scripted"

    def generate(self, requests, sampling):
        out = []
        for request in requests:
            prompt = next(m["content"] for m in request.messages if m["role"] == "user")
            if prompt.startswith("You are reviewing"):
                text = "<think>Looks fine.</think>\nJudgement: right"
            elif prompt.startswith("Below are a competitive programming problem"):
                text = "Solution 1 prints a constant; solution 2 echoes.\nBest solution: 2"
            elif request.seed % 2 == 0:
                text = "```python\nprint(input())\n```"
            else:
                text = "```python\nprint('x')\n```"
            out.append(Completion(request.request_id, text, "stop", 7, "scripted"))
        return out


def problems() -> pl.DataFrame:
    return conform(
        [
            {
                "question_id": f"q{i}",
                "source": "bundled",
                "source_id": str(i),
                "question": f"Read a line and print it ({i}).",
                "test_type": "stdin",
                "tests": [{"input": "y\n", "output": "y\n"}],
            }
            for i in range(2)
        ],
        PROBLEM,
    )


def settings(url: str, shard_dir: str, **genselect) -> object:
    return stage_settings(
        "evaluation",
        {
            "backend": "openai",
            "openai": {"endpoints": [url], "backoff_s": 0.01},
            "languages": ["python"],
            "samples_per_problem": 3,
            "ks": [1, 2],
            "temperatures": [0.6],
            "sampling": {"top_p": 0.95, "max_tokens": 32, "seed": 0},
            "self_critique": {"enabled": True, "sampling": {"temperature": 0.0, "max_tokens": 16}},
            "genselect": {
                "enabled": True,
                "ks": [2],
                "subsets": 2,
                "sampling": {"temperature": 0.0, "max_tokens": 16},
                **genselect,
            },
            "resume": {"shard_dir": shard_dir, "chunk_size": 3},
            "execution": {"workers": 1, "progress": False},
            "bootstrap": {"resamples": 200},
        },
    )


MODEL = {"name": "base", "path": "scripted", "backend": "openai"}


def test_genselect_requests_resume_and_score_beside_self_critique(tmp_path):
    with serve(ScriptedStudent()) as (url, state):

        def evaluate(params):
            before = state.requests
            samples, critiques, picks = sample_and_critique(problems(), MODEL, params)
            return samples, critiques, picks, state.requests - before

        params = settings(url, str(tmp_path))
        samples, critiques, picks, sent = evaluate(params)
        # 2 problems x 3 samples, a critique of each, and 2 of the C(3, 2) = 3 subsets per problem.
        assert sent == 6 + 6 + 4
        assert picks.schema == GENSELECT and picks.height == 4
        assert picks["status"].to_list() == ["parsed"] * 4
        assert picks["choice"].to_list() == [1] * 4
        assert all(row["chosen_sample_idx"] == row["sample_idxs"][1] for row in picks.to_dicts())
        for _, unit in picks.group_by("question_id"):
            assert unit["sample_idxs"].n_unique() == 2  # distinct subsets
        assert (picks["num_output_tokens"] == 7).all()
        assert critiques["num_output_tokens"].to_list() == [7] * 6

        # A rerun sends nothing and reads back the same picks.
        again = evaluate(params)
        assert again[3] == 0 and again[2].equals(picks)
        # One more subset per problem (all 3): only the new one is asked; the first two resume.
        more = evaluate(settings(url, str(tmp_path), subsets=3))
        assert more[3] == 2 and more[2].height == 6

        def drawn(frame):
            return {(row["question_id"], tuple(row["sample_idxs"])) for row in frame.to_dicts()}

        assert drawn(picks) < drawn(more[2])
        # Another GenSelect setting: GenSelect alone is asked again, samples and critiques resume.
        longer = evaluate(
            settings(url, str(tmp_path), sampling={"temperature": 0.0, "max_tokens": 24})
        )
        assert longer[3] == 4
        assert set(longer[2]["request_fingerprint"]).isdisjoint(picks["request_fingerprint"])
        # GenSelect on one problem per language (seeded): a subset of what was asked, resumed.
        one = evaluate(settings(url, str(tmp_path), problems_per_language=1))
        assert one[3] == 0 and one[2]["question_id"].n_unique() == 1 and one[2].height == 2
        # Disabled: no request, an empty table of the same schema.
        off = evaluate(settings(url, str(tmp_path), enabled=False))
        assert off[3] == 0 and off[2].is_empty() and off[2].schema == GENSELECT

    # Scored: even seeds (sample idx 0 and 2) echo and pass; GenSelect names the second of each
    # subset. Every sample is judged right with equal critiques, so the self-critique selector is a
    # uniform pick within a subset (its mean pass).
    executions = execute_samples(samples, problems(), params)
    sample_results, problem_results = score_samples(
        samples, critiques, executions, problems(), params, picks
    )
    passed = dict(zip(sample_results["sample_id"], sample_results["passed"], strict=True))
    by_idx = {
        (row["question_id"], row["sample_idx"]): passed[row["sample_id"]]
        for row in samples.iter_rows(named=True)
    }
    assert [by_idx[("q0", i)] for i in range(3)] == [True, False, True]
    for row in problem_results.iter_rows(named=True):
        subsets = picks.filter(pl.col("question_id") == row["question_id"])["sample_idxs"]
        outcomes = [[by_idx[(row["question_id"], i)] for i in s] for s in subsets]
        assert row["pass_at_1_genselect_at_2"] == pytest.approx(
            sum(o[1] for o in outcomes) / len(outcomes)
        )
        assert row["pass_at_1_select_at_2_drawn"] == pytest.approx(
            sum(sum(o) / 2 for o in outcomes) / len(outcomes)
        )
        assert row["random_select_at_2_drawn"] == row["pass_at_1_select_at_2_drawn"]
        assert row["oracle_select_at_2_drawn"] == pytest.approx(
            sum(any(o) for o in outcomes) / len(outcomes)
        )
        assert row["genselect_requests_at_2"] == 2
    table, markdown, metrics = compare_selectors(
        problem_results, sample_results, critiques, MODEL, params
    )
    assert table.schema == SELECTOR_TABLE
    assert set(table["method"]) == {
        "genselect",
        "self_critique",
        "random",
        "oracle",
        "genselect_minus_self_critique",
    }
    genselect = table.filter((pl.col("language") == "all") & (pl.col("method") == "genselect"))
    assert genselect["extra_tokens"].item() == 4 * 7 and genselect["requests"].item() == 4
    critique = table.filter((pl.col("language") == "all") & (pl.col("method") == "self_critique"))
    assert critique["extra_tokens"].item() == 6 * 7
    assert "| all | 0.6 | 2 | genselect |" in markdown
    assert "selection.all.t0.6.pass_at_1_genselect_at_2" in metrics
    # The columns reach the summary and the headline MLflow names beside select@k.
    summary = summarize_evaluation(problem_results, sample_results, params)
    logged = evaluation_metrics(
        summary, pl.DataFrame(schema={"language": pl.String, "loss_per_token": pl.Float64})
    )
    for name in (
        "pass_at_1_genselect_at_2",
        "pass_at_1_select_at_2_drawn",
        "random_select_at_2_drawn",
        "oracle_select_at_2_drawn",
        "pass_at_1_select_at_2",
    ):
        assert f"all.t0.6.{name}" in logged


def test_a_genselect_prompt_over_the_context_fails_alone_and_is_asked_again(tmp_path):
    """A server that refuses GenSelect's prompts (k candidates over its context, as `vllm serve`
    answers one: 400): the samples and critiques are kept, the subsets name no candidate (the
    fallback picks) with the server's reason, and a run against a larger context asks only them."""
    student = ScriptedStudent()
    # The shortest GenSelect prompt these problems can make (two of the shorter candidate): the
    # solution and critique prompts are shorter still (their answers below say so).
    shortest = genselect_prompt(problems()["question"][0], "python", ["print('x')"] * 2)
    with serve(student, max_prompt_chars=len(shortest) - 1) as (url, state):
        samples, critiques, picks = sample_and_critique(
            problems(), MODEL, settings(url, str(tmp_path))
        )
        assert state.requests == 6 + 6 + 4
    assert samples.height == 6 and critiques.height == 6
    assert picks.height == 4 and picks["status"].to_list() == ["unparsed"] * 4
    assert picks["choice"].null_count() == 4 and picks["finish_reason"].to_list() == ["error"] * 4
    with serve(student) as (url, state):
        again = sample_and_critique(problems(), MODEL, settings(url, str(tmp_path)))
        assert state.requests == 4  # only the refused GenSelect requests
    assert again[0].equals(samples) and again[2]["status"].to_list() == ["parsed"] * 4


def test_genselect_on_the_embedded_model(tmp_path, embedded_model_dir):
    """The real model through the transformers backend reads real candidates (one right, one
    wrong, in either order) and answers; whatever it says, every subset gets a status, the scores
    follow its picks and the sandbox's verdicts, and a rerun reads the same picks back."""
    params = stage_settings(
        "evaluation",
        {
            "backend": "transformers",
            "languages": ["python"],
            "samples_per_problem": 2,
            "self_critique": {"enabled": False},
            "genselect": {"ks": [2], "subsets": 1, "sampling": {"max_tokens": 16}},
            "resume": {"shard_dir": str(tmp_path), "chunk_size": 8},
            "execution": {"workers": 1, "progress": False},
            "bootstrap": {"resamples": 200},
        },
        env="test",
    )
    right = "a, b = map(int, input().split())\nprint(a + b + {i})"
    wrong = "a, b = map(int, input().split())\nprint(a * b)"
    questions = conform(
        [
            {
                "question_id": f"add{i}",
                "source": "bundled",
                "source_id": str(i),
                "question": f"Read two integers a and b on one line and print a + b + {i}.",
                "test_type": "stdin",
                "tests": [{"input": "3 4\n", "output": f"{7 + i}\n"}],
            }
            for i in range(3)
        ],
        PROBLEM,
    )
    samples = conform(
        [
            {
                "sample_id": f"add{i}-{idx}",
                "model": "base",
                "model_path": str(embedded_model_dir),
                "question_id": f"add{i}",
                "language": "python",
                "temperature": 0.6,
                "sample_idx": idx,
                "seed": idx,
                "solution": code.format(i=i),
                "finish_reason": "stop",
            }
            for i in range(3)
            # The right candidate first for add0 and add2, second for add1.
            for idx, code in enumerate([right, wrong] if i != 1 else [wrong, right])
        ],
        EVAL_SAMPLE,
    )
    model = {"name": "base", "path": str(embedded_model_dir), "backend": "transformers"}
    config = params.backend_config(model["path"], "transformers")
    with ExitStack() as stack:
        picks = genselect_picks(
            samples, questions, model, params, opened_once(stack, lambda: create_backend(config))
        )
    assert picks.height == 3 and (picks["status"] != "single_candidate").all()
    assert set(picks["status"]) <= {"parsed", "unparsed"}
    assert (picks["num_output_tokens"] > 0).all() and picks["output"].is_not_null().all()
    assert picks["request_fingerprint"].n_unique() == 3
    executions = execute_samples(samples, questions, params)
    assert executions.sort("sample_id")["verdict"].to_list() == ["AC", "WA", "WA", "AC", "AC", "WA"]
    critiques = pl.DataFrame(schema=SELF_CRITIQUE)
    sample_results, problem_results = score_samples(
        samples, critiques, executions, questions, params, picks
    )
    right_position = {"add0": 0, "add1": 1, "add2": 0}
    expected = {
        row["question_id"]: float(row["choice"] == right_position[row["question_id"]])
        if row["choice"] is not None
        else float(right_position[row["question_id"]] == 0)  # fallback: the first shown
        for row in picks.iter_rows(named=True)
    }
    for row in problem_results.iter_rows(named=True):
        assert row["pass_at_1_genselect_at_2"] == expected[row["question_id"]]
        assert row["random_select_at_2_drawn"] == 0.5 and row["oracle_select_at_2_drawn"] == 1.0
        # Self-critique off: nothing judged right, its fallback (random) picks uniformly.
        assert row["pass_at_1_select_at_2_drawn"] == 0.5
    table, _, _ = compare_selectors(problem_results, sample_results, critiques, model, params)
    pooled = table.filter((pl.col("language") == "all") & (pl.col("method") == "genselect"))
    assert pooled["value"].item() == pytest.approx(sum(expected.values()) / 3)
    assert pooled["requests"].item() == 3
    assert pooled["extra_tokens"].item() == picks["num_output_tokens"].sum()
    with ExitStack() as stack:
        again = genselect_picks(
            samples, questions, model, params, opened_once(stack, lambda: create_backend(config))
        )
    assert again.equals(picks)
