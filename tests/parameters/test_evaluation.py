"""The evaluation settings model: the shipped environments validate, and every rule that used to be
checked by the nodes (languages, ks within 1..n, temperatures, fallback, breakdowns, the sandbox's
settings, sampling, the models under evaluation) refuses a bad value by its full path."""

from __future__ import annotations

import pytest

from ocr2_kedro import metrics
from ocr2_kedro.metrics.evaluation import BREAKDOWNS
from ocr2_kedro.metrics.selection import GENSELECT_FALLBACKS
from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.evaluation import (
    EvaluationSettings,
    GenSelectSettings,
    SelfCritiqueSettings,
)
from ocr2_kedro.schemas import LANGUAGES
from tests.support.parameters import stage_settings


def problems_with(overrides: dict, env: str = "base") -> str:
    with pytest.raises(ParametersError) as caught:
        stage_settings("evaluation", overrides, env=env)
    return str(caught.value)


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("evaluation", env=env)
    assert isinstance(settings, EvaluationSettings)
    assert all(1 <= k <= settings.samples_per_problem for k in settings.ks)
    assert list(settings.models) == ["base", "stage1", "stage2"]
    assert settings.models["stage1"].name == "stage1"
    assert settings.models["stage1"].checkpoint == "sft_stage1_checkpoint"


def test_the_literals_match_the_engines():
    fields = EvaluationSettings.model_fields
    assert set(fields["languages"].annotation.__args__[0].__args__) == set(LANGUAGES)
    assert set(fields["breakdowns"].annotation.__args__[0].__args__) == set(BREAKDOWNS)
    fallback = SelfCritiqueSettings.model_fields["fallback"].annotation
    assert set(fallback.__args__) == set(metrics.FALLBACKS)
    genselect = GenSelectSettings.model_fields["fallback"].annotation
    assert set(genselect.__args__) == set(GENSELECT_FALLBACKS)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"sample_per_problem": 2}, "evaluation.sample_per_problem: unknown key"),
        (
            {"languages": ["python", "java"]},
            "evaluation.languages.1: Input should be 'python' or 'cpp'",
        ),
        ({"ks": [1, 4]}, r"ks [4] are not within 1..samples_per_problem (2)"),
        ({"ks": [0]}, "evaluation.ks.0: Input should be greater than 0"),
        ({"temperatures": []}, "evaluation.temperatures: List should have at least 1 item"),
        (
            {"self_critique": {"fallback": "best"}},
            "evaluation.self_critique.fallback: Input should be",
        ),
        ({"breakdowns": ["country"]}, "evaluation.breakdowns.0: Input should be"),
        ({"sampling": {"top_p": 1.5}}, "evaluation.sampling.top_p: Input should be less than"),
        ({"sampling": {"temperature": 0.6}}, "evaluation.sampling.temperature: unknown key"),
        (
            {"self_critique": {"sampling": {"max_tokens": 0}}},
            "evaluation.self_critique.sampling.max_tokens",
        ),
        ({"windows": {"v5": {"from": "August"}}}, "evaluation.windows.v5.from"),
        ({"bootstrap": {"resamples": 0}}, "evaluation.bootstrap.resamples"),
        ({"resume": {"shard_dir": ""}}, "evaluation.resume.shard_dir"),
        # The sandbox's settings, held to the verify rules (an unknown key is never dropped).
        ({"execution": {"time_limt_s": 2}}, "evaluation.execution.time_limt_s: unknown key"),
        ({"execution": {"backend": "ray"}}, "evaluation.execution.backend: unknown key"),
        (
            {"execution": {"compare_mode": "fuzzy"}},
            "evaluation.execution.compare_mode: Input should be",
        ),
        (
            {"execution": {"wall_factor": -1.0}},
            "evaluation.execution.wall_factor: Input should be greater than 0",
        ),
        ({"execution": {"workers": "2"}}, "evaluation.execution.workers"),
        ({"execution": {"sandbox_uids": "5-1"}}, "evaluation.execution.sandbox_uids"),
        # The models under evaluation.
        ({"models": {"stage1": {"backend": "tgi"}}}, "evaluation.models.stage1.backend"),
        ({"models": {"stage1": {"name": "other"}}}, "models.stage1.name is 'other'"),
        (
            {"models": {"x": {"checkpoint": None, "path": None, "backend": None}}},
            "evaluation.models.x: checkpoint and path are both null",
        ),
        (
            {"models": {"stage1": {"backend": "openai"}}},
            "models.stage1.backend: backend is openai but openai.endpoints is empty",
        ),
        ({"backend": "openai"}, "openai.endpoints is empty"),
        # Which problems, in which languages.
        ({"max_problems": 4}, "evaluation.max_problems: unknown key"),
        (
            {"subset": {"per_source": {"humaneval": 0}}},
            "evaluation.subset.per_source.humaneval: Input should be greater than 0",
        ),
        ({"subset": {"seed": "zero"}}, "evaluation.subset.seed"),
        ({"subset": {"size": 4}}, "evaluation.subset.size: unknown key"),
        (
            {"source_languages": {"humaneval": ["java"]}},
            "evaluation.source_languages.humaneval.0: Input should be 'python' or 'cpp'",
        ),
        ({"source_languages": {"humaneval": []}}, "evaluation.source_languages.humaneval: List"),
        # GenSelect beside self-critique.
        ({"genselect": {"ks": [1]}}, "evaluation.genselect.ks.0: Input should be greater than"),
        ({"genselect": {"ks": []}}, "evaluation.genselect.ks: List should have at least 1 item"),
        ({"genselect": {"subsets": 0}}, "evaluation.genselect.subsets"),
        ({"genselect": {"fallback": "last"}}, "evaluation.genselect.fallback: Input should be"),
        ({"genselect": {"k": 2}}, "evaluation.genselect.k: unknown key"),
        (
            {"genselect": {"sampling": {"max_tokens": 0}}},
            "evaluation.genselect.sampling.max_tokens",
        ),
    ],
)
def test_a_bad_value_is_refused_by_its_full_path(overrides, expected):
    message = problems_with(overrides)
    assert expected in message, message


def test_a_source_is_asked_in_the_evaluated_languages_it_can_be_asked_in():
    # C++ only (e.g. an ablation variant's languages): HumanEval is asked in none, the rest in C++.
    cpp_only = stage_settings("evaluation", {"languages": ["cpp"]})
    assert cpp_only.languages_of("humaneval") == [] and cpp_only.languages_of("bundled") == ["cpp"]
    both = stage_settings("evaluation", {"languages": ["cpp", "python"]})
    assert both.languages_of("humaneval") == ["python"]
    assert both.languages_of("bundled") == ["cpp", "python"]


def test_the_sandbox_settings_evaluation_accepts_beyond_the_shared_ones(tmp_path):
    execution = stage_settings(
        "evaluation",
        {"execution": {"cache_dir": str(tmp_path), "time_limit_s": 1.5, "use_pch": False}},
    ).execution
    kwargs = execution.verify_kwargs()
    assert kwargs["cache_dir"] == str(tmp_path) and kwargs["time_limit_s"] == 1.5
    assert kwargs["workers"] >= 1 and kwargs["use_pch"] is False
    assert stage_settings("evaluation", env="test").execution.verify_kwargs()["workers"] >= 1


def test_a_model_is_added_by_one_entry_and_may_name_only_a_path():
    settings = stage_settings(
        "evaluation",
        {
            "models": {
                "teacher": {"checkpoint": None, "path": "embedded", "backend": "transformers"}
            }
        },
    )
    assert list(settings.models) == ["base", "stage1", "stage2", "teacher"]
    teacher = settings.models["teacher"]
    assert (teacher.name, teacher.path, settings.backend_of(teacher)) == (
        "teacher",
        "embedded",
        "transformers",
    )


def test_requirements_name_each_model_backend_and_the_compiler():
    def kinds(settings) -> dict[str, object]:
        return {r.path: (r.kind, r.value) for r in settings.requirements()}

    base = kinds(stage_settings("evaluation"))
    assert base["evaluation.backend"] == ("component", "vllm")
    assert base["evaluation.languages"] == ("executable", "g++")
    # Checkpoints are made by the run: nothing to check before it starts.
    assert not any(".models." in path for path in base)

    url = "http://127.0.0.1:9/v1"
    served = kinds(
        stage_settings(
            "evaluation",
            {
                "languages": ["python"],
                "openai": {"endpoints": [url]},
                "vllm": {"tensor_parallel_size": 2},
                "models": {
                    "stage1": {"path": "/nowhere/checkpoint"},
                    "stage2": {"path": "served", "backend": "openai"},
                },
            },
        )
    )
    assert served["evaluation.models.stage1.path"] == ("model", "/nowhere/checkpoint")
    assert served["evaluation.vllm.tensor_parallel_size"] == ("gpus", 2)
    assert served["evaluation.models.stage2.backend"] == ("component", "openai")
    assert served["evaluation.openai.endpoints[0]"] == ("endpoint", url)
    # A served model has no weights here to look for; no C++, no compiler.
    assert "evaluation.models.stage2.path" not in served
    assert "evaluation.languages" not in served


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_humaneval_is_asked_in_python_and_other_sources_in_every_language(env):
    settings = stage_settings("evaluation", env=env)
    assert settings.languages_of("humaneval") == ["python"]
    assert settings.languages_of("bundled") == settings.languages
    assert settings.languages_of("livecodebench") == settings.languages


def test_the_subset_sizes_of_each_environment():
    assert stage_settings("evaluation").subset.per_source == {"bundled": 3, "humaneval": 12}
    assert stage_settings("evaluation", env="test").subset.per_source["humaneval"] == 2
    # Paper scale: every problem of every source.
    paper = stage_settings("evaluation", env="paper").subset.per_source
    assert set(paper.values()) == {None}
