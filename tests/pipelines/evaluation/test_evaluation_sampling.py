"""Evaluation samples and self-critiques are stored under the fingerprint of their exact request: an
unchanged rerun sends nothing, a changed prompt, system prompt or sampling setting is asked afresh
(a real OpenAI-API server on loopback plays the evaluated model)."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.generation import Completion
from ocr2_kedro.metrics.evaluation import EVAL_SAMPLE, SELF_CRITIQUE
from ocr2_kedro.parameters.evaluation import EvaluationSettings
from ocr2_kedro.pipelines.evaluation.nodes import sample_and_critique
from ocr2_kedro.schemas import PROBLEM, conform
from tests.support.openai_server import serve
from tests.support.parameters import stage_settings


class ScriptedStudent:
    """Writes a solution to a problem, and judges a solution it is shown."""

    model_name = "scripted"

    def generate(self, requests, sampling):
        out = []
        for request in requests:
            prompt = next(m["content"] for m in request.messages if m["role"] == "user")
            if prompt.startswith("You are reviewing"):
                text = "<think>It reads and prints.</think>\nJudgement: right"
            else:
                text = "<think>Echo.</think>\n```python\nprint(input())\n```"
            out.append(Completion(request.request_id, text, "stop", 6, "scripted"))
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
                "tests": [{"input": "x\n", "output": "x\n"}],
            }
            for i in range(2)
        ],
        PROBLEM,
    )


def settings(url: str, shard_dir: str, **overrides) -> EvaluationSettings:
    return stage_settings(
        "evaluation",
        {
            "backend": "openai",
            "openai": {"endpoints": [url], "backoff_s": 0.01},
            "languages": ["python"],
            "samples_per_problem": 2,
            "temperatures": [0.6],
            "sampling": {"top_p": 0.95, "max_tokens": 32, "seed": 0},
            "self_critique": {"enabled": True, "sampling": {"temperature": 0.0, "max_tokens": 16}},
            # GenSelect's resume: tests/pipelines/evaluation/test_evaluation_genselect.py.
            "genselect": {"enabled": False},
            "resume": {"shard_dir": shard_dir, "chunk_size": 3},
            **overrides,
        },
    )


MODEL = {"name": "base", "path": "scripted", "backend": "openai"}


def test_samples_and_self_critiques_resume_only_for_the_same_request(tmp_path):
    with serve(ScriptedStudent()) as (url, state):

        def evaluate(questions, params) -> tuple[pl.DataFrame, pl.DataFrame, int]:
            """(samples, self-critiques, requests that reached the model)."""
            before = state.requests
            samples, critiques, _ = sample_and_critique(questions, MODEL, params)
            return samples, critiques, state.requests - before

        params = settings(url, str(tmp_path))
        samples, critiques, sent = evaluate(problems(), params)
        assert sent == 4 + 4  # 2 problems x 2 samples, and a self-critique of each
        assert samples.schema == EVAL_SAMPLE and critiques.schema == SELF_CRITIQUE
        assert samples["request_fingerprint"].n_unique() == 4
        assert critiques["request_fingerprint"].n_unique() == 4
        assert critiques["judgement"].to_list() == ["right"] * 4
        assert set(critiques["sample_id"]) == set(samples["sample_id"])

        again, again_critiques, sent = evaluate(problems(), params)
        assert sent == 0
        assert again.equals(samples) and again_critiques.equals(critiques)

        # One problem's statement changed: its two samples and their critiques are asked afresh.
        edited = problems().with_columns(
            question=pl.when(pl.col("question_id") == "q0")
            .then(pl.lit("Read one line; print it unchanged."))
            .otherwise(pl.col("question"))
        )
        changed, _, sent = evaluate(edited, params)
        assert sent == 2 + 2
        new_ids = set(changed["sample_id"]) - set(samples["sample_id"])
        assert new_ids == set(changed.filter(pl.col("question_id") == "q0")["sample_id"])

        # A system prompt, or another setting of the self-critique alone.
        system = settings(url, str(tmp_path), system_prompt="Answer in Python 3.")
        assert evaluate(problems(), system)[2] == 4 + 4
        assert state.bodies[-1]["messages"][0]["role"] == "system"
        longer = settings(
            url,
            str(tmp_path),
            self_critique={"enabled": True, "sampling": {"temperature": 0.0, "max_tokens": 24}},
        )
        _, longer_critiques, sent = evaluate(problems(), longer)
        assert sent == 4  # the samples resume; their critiques are asked again
        assert set(longer_critiques["request_fingerprint"]).isdisjoint(
            critiques["request_fingerprint"]
        )
        # Another sampling temperature: new samples, and so new critiques.
        assert evaluate(problems(), settings(url, str(tmp_path), temperatures=[0.8]))[2] == 8

        assert evaluate(problems(), params)[2] == 0
