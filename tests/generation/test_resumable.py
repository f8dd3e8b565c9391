"""Resumable, sharded generation: chunks written as they finish, reruns complete only what is
missing, a job killed with SIGKILL part-way ends with every request exactly once, and drivers split
a job into disjoint chunk ranges that a later run collects."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time

import polars as pl
import pytest

from ocr2_kedro.generation import ChatRequest, Completion, SamplingConfig, create_backend
from ocr2_kedro.generation.resumable import (
    Completions,
    Drivers,
    IncompleteShardsError,
    ShardStore,
    chunked,
    fingerprint_request,
    frame_chunks,
    generate_resumable,
    prompt_fingerprint,
    read_completions,
    rebatched,
    request_fingerprint,
    run_shards,
)
from ocr2_kedro.tables.files import STALE_TEMPORARY_S
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


def test_stale_temporary_chunks_are_discarded_but_not_a_live_writers(tmp_path):
    host = socket.gethostname()
    old = tmp_path / ".tmp-chunk-a.parquet@elsewhere@1"
    dead = tmp_path / f".tmp-chunk-b.parquet@{host}@{dead_pid()}"
    live = tmp_path / f".tmp-chunk-c.parquet@{host}@{os.getpid()}"
    other_node = tmp_path / ".tmp-chunk-d.parquet@another-node@1"
    for path in (old, dead, live, other_node):
        path.write_bytes(b"half a parquet file")
    long_ago = time.time() - STALE_TEMPORARY_S - 60
    os.utime(old, (long_ago, long_ago))
    assert ShardStore(tmp_path).load() == {}
    # A driver on another node (shared directory) may be writing its chunk right now.
    assert sorted(p.name for p in tmp_path.glob(".tmp-*")) == sorted([live.name, other_node.name])


def dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


class EchoBackend:
    """Answers every request with a code block naming it; counts what it was asked."""

    model_name = "echo"

    def __init__(self, fail: set[str] = frozenset()) -> None:
        self.asked: list[str] = []
        self.fail = set(fail)

    def generate(self, requests, sampling):
        self.asked.extend(r.request_id for r in requests)
        return [
            Completion(r.request_id, "", "error", 0, "echo", error="injected")
            if r.request_id in self.fail
            else Completion(
                r.request_id, f"```python\nprint({r.request_id!r})\n```", "stop", 5, "echo"
            )
            for r in requests
        ]

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None


def run_driver(requests, shard_dir, backend, *, count=1, index=0, require_complete=False):
    return run_shards(
        chunked(requests, 3),
        Completions(ShardStore(shard_dir), SamplingConfig(max_tokens=4), lambda: backend),
        shard_dir=shard_dir,
        chunk_size=3,
        drivers=Drivers(count, index),
        require_complete=require_complete,
    )


def test_drivers_complete_disjoint_chunk_ranges_that_a_collecting_run_reads(tmp_path):
    requests = chat(20)  # chunks of 3: 0..6, the last one of 2
    first, second = EchoBackend(), EchoBackend()
    report = run_driver(requests, tmp_path, first, count=2, index=0)
    assert report.chunks == 7 and report.completed_chunks == [0, 2, 4, 6]
    assert report.incomplete_chunks == [1, 3, 5]  # the other driver's
    # Chunk i is requests [3i, 3i + 3): driver 0 asked for chunks 0, 2, 4, 6 only.
    assert first.asked == [
        f"q{i:02d}" for c in (0, 2, 4, 6) for i in range(3 * c, min(3 * c + 3, 20))
    ]

    # A collecting run that must not generate names what is missing, and sends nothing.
    none = EchoBackend()
    with pytest.raises(IncompleteShardsError, match=r"3 of 7 chunks are not done.*chunks 1, 3, 5"):
        run_driver(requests, tmp_path, none, require_complete=True)
    assert none.asked == []

    run_driver(requests, tmp_path, second, count=2, index=1)
    assert not set(first.asked) & set(second.asked)
    assert sorted(first.asked + second.asked) == [r.request_id for r in requests]
    files = [chunk_ids(tmp_path)]
    assert sorted(rid for ids in files[0] for rid in ids) == [r.request_id for r in requests]

    collecting = run_driver(requests, tmp_path, none, require_complete=True)
    assert collecting.complete and collecting.requests_sent == 0 and none.asked == []
    store = ShardStore(tmp_path)
    read = [
        c
        for i, ids in enumerate(chunked([r.request_id for r in requests], 3))
        for c in read_completions(store, i, ids)
    ]
    assert [c.request_id for c in read] == [r.request_id for r in requests]
    assert read[4].text == "```python\nprint('q04')\n```"


def test_failed_requests_are_kept_apart_read_as_errors_and_retried(tmp_path):
    requests = chat(6)
    flaky = EchoBackend(fail={"q04"})
    report = run_driver(requests, tmp_path, flaky)
    assert (report.requests_failed, report.incomplete_chunks) == (1, [1])
    store = ShardStore(tmp_path)
    assert not store.is_done(1, ["q03", "q04", "q05"])
    chunk = read_completions(store, 1, ["q03", "q04", "q05"])
    assert [(c.request_id, c.finish_reason, c.error) for c in chunk] == [
        ("q03", "stop", None),
        ("q04", "error", "injected"),
        ("q05", "stop", None),
    ]
    healthy = EchoBackend()
    assert run_driver(requests, tmp_path, healthy).complete
    assert healthy.asked == ["q04"]
    # The retried chunk is one file again, and no failure is left on record.
    assert sorted(len(ids) for ids in chunk_ids(tmp_path)) == [3, 3]
    assert not list((tmp_path / "errors").glob("*.parquet"))


def test_a_request_never_tried_is_an_error_when_read(tmp_path):
    run_driver(chat(6), tmp_path, EchoBackend(), count=2, index=0)
    with pytest.raises(IncompleteShardsError, match="chunk 1 .* lacks 3 of its 3 requests"):
        read_completions(ShardStore(tmp_path), 1, ["q03", "q04", "q05"])


def test_a_new_chunk_size_reuses_every_stored_completion(tmp_path):
    generate_resumable(chat(7), SamplingConfig(), EchoBackend, shard_dir=tmp_path, chunk_size=2)
    again = EchoBackend()
    result = generate_resumable(
        chat(7), SamplingConfig(), lambda: again, shard_dir=tmp_path, chunk_size=3
    )
    assert again.asked == []
    assert [c.request_id for c in result] == [f"q{i:02d}" for i in range(7)]


def test_frame_chunks_stream_in_order_and_rebatch(tmp_path):
    frame = pl.DataFrame({"i": list(range(10))})
    path = tmp_path / "t.parquet"
    frame.write_parquet(path, row_group_size=3)
    for source in (frame, pl.scan_parquet(path)):
        assert [c["i"].to_list() for c in frame_chunks(source, 4)] == [
            [0, 1, 2, 3],
            [4, 5, 6, 7],
            [8, 9],
        ]
    schema = pl.Schema({"i": pl.Int64})
    batches = rebatched(frame_chunks(frame, 4), 6, schema)
    assert [b.height for b in batches] == [8, 2]
    assert [b.schema for b in rebatched([], 6, schema)] == [schema]


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


def test_a_request_fingerprint_changes_with_every_part_of_the_request_and_nothing_else():
    system = {"role": "system", "content": "You are a careful programmer."}
    user = {"role": "user", "content": "Print the sum of two integers."}
    sampling = SamplingConfig(temperature=0.6, top_p=0.95, max_tokens=512, seed=0)
    base = fingerprint_request("teacher", ChatRequest("a", (system, user), seed=3), sampling)
    # The request id is the caller's name for it, not part of what the model is asked.
    assert (
        fingerprint_request("teacher", ChatRequest("b", (system, user), seed=3), sampling) == base
    )
    # Settings written out at their defaults, or a setting that is off, ask for the same thing.
    assert (
        fingerprint_request(
            "teacher",
            ChatRequest("a", (system, user), seed=3),
            SamplingConfig.from_dict({"temperature": 0.6, "logprobs": None}),
        )
        == base
    )
    changed = {
        "model": fingerprint_request("critic", ChatRequest("a", (system, user), 3), sampling),
        "system prompt": fingerprint_request(
            "teacher",
            ChatRequest("a", ({**system, "content": "Be brief."}, user), 3),
            sampling,
        ),
        "no system prompt": fingerprint_request("teacher", ChatRequest("a", (user,), 3), sampling),
        "prompt": fingerprint_request(
            "teacher",
            ChatRequest("a", (system, {**user, "content": "Print the sum of 2 integers."}), 3),
            sampling,
        ),
        "seed": fingerprint_request("teacher", ChatRequest("a", (system, user), 4), sampling),
        "temperature": fingerprint_request(
            "teacher", ChatRequest("a", (system, user), 3), SamplingConfig(temperature=0.7)
        ),
        "max_tokens": fingerprint_request(
            "teacher", ChatRequest("a", (system, user), 3), SamplingConfig(max_tokens=513)
        ),
        "logprobs": fingerprint_request(
            "teacher", ChatRequest("a", (system, user), 3), SamplingConfig(logprobs=5)
        ),
    }
    assert base not in changed.values()
    assert len(set(changed.values())) == len(changed)
    # A request without a seed of its own is sampled with the sampling's seed.
    assert (
        fingerprint_request(
            "teacher", ChatRequest("a", (system, user), None), SamplingConfig(seed=3)
        )
        == base
    )
    # One prompt sampled many times: fingerprinted once, then once per seed.
    prompt_key = prompt_fingerprint("teacher", (system, user), sampling)
    assert request_fingerprint(prompt_key, 3) == base
