"""Resumable generation: chunks written as they finish, reruns complete only what is missing, and a
job killed with SIGKILL part-way ends with every request exactly once."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import polars as pl
import pytest

from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend
from ocr2_kedro.generation.resumable import ShardStore, generate_resumable
from tests.conftest import REPO
from tests.generation.resume_driver import prompt
from tests.support.openai_server import serve


class CountingBackend:
    """Wraps a real backend and records which request ids it was asked for."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.asked: list[str] = []
        self.model_name = backend.model_name

    def generate(self, requests, sampling):
        self.asked.extend(r.request_id for r in requests)
        return self.backend.generate(requests, sampling)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def chat(n: int, offset: int = 0) -> list[ChatRequest]:
    return [
        ChatRequest(f"q{i:02d}", ({"role": "user", "content": f"say {i}"},), seed=i)
        for i in range(offset, offset + n)
    ]


@pytest.fixture(scope="module")
def tiny_backend(tiny_model_dir):
    with create_backend({"backend": "transformers", "model": str(tiny_model_dir)}) as backend:
        yield backend


def chunk_ids(shard_dir) -> list[list[str]]:
    return [
        pl.read_parquet(path)["request_id"].to_list()
        for path in ShardStore(shard_dir).chunk_files()
    ]


def test_rerun_generates_only_what_is_missing(tmp_path, tiny_backend):
    sampling = SamplingConfig(max_tokens=4)
    counting = CountingBackend(tiny_backend)
    first = generate_resumable(
        chat(6), sampling, lambda: counting, shard_dir=tmp_path, chunk_size=4
    )
    assert [c.request_id for c in first] == [f"q{i:02d}" for i in range(6)]
    assert sorted(counting.asked) == [f"q{i:02d}" for i in range(6)]
    assert sorted(len(ids) for ids in chunk_ids(tmp_path)) == [2, 4]

    # Same requests again: nothing is generated and the backend is not even built.
    def no_backend():
        raise AssertionError("a finished run must not start a backend")

    again = generate_resumable(chat(6), sampling, no_backend, shard_dir=tmp_path, chunk_size=4)
    assert [(c.request_id, c.text) for c in again] == [(c.request_id, c.text) for c in first]

    # Two more questions: only those are asked for; the result keeps request order.
    counting.asked.clear()
    more = generate_resumable(chat(8), sampling, lambda: counting, shard_dir=tmp_path, chunk_size=4)
    assert counting.asked == ["q06", "q07"]
    assert [c.request_id for c in more] == [f"q{i:02d}" for i in range(8)]


def test_error_completions_are_returned_but_retried_next_run(tmp_path, tiny_model_dir):
    model = create_backend({"backend": "transformers", "model": str(tiny_model_dir)})
    config = {
        "backend": "openai",
        "model": "tiny",
        "openai": {"max_retries": 0, "backoff_s": 0.01, "max_concurrency": 1},
    }
    with model, serve(model, fail_first=1) as (url, state):
        config["openai"]["endpoints"] = [url]
        first = generate_resumable(
            chat(3),
            SamplingConfig(max_tokens=4),
            lambda: create_backend(config),
            shard_dir=tmp_path,
        )
        assert [c.finish_reason == "error" for c in first].count(True) == 1
        second = generate_resumable(
            chat(3),
            SamplingConfig(max_tokens=4),
            lambda: create_backend(config),
            shard_dir=tmp_path,
        )
        assert all(c.finish_reason != "error" for c in second)
        assert state.requests == 4  # 3, then only the failed one again


def test_duplicate_request_ids_are_refused(tmp_path):
    with pytest.raises(ValueError, match="unique"):
        generate_resumable(chat(1) * 2, SamplingConfig(), lambda: None, shard_dir=tmp_path)


def test_stale_temporary_chunk_is_discarded(tmp_path):
    (tmp_path / ".tmp-chunk-x.parquet.123").write_bytes(b"half a parquet file")
    assert ShardStore(tmp_path).load() == {}
    assert not list(tmp_path.glob(".tmp-*"))


@pytest.mark.slow
def test_sigkill_mid_run_then_rerun_gives_every_request_exactly_once(tmp_path, tiny_backend):
    n = 24
    shard_dir, out = tmp_path / "shards", tmp_path / "out.jsonl"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    with serve(tiny_backend, slow_s=0.25) as (url, state):
        command = [
            sys.executable,
            "-m",
            "tests.generation.resume_driver",
            url,
            str(shard_dir),
            str(out),
            str(n),
        ]
        job = subprocess.Popen(command, cwd=REPO, env=env)
        deadline = time.monotonic() + 120
        while len(list(shard_dir.glob("chunk-*.parquet"))) < 2:
            assert job.poll() is None, "the job ended before it could be killed"
            assert time.monotonic() < deadline, "no chunks written"
            time.sleep(0.02)
        job.send_signal(signal.SIGKILL)
        job.wait()
        assert job.returncode == -signal.SIGKILL
        assert not out.exists()

        finished_before = [rid for ids in chunk_ids(shard_dir) for rid in ids]
        assert 8 <= len(finished_before) < n
        requests_before = state.requests

        subprocess.run(command, cwd=REPO, env=env, check=True, timeout=300)

    completions = [json.loads(line) for line in out.read_text().splitlines()]
    ids = [c["request_id"] for c in completions]
    # Every request exactly once, in request order, none failed.
    assert ids == [f"req-{i:03d}" for i in range(n)]
    assert all(c["finish_reason"] != "error" for c in completions)
    # On disk: every id in exactly one chunk.
    on_disk = [rid for chunk in chunk_ids(shard_dir) for rid in chunk]
    assert sorted(on_disk) == ids
    # Finished chunks were not requested again; the rerun asked only for the rest (the chunk in
    # flight at the kill may have reached the server once before).
    for rid in finished_before:
        assert state.prompts[prompt(int(rid.split("-")[1]))] == 1
    rerun_requests = state.requests - requests_before
    assert rerun_requests == n - len(finished_before)
