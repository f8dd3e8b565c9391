"""EvaluationPreflightHook: a run that would evaluate C++ on a host without g++ stops before its first
node, found the way the sandbox looks the compiler up (PATH), and only when it will run C++ samples."""

from __future__ import annotations

import pytest
from kedro.config import OmegaConfigLoader
from kedro.io import DataCatalog

from ocr2_kedro.execution.sandbox import which_or_none
from ocr2_kedro.hooks import EvaluationPreflightHook, check_cpp_compiler, evaluated_languages
from ocr2_kedro.pipelines.ablations import create_pipeline as ablations_pipeline
from ocr2_kedro.pipelines.evaluation import create_pipeline as evaluation_pipeline
from ocr2_kedro.settings import CONFIG_LOADER_ARGS
from tests.conftest import REPO
from tests.support.path import path_without


def _parameters(**evaluation) -> dict:
    """conf/test's parameters with `evaluation` settings replaced (e.g. languages)."""
    args = {**CONFIG_LOADER_ARGS, "default_run_env": "test"}
    parameters = OmegaConfigLoader(conf_source=str(REPO / "conf"), **args)["parameters"]
    parameters["evaluation"] = {**parameters["evaluation"], **evaluation}
    return parameters


def _catalog(parameters: dict) -> DataCatalog:
    """Parameters as a run's catalog holds them: `params:a`, `params:a.b`, ..."""
    catalog = DataCatalog()

    def add(name: str, value) -> None:
        catalog[f"params:{name}"] = value
        if isinstance(value, dict):
            for key, item in value.items():
                add(f"{name}.{key}", item)

    for name, value in parameters.items():
        add(name, value)
    return catalog


@pytest.fixture
def no_gpp(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", path_without("g++", tmp_path / "bin"))
    assert which_or_none("g++") is None  # the sandbox's own lookup finds no compiler
    assert which_or_none("python3") is not None  # everything else is still there


def test_evaluating_cpp_without_gpp_stops_before_the_first_node_naming_what_to_change(no_gpp):
    with pytest.raises(RuntimeError) as error:
        EvaluationPreflightHook().before_pipeline_run(
            run_params={}, pipeline=evaluation_pipeline(), catalog=_catalog(_parameters())
        )
    message = str(error.value)
    assert "evaluation.base, evaluation.stage1, evaluation.stage2" in message
    assert "g++ is not on PATH" in message and "install g++" in message.lower()
    assert "evaluation.languages=[python]" in message


def test_python_only_or_no_sample_execution_is_not_blocked_without_gpp(no_gpp):
    python_only = _catalog(_parameters(languages=["python"]))
    check_cpp_compiler(evaluation_pipeline(), python_only)
    assert evaluated_languages(evaluation_pipeline(), python_only) == {
        "evaluation.base": ["python"],
        "evaluation.stage1": ["python"],
        "evaluation.stage2": ["python"],
    }
    # Preparing the benchmark runs no sample, whatever the languages.
    shared = evaluation_pipeline().only_nodes("evaluation.prepare_benchmark")
    check_cpp_compiler(shared, _catalog(_parameters()))


def test_a_host_with_gpp_evaluates_cpp():
    if which_or_none("g++") is None:
        pytest.skip("this host has no g++")
    check_cpp_compiler(evaluation_pipeline(), _catalog(_parameters()))


def test_ablation_variants_are_checked_with_their_own_evaluation_languages(no_gpp):
    parameters = _parameters()
    variants = parameters["ablations"]["variants"]
    variants["python_only"] = {**variants["python_only"], "evaluation": {"languages": ["python"]}}
    catalog = _catalog(parameters)
    languages = evaluated_languages(ablations_pipeline(), catalog)
    assert languages["ablations.language_mix.python_only"] == ["python"]
    assert languages["ablations.language_mix.cpp_only"] == ["python", "cpp"]
    with pytest.raises(RuntimeError) as error:
        check_cpp_compiler(ablations_pipeline(), catalog)
    assert "ablations.language_mix.cpp_only" in str(error.value)
    assert "ablations.language_mix.python_only" not in str(error.value)
