"""Generation nodes on real backends: requests, the question token budget, completions written as
shards, the parsed and flagged generations built from them batch by batch, and the rejects table."""

from __future__ import annotations

import polars as pl

from ocr2_kedro.generation import Completion
from ocr2_kedro.parameters.generation import GenerationSettings
from ocr2_kedro.pipelines.generation.nodes import (
    build_generation_requests,
    collect_generation_rejects,
    collect_generations,
    combine_question_rejects,
    combine_requests,
    generate_solutions,
)
from ocr2_kedro.schemas import GENERATION, PROBLEM, REJECT, conform
from tests.support.openai_server import serve
from tests.support.parameters import merged, stage_settings


def problems() -> pl.DataFrame:
    return conform(
        [
            {
                "question_id": "q-add",
                "source": "bundled",
                "source_id": "1",
                "question": "Read two integers and print their sum.",
                "test_type": "stdin",
                "tests": [{"input": "1 2\n", "output": "3\n"}],
            },
            {
                "question_id": "q-long",
                "source": "bundled",
                "source_id": "2",
                "question": "Print the answer. " + "This statement is very long. " * 200,
                "test_type": "stdin",
                "tests": [],
            },
            {
                "question_id": "q-fn",
                "source": "leetcode",
                "source_id": "3",
                "question": "Return a + b.",
                "test_type": "functional",
                "fn_name": "add",
                "starter_code": "class Solution:\n    def add(self, a: int, b: int) -> int:\n",
                "tests": [{"input": "[1, 2]", "output": "3"}],
            },
        ],
        PROBLEM,
    )


# The test teacher's settings, merged over conf/base's generation settings.
TEST_TEACHER = {
    "backend": "transformers",
    "model": "embedded",
    "languages": ["python", "cpp"],
    "samples_per_question": 2,
    "max_question_tokens": 400,
    "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 8, "seed": 7},
    "transformers": {"dtype": "float32"},
}


def params(**overrides) -> GenerationSettings:
    """conf/base's generation settings with TEST_TEACHER and then `overrides` merged over them."""
    return stage_settings("generation", merged(TEST_TEACHER, overrides))


def test_requests_per_sample_with_seeds_and_budget_rejects(embedded_model_dir):
    lazy_requests, rejects = build_generation_requests(problems(), "cpp", params())
    # A lazy expansion of the per-question prompts: consumers stream it in order.
    assert isinstance(lazy_requests, pl.LazyFrame)
    requests = lazy_requests.collect()
    assert requests["question_id"].to_list() == ["q-add", "q-add", "q-fn", "q-fn"]
    assert requests["seed"].to_list() == [7, 8, 7, 8]
    assert requests["generation_id"].n_unique() == 4
    assert (requests["prompt_tokens"] <= 400).all()
    assert "JSON array" in requests.filter(pl.col("question_id") == "q-fn")["prompt"][0]
    assert rejects.schema == REJECT
    assert rejects.rows() == [
        (
            "generation",
            "bundled",
            "q-long",
            "question_over_token_budget",
            rejects["detail"][0],
        )
    ]
    assert rejects["detail"][0].startswith("cpp: ") and "> 400" in rejects["detail"][0]


def test_languages_not_asked_for_build_nothing(embedded_model_dir):
    requests, rejects = build_generation_requests(problems(), "cpp", params(languages=["python"]))
    assert requests.collect().is_empty() and rejects.is_empty()
    py, py_rejects = build_generation_requests(problems(), "python", params(languages=["python"]))
    assert combine_requests(["python"], py, requests).collect().height == 4
    assert combine_question_rejects(py_rejects, rejects).height == 1


def test_generate_solutions_parses_flags_and_resumes(tmp_path, tiny_model_dir):
    run_params = params(
        model=str(tiny_model_dir),
        samples_per_question=1,
        resume={"shard_dir": str(tmp_path), "chunk_size": 2},
    )
    requests, question_rejects = build_generation_requests(problems(), "python", run_params)
    shards = generate_solutions(requests, run_params)
    assert shards["incomplete_chunks"] == ""
    assert shards["requests_sent"] == requests.collect().height
    batches = collect_generations(requests, shards, run_params)
    assert not isinstance(batches, pl.DataFrame)  # a generator, written batch by batch
    generations = pl.concat(list(batches))
    assert generations.schema == GENERATION
    assert generations["generation_id"].to_list() == requests.collect()["generation_id"].to_list()
    # A random 2-layer model writes no code in 8 tokens: every sample is flagged, none dropped.
    assert all("no_code" in flags for flags in generations["flags"].to_list())
    assert set(generations["finish_reason"]) <= {"stop", "length"}
    truncated = generations.filter(pl.col("finish_reason") == "length").height
    path = tmp_path / "generations.parquet"
    generations.write_parquet(path)
    rejects = collect_generation_rejects(pl.scan_parquet(path), question_rejects)
    assert rejects.schema == REJECT
    assert rejects.filter(pl.col("reason") == "no_code").height == generations.height
    assert rejects.filter(pl.col("reason") == "truncated").height == truncated
    assert rejects.filter(pl.col("reason") == "question_over_token_budget").height == 1
    # A second run reads the finished chunks instead of generating.
    shards = generate_solutions(requests, run_params)
    assert (shards["requests_sent"], shards["chunks_done_before"]) == (0, shards["chunks"])
    again = pl.concat(list(collect_generations(requests, shards, run_params)))
    assert again["output"].to_list() == generations["output"].to_list()
    assert len(list(tmp_path.glob("*/chunk-*.parquet"))) == 1 + (generations.height > 2)


def test_paper_drivers_come_from_the_slurm_job_array(monkeypatch):
    """conf/paper: each task of `sbatch --array=1-4` is one driver; outside an array, one driver."""
    from ocr2_kedro.generation.resumable import Drivers

    def drivers(stage: str) -> Drivers:
        return stage_settings(stage, env="paper").drivers.drivers()

    for name in ("SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_TASK_COUNT", "SLURM_ARRAY_TASK_MIN"):
        monkeypatch.delenv(name, raising=False)
    assert drivers("generation") == drivers("critique") == Drivers(1, 0)
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "3")
    monkeypatch.setenv("SLURM_ARRAY_TASK_COUNT", "4")
    monkeypatch.setenv("SLURM_ARRAY_TASK_MIN", "1")
    assert drivers("generation") == drivers("critique") == Drivers(4, 2)


class ScriptedTeacher:
    """A teacher that answers every request with a solution (served over the loopback HTTP API)."""

    model_name = "scripted"

    def generate(self, requests, sampling):
        text = "<think>Add them.</think>\n```python\nprint(sum(map(int, input().split())))\n```"
        return [Completion(r.request_id, text, "stop", 9, "scripted") for r in requests]


def test_a_changed_request_is_generated_afresh_and_an_unchanged_one_resumes(tmp_path):
    with serve(ScriptedTeacher()) as (url, state):
        loopback = {
            "backend": "openai",
            "model": "scripted",
            "openai": {"endpoints": [url], "backoff_s": 0.01},
            "languages": ["python"],
            "max_question_tokens": None,
            "resume": {"shard_dir": str(tmp_path), "chunk_size": 2},
        }
        run_params = params(**loopback)

        def generate(
            questions: pl.DataFrame, settings: GenerationSettings
        ) -> tuple[pl.DataFrame, int]:
            """The generations table and how many requests reached the teacher."""
            before = state.requests
            requests, _ = build_generation_requests(questions, "python", settings)
            shards = generate_solutions(requests, settings)
            table = pl.concat(list(collect_generations(requests, shards, settings)))
            return table, state.requests - before

        first, sent = generate(problems(), run_params)
        assert sent == first.height == 6  # 3 questions x 2 samples
        assert first["request_fingerprint"].null_count() == 0
        assert first["request_fingerprint"].n_unique() == 6

        # Unchanged: every completion comes from the shards, none from the teacher.
        again, sent = generate(problems(), run_params)
        assert sent == 0 and again.equals(first)

        # One question's text changed (as a changed prompt template would change every prompt):
        # its two samples are generated afresh under new ids; the other four resume.
        edited = problems().with_columns(
            question=pl.when(pl.col("question_id") == "q-add")
            .then(pl.lit("Read two integers a and b; print a + b."))
            .otherwise(pl.col("question"))
        )
        changed, sent = generate(edited, run_params)
        assert sent == 2
        assert all("a + b" in body["messages"][-1]["content"] for body in state.bodies[-2:])
        renamed = set(changed["generation_id"]) - set(first["generation_id"])
        assert renamed == set(changed.filter(pl.col("question_id") == "q-add")["generation_id"])

        # A system prompt: every request is a new one.
        system = params(**loopback, system_prompt="You are a careful competitive programmer.")
        with_system, sent = generate(problems(), system)
        assert sent == 6
        assert state.bodies[-1]["messages"][0] == {
            "role": "system",
            "content": "You are a careful competitive programmer.",
        }
        assert set(with_system["generation_id"]).isdisjoint(first["generation_id"])

        # Another sampling temperature: every request is a new one.
        hotter = params(**loopback, sampling={"temperature": 0.9})
        hot, sent = generate(problems(), hotter)
        assert sent == 6 and state.bodies[-1]["temperature"] == 0.9
        assert set(hot["request_fingerprint"]).isdisjoint(first["request_fingerprint"])

        # Back to the first settings: still all in the shards.
        _, sent = generate(problems(), run_params)
        assert sent == 0


def test_pipeline_runs_through_kedro_with_settings_in_the_catalog(tmp_path):
    """The pipeline as a run gets it: `params:generation` is the validated settings model and the
    nested `params:` names its attributes (what the project's ParametersHook puts in the
    catalog)."""
    from kedro.io import DataCatalog, MemoryDataset
    from kedro.runner import SequentialRunner
    from kedro_datasets.polars import EagerPolarsDataset

    from ocr2_kedro.datasets import StreamingParquetDataset
    from ocr2_kedro.pipelines.generation import create_pipeline

    with serve(ScriptedTeacher()) as (url, state):
        settings = params(
            backend="openai",
            model="scripted",
            openai={"endpoints": [url], "backoff_s": 0.01},
            languages=["python"],
            samples_per_question=1,
            max_question_tokens=None,
            resume={"shard_dir": str(tmp_path), "chunk_size": 2},
        )
        catalog = DataCatalog(
            {
                "problems_dedup": MemoryDataset(problems()),
                "params:generation": MemoryDataset(settings),
                "params:generation.languages": MemoryDataset(settings.languages),
                "params:generation.python.language": MemoryDataset(settings.python.language),
                "params:generation.cpp.language": MemoryDataset(settings.cpp.language),
                # The table is written batch by batch, as the project's catalog writes it.
                "generations": StreamingParquetDataset(
                    filepath=str(tmp_path / "generations.parquet")
                ),
                # On disk: Kedro releases a memory dataset once its readers (the summary) ran.
                "generation_rejects": EagerPolarsDataset(
                    filepath=str(tmp_path / "rejects.parquet"), file_format="parquet"
                ),
            }
        )
        outputs = SequentialRunner().run(create_pipeline(), catalog)
        assert state.requests == 3  # three questions, python only, one sample each
    assert "rows" in outputs["generation_summary"].load()  # the stage's report
    rejects = catalog["generation_rejects"].load()
    assert rejects.schema == REJECT and rejects.is_empty()  # the scripted answers all have code
    generations = catalog["generations"].load().collect()
    assert generations["language"].to_list() == ["python"] * 3
