"""The settings every model-facing stage shares (parameters.backends): sampling, the backend
blocks, resume, drivers, and what a backend needs from the machine (requirements)."""

from __future__ import annotations

import pytest

from ocr2_kedro.generation import SamplingConfig
from ocr2_kedro.generation.resumable import Drivers
from ocr2_kedro.parameters import ParametersError, validate_settings
from ocr2_kedro.parameters.backends import (
    BackendBlock,
    DriversSettings,
    ModelBackend,
    SamplingSettings,
    SweepSampling,
    overrides_of,
)
from tests.support.parameters import raw_parameters, stage_settings

BLOCK_KEYS = ("backend", "vllm", "transformers", "openai")


def block(stage: str = "critique", env: str = "base", **overrides) -> dict:
    """A stage's backend block from conf/<env>, with `overrides` replacing whole keys."""
    raw = raw_parameters(env)[stage]
    return {**{key: raw[key] for key in BLOCK_KEYS}, **overrides}


def problems(model, raw, path: str = "stage") -> str:
    with pytest.raises(ParametersError) as caught:
        validate_settings(model, raw, path)
    return str(caught.value)


def test_sampling_builds_the_engines_config():
    sampling = validate_settings(
        SamplingSettings,
        {"temperature": 0.6, "top_p": 0.95, "max_tokens": 8, "seed": 3},
        "critique.sampling",
    )
    assert sampling.config() == SamplingConfig(0.6, 0.95, 8, 3, None)
    sweep = validate_settings(
        SweepSampling, {"top_p": 0.9, "max_tokens": 8, "seed": 1, "logprobs": 5}, "s"
    )
    assert sweep.at(0.2) == SamplingConfig(0.2, 0.9, 8, 1, 5)
    assert sweep.with_temperature(0.2)["temperature"] == 0.2


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"top_p": 0.9, "max_tokens": 8, "seed": 1}, "s.temperature: missing"),
        ({"temperature": -1, "top_p": 0.9, "max_tokens": 8, "seed": 1}, "s.temperature: Input"),
        ({"temperature": 0, "top_p": 0, "max_tokens": 8, "seed": 1}, "s.top_p: Input should be"),
        ({"temperature": 0, "top_p": 1, "max_tokens": 0, "seed": 1}, "s.max_tokens: Input"),
        (
            {"temperature": 0, "top_p": 1, "max_tokens": 8, "seed": 1, "logprobs": 21},
            "s.logprobs: Input should be less than or equal to 20",
        ),
        (
            {"temperature": 0, "top_p": 1, "max_tokens": 8, "seed": 1, "top_k": 5},
            "s.top_k: unknown key",
        ),
    ],
)
def test_bad_sampling_is_refused_by_its_path(raw, expected):
    assert expected in problems(SamplingSettings, raw, "s")


def test_drivers_take_an_arrays_own_task_ids():
    raw = {"count": 1, "index": 0, "first_index": 0, "require_complete": False}
    assert validate_settings(DriversSettings, raw, "d").drivers() == Drivers(1, 0)
    # Strings, as `oc.env` gives them; a 1-based array (--array=1-4) through first_index.
    slurm = validate_settings(
        DriversSettings,
        {"count": "4", "index": "4", "first_index": "1", "require_complete": "true"},
        "d",
    )
    assert slurm.drivers() == Drivers(4, 3) and slurm.require_complete is True
    assert "generation.drivers: drivers.index - drivers.first_index is 2" in problems(
        DriversSettings, {**raw, "count": 2, "index": 2}, "generation.drivers"
    )


def test_openai_needs_endpoints_and_never_takes_a_key():
    assert "backend is openai but openai.endpoints is empty" in problems(
        BackendBlock, block(backend="openai"), "critique"
    )
    openai = {**block()["openai"], "endpoints": ["http://n1:8000/v1"], "api_key": "sk-x"}
    assert "critique.openai.api_key: unknown key" in problems(
        BackendBlock, block(backend="openai", openai=openai), "critique"
    )
    not_a_url = {**block()["openai"], "endpoints": ["n1:8000"]}
    assert "critique.openai.endpoints.0: String should match" in problems(
        BackendBlock, block(openai=not_a_url), "critique"
    )


def test_backend_config_is_what_create_backend_takes():
    settings = validate_settings(BackendBlock, block(env="paper"), "critique")
    config = settings.backend_config("Qwen/QwQ-32B")
    assert config["backend"] == "vllm" and config["model"] == "Qwen/QwQ-32B"
    # An option left unset (null) is not passed: the engine's default applies.
    assert config["vllm"]["gpu_memory_utilization"] == 0.92
    assert "in_process" not in config["vllm"]
    assert settings.backend_config("m", "transformers") == {
        "backend": "transformers",
        "model": "m",
        "transformers": {"batch_size": 8, "dtype": "float32"},
    }
    # api_key_env null means "send no key": it is passed as null, not dropped.
    quiet = {**block()["openai"], "api_key_env": None, "endpoints": ["http://h/v1"]}
    openai = validate_settings(BackendBlock, block(openai=quiet), "c").backend_config("m", "openai")
    assert openai["openai"]["api_key_env"] is None


def test_requirements_follow_the_backend_in_use():
    base = validate_settings(BackendBlock, block(), "critique")
    assert [(r.kind, r.value, r.path) for r in base.backend_requirements("critique", "embedded")][
        0
    ] == ("component", "vllm", "critique.backend")
    embedded = base.backend_requirements("critique", "embedded")[-1]
    assert embedded.kind == "model" and embedded.value.endswith("SmolLM2-135M-Instruct")
    assert "make model" in embedded.hint

    paper = validate_settings(BackendBlock, block(env="paper"), "critique")
    gpus = [r for r in paper.backend_requirements("critique", "Qwen/QwQ-32B") if r.kind == "gpus"]
    assert [(r.value, r.path) for r in gpus] == [(8, "critique.vllm.tensor_parallel_size")]
    # The same settings on transformers need no GPUs and no vllm.
    kinds = {r.kind: r.value for r in paper.backend_requirements("critique", "m", "transformers")}
    assert kinds == {"component": "transformers", "model": "m"}

    endpoints = ["http://n1:8000/v1", "http://n2:8000/v1"]
    served = validate_settings(
        BackendBlock,
        block(backend="openai", openai={**block()["openai"], "endpoints": endpoints}),
        "critique",
    )
    found = served.backend_requirements("critique", "served-name")
    assert [(r.kind, r.value, r.path) for r in found] == [
        ("component", "openai", "critique.backend"),
        ("endpoint", endpoints[0], "critique.openai.endpoints[0]"),
        ("endpoint", endpoints[1], "critique.openai.endpoints[1]"),
    ]  # a served model is the endpoint's: no model to find locally
    assert base.backend_requirements("evaluation", None)[-1].kind == "component"


def test_overrides_are_partial_with_the_same_constraints():
    overrides = overrides_of(ModelBackend)
    assert overrides.model_validate({}).model_dump(exclude_unset=True) == {}
    partial = overrides.model_validate({"vllm": {"max_model_len": 4096}, "backend": "openai"})
    assert partial.model_dump(exclude_unset=True) == {
        "vllm": {"max_model_len": 4096},
        "backend": "openai",
    }
    assert "critic.vllm.tensor_parallel_size: Input should be greater than 0" in problems(
        overrides, {"vllm": {"tensor_parallel_size": 0}}, "critic"
    )
    assert "critic.backend: Input should be" in problems(
        overrides, {"backend": "llamacpp"}, "critic"
    )


@pytest.mark.parametrize("stage", ["generation", "critique", "evaluation"])
@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_stage_block_validates(stage, env):
    validate_settings(BackendBlock, block(stage, env), stage)
    assert stage_settings(stage, env=env).backend in ("vllm", "transformers", "openai")
