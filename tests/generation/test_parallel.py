"""Data parallelism: a pool of engines in worker processes behind the one interface."""

from __future__ import annotations

import os

import pytest

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.parallel import DataParallelBackend, device_slices
from ocr2_kedro.generation.vllm_backend import VLLMBackend


def test_device_slices_give_each_worker_its_own_gpus():
    assert device_slices(2, 4, "0,1,2,3,4,5,6,7") == ["0,1,2,3", "4,5,6,7"]
    assert device_slices(2, 1, "3,5") == ["3", "5"]
    with pytest.raises(ValueError, match="needs 8 devices"):
        device_slices(2, 4, "0,1,2,3")


def test_vllm_backend_refuses_in_process_data_parallelism():
    # vLLM's LLM refuses data_parallel_size > 1 in one process; create_backend builds the pool.
    with pytest.raises(ValueError, match="create_backend"):
        VLLMBackend("unused", data_parallel_size=2)


def test_openai_backend_has_no_data_parallel_option():
    with pytest.raises(ValueError, match="endpoints"):
        create_backend(
            {
                "backend": "openai",
                "model": "m",
                "openai": {"endpoints": ["x"], "data_parallel_size": 2},
            }
        )


@pytest.mark.slow
def test_data_parallel_pool_splits_requests_over_worker_processes(tiny_model_dir):
    config = {
        "backend": "transformers",
        "model": str(tiny_model_dir),
        "transformers": {"data_parallel_size": 2, "batch_size": 2},
    }
    requests = [
        ChatRequest(f"r{i}", ({"role": "user", "content": f"count to {i}"},), seed=i)
        for i in range(5)
    ]
    with create_backend(config) as backend:
        assert isinstance(backend, DataParallelBackend)
        assert len(set(backend.worker_pids)) == 2 and os.getpid() not in backend.worker_pids
        completions = backend.generate(requests, SamplingConfig(max_tokens=5))
        assert backend.generate([], SamplingConfig()) == []
    assert [c.request_id for c in completions] == [f"r{i}" for i in range(5)]
    assert all(0 < c.num_output_tokens <= 5 for c in completions)
