"""The patterns pipeline end to end on small tables: a scripted classifier served through the real
loopback OpenAI server, the labels table and summary it yields, resume, and the entropy comparison."""

from __future__ import annotations

import json

import polars as pl
import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner
from kedro_datasets.json import JSONDataset
from scipy.stats import fisher_exact, mannwhitneyu

from ocr2_kedro.datasets import StreamingParquetDataset
from ocr2_kedro.generation import Completion
from ocr2_kedro.metrics.patterns import ENTROPY_OFF
from ocr2_kedro.parameters.critique import CritiqueSettings
from ocr2_kedro.parameters.patterns import PatternsSettings
from ocr2_kedro.patterns.labelling import labels_schema
from ocr2_kedro.pipelines.patterns import create_pipeline
from ocr2_kedro.pipelines.patterns.nodes import (
    classify_traces,
    sample_traces,
    summarize_patterns,
    trace_outcomes,
)
from ocr2_kedro.reporting.patterns import card_section
from ocr2_kedro.schemas import GENERATION, VERIFICATION, conform
from tests.support.openai_server import serve
from tests.support.parameters import merged, stage_settings

PLANNED = (
    "The problem asks for the sum. First, I need to read the numbers. Then we need to add them. "
    "Let me check the sample: 3, which matches."
)
WANDERING = "Sort them. Wait, that's wrong. Let me try again with a heap. PLAN-B."
EVERY_NO = (
    "subgoal_setting: no\nself_evaluation: no\nbacktracking: no\nrestating_problem: no\n"
    "backward_chaining: no"
)


class ScriptedClassifier:
    """Answers for the planned traces in full; for the wandering ones only two lines (the other
    three behaviours stay unparsed)."""

    model_name = "scripted"

    def generate(self, requests, sampling):
        out = []
        for request in requests:
            prompt = request.messages[-1]["content"]
            # Keyed on the head and the tail of the traces: the classifier sees them cut.
            if "The problem asks" in prompt:
                text = (
                    "<think>Plan, then a check.</think>\nsubgoal_setting: yes\n"
                    "self_evaluation: yes\nbacktracking: no\nrestating_problem: yes\n"
                    "backward_chaining: no"
                )
            elif "PLAN-B" in prompt:
                text = "- backtracking: yes\n- subgoal_setting: no\nThe rest I cannot tell."
            else:
                text = EVERY_NO
            out.append(Completion(request.request_id, text, "stop", 5, "scripted"))
        return out


def tables(passed: int = 6, failed: int = 6) -> tuple[pl.DataFrame, pl.DataFrame]:
    generations, verifications = [], []

    def add(gid, verdict, reasoning, output="```python\nprint(1)\n```", flags=(), entropy=None):
        generations.append(
            {
                "generation_id": gid,
                "question_id": f"q-{gid}",
                "language": "python",
                "reasoning": reasoning,
                "output": output,
                "solution": "print(1)\n",
                "flags": list(flags),
                "mean_token_entropy": entropy,
            }
        )
        if verdict is not None:
            verifications.append({"generation_id": gid, "verdict": verdict})

    for i in range(passed):
        add(f"p{i}", "AC", PLANNED, entropy=1.3 + i / 100)
    for i in range(failed):
        add(f"f{i}", "WA" if i % 2 else "TLE", WANDERING, entropy=1.1 + i / 100)
    add("se", "SE", PLANNED, entropy=2.0)  # a sandbox fault: neither group
    add("unverified", None, PLANNED)
    add("flagged", "WA", WANDERING, flags=["truncated"])
    add("empty", "WA", "", output="")  # no trace at all
    return conform(generations, GENERATION), conform(verifications, VERIFICATION)


def params(tmp_path=None, **overrides) -> PatternsSettings:
    """conf/base's patterns settings with these test settings (and `overrides`) over them; the
    classifier is the critique's critic (`critique_params`: the loopback server)."""
    test = {
        "max_traces": 8,
        "seed": 7,
        "only_unflagged": True,
        "trace_field": "auto",
        "behaviours": [],
        "max_chars": 60,
        "min_group_size": 3,
        "critic": {"backend": "openai"},
        "sampling": {"temperature": 0.0, "top_p": 1.0, "max_tokens": 32, "seed": 0},
        "resume": {"shard_dir": str(tmp_path / "shards") if tmp_path else "x", "chunk_size": 3},
    }
    return stage_settings("patterns", merged(test, overrides))


def critique_params(url: str) -> CritiqueSettings:
    return stage_settings(
        "critique",
        {
            "backend": "openai",
            "model": "critic",
            "openai": {"endpoints": [url], "backoff_s": 0.01},
            "sampling": {"temperature": 0.6, "max_tokens": 99},  # the critique's, not used here
        },
    )


def test_outcomes_are_narrow_and_exclude_faults_flags_and_empty_traces():
    generations, verifications = tables(2, 2)
    outcomes = trace_outcomes(generations.lazy(), verifications.lazy(), params())
    assert "reasoning" not in outcomes.columns and "output" not in outcomes.columns
    by_id = {row["generation_id"]: row for row in outcomes.iter_rows(named=True)}
    assert set(by_id) == {"p0", "p1", "f0", "f1", "se", "unverified"}
    assert by_id["p0"]["outcome"] == "passed" and by_id["f0"]["outcome"] == "failed"
    assert by_id["se"]["outcome"] is None and by_id["unverified"]["outcome"] is None
    assert by_id["p0"]["trace_field"] == "reasoning"
    assert by_id["p0"]["trace_chars"] == len(PLANNED)
    # Without the flag filter the truncated sample counts; auto falls back to the output.
    every = trace_outcomes(generations, verifications, params(only_unflagged=False))
    assert "flagged" in every["generation_id"].to_list()
    no_reasoning = generations.with_columns(pl.lit("").alias("reasoning"))
    fallback = trace_outcomes(no_reasoning, verifications, params())
    assert set(fallback["trace_field"]) == {"output"}
    # A generations table from before the entropy column: nulls.
    old = generations.drop("mean_token_entropy")
    assert trace_outcomes(old, verifications, params())["mean_token_entropy"].null_count() == 6
    output = trace_outcomes(generations, verifications, params(trace_field="output"))
    assert set(output["trace_field"]) == {"output"}


def run_nodes(generations, verifications, run_params, critique):
    outcomes = trace_outcomes(generations.lazy(), verifications.lazy(), run_params)
    sample = sample_traces(outcomes, run_params)
    labels = classify_traces(sample, generations.lazy(), run_params, critique)
    return labels, summarize_patterns(labels.lazy(), outcomes, run_params, critique)


def test_labels_summary_and_resume_through_the_loopback_server(tmp_path):
    generations, verifications = tables()
    with serve(ScriptedClassifier()) as (url, state):
        critique = critique_params(url)
        run_params = params(tmp_path)
        labels, summary = run_nodes(generations, verifications, run_params, critique)
        assert state.requests == 8
        # A rerun finds every classification in the shards: no request, the same table.
        again, _ = run_nodes(generations, verifications, run_params, critique)
        assert state.requests == 8
        assert again.equals(labels)
        # A larger sample sends only the traces not classified yet.
        more, _ = run_nodes(generations, verifications, params(tmp_path, max_traces=12), critique)
        assert state.requests == 12 and more.height == 12

    assert labels.select(labels_schema().names()).schema == labels_schema()
    assert dict(labels.group_by("outcome").len().iter_rows()) == {"passed": 4, "failed": 4}
    assert set(labels["critic_model"]) == {"critic"}
    # Traces over max_chars (60) were cut for the classifier, and that is recorded.
    assert (labels["truncated_chars"] == labels["trace_chars"] - 60).all()
    passed = labels.filter(pl.col("outcome") == "passed")
    assert passed["llm_answer"].str.starts_with("<think>").all()

    behaviours = summary["behaviours"]
    subgoal = behaviours["subgoal_setting"]
    assert subgoal["lexical"]["passed"] == {"n": 4, "k": 4, "freq": 1.0}
    assert subgoal["lexical"]["failed"] == {"n": 4, "k": 0, "freq": 0.0}
    assert subgoal["lexical"]["p"] == pytest.approx(fisher_exact([[4, 0], [0, 4]]).pvalue)
    assert subgoal["llm"]["diff"] == 1.0
    assert subgoal["agreement"] == {"n": 8, "percent": 100.0, "kappa": pytest.approx(1.0)}
    # The wandering traces' answers say nothing about three behaviours: unparsed, not "no".
    restating = behaviours["restating_problem"]["llm"]
    assert restating["failed"]["n"] == 0 and restating["unparsed"] == 4
    assert restating["passed"] == {"n": 4, "k": 4, "freq": 1.0}
    assert behaviours["backtracking"]["llm"]["failed"] == {"n": 4, "k": 4, "freq": 1.0}
    assert behaviours["backtracking"]["lexical"]["failed"]["k"] == 4
    assert summary["llm"]["unparsed_labels"] == 12 and summary["llm"]["errors"] == 0
    assert summary["population"] == {"passed": 6, "failed": 6, "excluded": 2}
    assert summary["sample"]["truncated"] == 8
    assert summary["run"]["critic_model"] == "critic" and summary["run"]["embedded"] is False

    # Entropy over every verified trace that carries one (6 passed, 6 failed), not the sample.
    entropy = summary["entropy"]
    expected = mannwhitneyu([1.3 + i / 100 for i in range(6)], [1.1 + i / 100 for i in range(6)])
    assert entropy["available"] is True
    assert (entropy["passed"]["n"], entropy["failed"]["n"]) == (6, 6)
    assert entropy["u"] == expected.statistic == 36.0
    assert entropy["p"] == pytest.approx(expected.pvalue)
    assert entropy["passed"]["mean"] == pytest.approx(1.325)
    assert "Mann-Whitney U" in card_section(summary)


def test_entropy_is_reported_unavailable_without_logprobs(tmp_path):
    generations, verifications = tables(2, 2)
    generations = generations.with_columns(pl.lit(None, pl.Float64).alias("mean_token_entropy"))
    with serve(ScriptedClassifier()) as (url, _state):
        _, summary = run_nodes(generations, verifications, params(tmp_path), critique_params(url))
    assert summary["entropy"] == {"available": False, "note": ENTROPY_OFF}
    card = card_section(summary)
    assert ENTROPY_OFF in card
    assert "these numbers are plumbing" in card  # 2 traces per group < min_group_size 3


def test_pipeline_runs_through_kedro_with_streaming_tables(tmp_path):
    generations, verifications = tables(3, 3)
    stored = StreamingParquetDataset(filepath=str(tmp_path / "generations.parquet"))
    stored.save(generations)
    labels = StreamingParquetDataset(filepath=str(tmp_path / "reasoning_patterns.parquet"))
    summary = JSONDataset(filepath=str(tmp_path / "summary.json"))
    with serve(ScriptedClassifier()) as (url, state):
        catalog = DataCatalog(
            {
                "generations": stored,
                "verifications": MemoryDataset(verifications),
                "params:patterns": MemoryDataset(params(tmp_path)),
                "params:critique": MemoryDataset(critique_params(url)),
                "reasoning_patterns": labels,
                "reasoning_patterns_summary": summary,
            }
        )
        outputs = SequentialRunner().run(create_pipeline(), catalog)
        assert state.requests == 6
    written = summary.load()
    assert written["sample"] == {"traces": 6, "passed": 3, "failed": 3, "truncated": 6}
    json.dumps(written, allow_nan=False)  # plain JSON: no NaN, no infinity
    assert labels.load().collect().height == 6
    # The free outputs: the figure (four bar series) and the MLflow metrics.
    figure = outputs["reasoning_patterns_plot"].load()
    assert [bar.name for bar in figure.data] == [
        "lexical, passed",
        "lexical, failed",
        "llm, passed",
        "llm, failed",
    ]
    metrics = outputs["pattern_metrics"].load()
    assert metrics["subgoal_setting_lexical_passed"] == {"value": 1.0, "step": 0}
    assert metrics["subgoal_setting_lexical_failed"] == {"value": 0.0, "step": 0}
