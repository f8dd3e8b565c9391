"""The generation settings model: the shipped environments validate, a bad value or unknown key is
refused by its full path, each cross-field rule has a failing case, and the requirements name the
teacher, its GPUs and an explicitly named tokenizer."""

from __future__ import annotations

import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.generation import GenerationSettings
from tests.support.parameters import stage_settings


def problems_with(overrides: dict, env: str = "base") -> str:
    with pytest.raises(ParametersError) as caught:
        stage_settings("generation", overrides, env=env)
    return str(caught.value)


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("generation", env=env)
    assert isinstance(settings, GenerationSettings)
    assert settings.languages == ["python", "cpp"]
    assert settings.python.language == "python" and settings.cpp.language == "cpp"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"samples_per_questions": 2}, "generation.samples_per_questions: unknown key"),
        ({"samples_per_question": 0}, "generation.samples_per_question: Input should be greater"),
        ({"languages": ["java"]}, "generation.languages.0: Input should be 'python' or 'cpp'"),
        ({"backend": "llamacpp"}, "generation.backend: Input should be 'vllm'"),
        ({"sampling": {"logprobs": 0}}, "generation.sampling.logprobs: Input should be greater"),
        ({"resume": {"chunk_size": 0}}, "generation.resume.chunk_size: Input should be greater"),
        ({"vllm": {"tensor_parallel_size": 0}}, "generation.vllm.tensor_parallel_size: Input"),
        ({"openai": {"api_key": "sk-x"}}, "generation.openai.api_key: unknown key"),
        ({"drivers": {"require_complete": "maybe"}}, "generation.drivers.require_complete"),
        ({"max_question_tokens": -1}, "generation.max_question_tokens: Input should be greater"),
    ],
)
def test_bad_values_and_unknown_keys_are_refused_by_their_path(overrides, expected):
    assert expected in problems_with(overrides)


def test_cross_field_rules():
    assert "generation: backend is openai but openai.endpoints is empty" in problems_with(
        {"backend": "openai"}
    )
    assert "drivers.index - drivers.first_index is 3; it must be in [0, 2)" in problems_with(
        {"drivers": {"count": 2, "index": 3}}
    )
    assert "cpp.language is 'python'" in problems_with({"cpp": {"language": "python"}})


def test_every_problem_is_reported_at_once():
    message = problems_with({"samples_per_question": 0, "sampling": {"top_p": 2}})
    assert "generation.samples_per_question" in message and "generation.sampling.top_p" in message


def test_requirements_name_the_teacher_its_gpus_and_a_named_tokenizer(monkeypatch):
    monkeypatch.delenv("OCR2_TEACHER_TOKENIZER", raising=False)
    paper = stage_settings("generation", env="paper")
    kinds = {(r.kind, r.path): r.value for r in paper.requirements()}
    assert kinds[("gpus", "generation.vllm.tensor_parallel_size")] == 8
    assert kinds[("model", "generation.model")] == paper.model
    # The tokenizer is the model's own: nothing more to find.
    assert not any(kind == "tokenizer" for kind, _ in kinds)
    named = stage_settings("generation", {"tokenizer": "org/tokenizer"}).requirements()
    [tokenizer] = [r for r in named if r.kind == "tokenizer"]
    assert (tokenizer.value, tokenizer.path) == ("org/tokenizer", "generation.tokenizer")
    assert "generation.tokenizer: null" in tokenizer.hint
    # Without a budget no tokenizer is loaded at all.
    unbudgeted = stage_settings(
        "generation", {"tokenizer": "org/tokenizer", "max_question_tokens": None}
    )
    assert not [r for r in unbudgeted.requirements() if r.kind == "tokenizer"]
    assert unbudgeted.budget_tokenizer is None
