"""The OpenAI-compatible backend against a real HTTP server on loopback: a reasoning field (what
`vllm serve --reasoning-parser` returns) kept as the `<think>` part, and the API key taken from the
environment, never from settings."""

from __future__ import annotations

import httpx
import pytest

from ocr2_kedro.generation import ChatRequest, Completion, SamplingConfig, create_backend
from ocr2_kedro.generation.openai_backend import LiteralApiKeyError
from ocr2_kedro.parsing import FLAG_TRUNCATED, FLAG_UNCLOSED_THINK, parse_sample
from tests.support.openai_server import serve

FINISHED = "<think>\nThe sum of two numbers.\nRead both, add.\n</think>\n\n```python\nprint(3)\n```"
CUT = "<think>\nThe sum of two numbers.\nFirst I consider"
PLAIN = "```python\nprint(4)\n```"


class ScriptedModel:
    """Answers each prompt with a fixed output (a reasoning model's raw text); "cut" answers end at
    the length limit inside their reasoning."""

    model_name = "scripted"
    outputs = {"finished": (FINISHED, "stop"), "cut": (CUT, "length"), "plain": (PLAIN, "stop")}

    def generate(self, requests, sampling):
        out = []
        for request in requests:
            text, finish = self.outputs[request.messages[-1]["content"]]
            out.append(Completion(request.request_id, text, finish, len(text.split()), "scripted"))
        return out


def ask(*prompts: str) -> list[ChatRequest]:
    return [
        ChatRequest(prompt, ({"role": "user", "content": prompt},), seed=0) for prompt in prompts
    ]


def client(url: str, **options):
    return create_backend(
        {"backend": "openai", "model": "scripted", "openai": {"endpoints": [url], **options}}
    )


@pytest.mark.parametrize("field", ["reasoning_content", "reasoning"])
def test_a_reasoning_field_is_kept_as_the_think_part(field):
    with serve(ScriptedModel(), reasoning_field=field) as (url, _state):
        # What the server sends: the reasoning in its own field, the answer alone in `content`.
        raw = httpx.post(
            f"{url}/chat/completions",
            json={"model": "scripted", "messages": [{"role": "user", "content": "finished"}]},
        ).json()["choices"][0]["message"]
        assert raw[field] == "The sum of two numbers.\nRead both, add."
        assert "<think>" not in raw["content"] and "The sum" not in raw["content"]
        finished, cut, plain = client(url).generate(
            ask("finished", "cut", "plain"), SamplingConfig(max_tokens=64)
        )
    parsed = parse_sample(finished.text, "python", finished.finish_reason)
    assert parsed.reasoning == "The sum of two numbers.\nRead both, add."
    assert parsed.solution == "print(3)\n"
    assert parsed.flags == []
    # Cut by the length limit inside its reasoning: no answer, and the <think> stays open, as the
    # model left it, so the sample is flagged like any other backend's.
    assert cut.text == CUT and cut.finish_reason == "length"
    flags = parse_sample(cut.text, "python", cut.finish_reason).flags
    assert FLAG_TRUNCATED in flags and FLAG_UNCLOSED_THINK in flags
    # A model that writes no reasoning comes back as it was.
    assert plain.text == PLAIN


def test_without_a_reasoning_parser_the_text_is_the_content():
    with serve(ScriptedModel()) as (url, _state):
        [finished] = client(url).generate(ask("finished"), SamplingConfig(max_tokens=64))
    assert finished.text == FINISHED


def test_the_api_key_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-openai-variable")
    monkeypatch.setenv("TEACHER_API_KEY", "sk-from-teacher-variable")
    monkeypatch.delenv("UNSET_API_KEY", raising=False)
    with serve(ScriptedModel()) as (url, state):
        client(url).generate(ask("plain"), SamplingConfig(max_tokens=8))
        client(url, api_key_env="TEACHER_API_KEY").generate(ask("plain"), SamplingConfig())
        # Unset: "EMPTY", which `vllm serve` without --api-key accepts.
        client(url, api_key_env="UNSET_API_KEY").generate(ask("plain"), SamplingConfig())
        monkeypatch.delenv("OPENAI_API_KEY")
        client(url).generate(ask("plain"), SamplingConfig(max_tokens=8))
    assert state.authorizations == [
        "Bearer sk-from-openai-variable",
        "Bearer sk-from-teacher-variable",
        "Bearer EMPTY",
        "Bearer EMPTY",
    ]


@pytest.mark.parametrize(
    "config",
    [
        {"openai": {"endpoints": ["http://127.0.0.1:9/v1"], "api_key": "sk-literal"}},
        {"openai": {"endpoints": ["http://127.0.0.1:9/v1"]}, "judge": {"api_key": "sk-literal"}},
        # Even empty: the setting does not exist, the variable does.
        {"openai": {"endpoints": ["http://127.0.0.1:9/v1"], "api_key": None}},
    ],
)
def test_a_literal_api_key_setting_is_refused_with_what_to_do(config):
    with pytest.raises(LiteralApiKeyError, match="api_key_env") as error:
        create_backend({"backend": "openai", "model": "scripted", **config})
    assert "environment variable" in str(error.value)
    assert "sk-literal" not in str(error.value)  # the message never repeats the key
