"""Batch verification of a generations frame against a problems frame: local threads or Ray Data.

Local: `workers` threads, each owning one `Verifier` (one zygote, one uid, one cgroup); the heavy work
happens in the zygotes, the threads only frame messages and compare outputs. Ray: the joined rows go
through `ray.data.Dataset.map_batches` with a stateful actor class, so each actor keeps its warm
sandbox and the compile cache across batches.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import polars as pl
from tqdm.auto import tqdm

from ocr2_kedro.schemas import VERIFICATION, conform

from .runner import CompileCache, RunResult, TestOutcome, Verifier
from .sandbox import default_cache_dir

PROBLEM_COLUMNS = ("tests", "test_type", "fn_name", "time_limit_s", "memory_limit_mb")
BACKENDS = ("local", "ray")


def _join(frame: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
    missing = [
        c
        for c in ("generation_id", "question_id", "language", "solution")
        if c not in frame.columns
    ]
    if missing:
        raise ValueError(f"generations frame lacks columns {missing}")
    wanted = ["question_id", *[c for c in PROBLEM_COLUMNS if c in problems.columns]]
    table = problems.select(wanted).unique(subset="question_id", keep="first", maintain_order=True)
    table = table.with_columns(pl.lit(True).alias("_has_problem"))
    joined = frame.select("generation_id", "question_id", "language", "solution").join(
        table, on="question_id", how="left"
    )
    for column in PROBLEM_COLUMNS:
        if column not in joined.columns:
            joined = joined.with_columns(pl.lit(None).alias(column))
    return joined


def _row_limits(row: dict, settings: dict) -> tuple[float, int]:
    time_limit = (
        settings.get("time_limit_s") or row.get("time_limit_s") or settings["default_time_limit_s"]
    )
    memory_limit = (
        settings.get("memory_limit_mb")
        or row.get("memory_limit_mb")
        or settings["default_memory_limit_mb"]
    )
    return float(time_limit) * float(settings["time_limit_factor"]), int(memory_limit)


def verify_row(verifier: Verifier, row: dict, settings: dict) -> dict:
    """Judge one joined row; never raises for bad input (the row carries the error)."""
    if not row.get("_has_problem"):
        result = RunResult(
            "SE",
            0,
            0,
            0.0,
            [],
            f"bad problem: no problem with question_id {row.get('question_id')!r}",
        )
    else:
        tests = row.get("tests")
        if settings.get("max_tests") and tests:
            tests = tests[: int(settings["max_tests"])]
        time_limit, memory_limit = _row_limits(row, settings)
        solution = row.get("solution")
        if not solution or not str(solution).strip():
            total = len(tests or [])
            result = RunResult(
                "CE", 0, total, 0.0, [TestOutcome("CE", 0.0)] * total, "empty or missing solution"
            )
        else:
            result = verifier.run_tests(
                solution,
                row.get("language"),
                tests,
                test_type=row.get("test_type") or "stdin",
                fn_name=row.get("fn_name"),
                time_limit_s=time_limit,
                memory_limit_mb=memory_limit,
                compare_mode=settings["compare_mode"],
                stop_at_first_failure=bool(settings.get("stop_at_first_failure")),
                wall_factor=settings.get("wall_factor"),
            )
    output = result.to_row()
    output["generation_id"] = row["generation_id"]
    output["isolation"] = result.isolation or verifier.sandbox.layers
    return output


# The settings `verify_frame` takes, with their defaults (pipelines pass the ones they set).
DEFAULT_SETTINGS = {
    "compare_mode": "tokens",
    "time_limit_s": None,
    "memory_limit_mb": None,
    "default_time_limit_s": 2.0,
    "default_memory_limit_mb": 256,
    "time_limit_factor": 1.0,
    "max_tests": None,
    "cache_dir": None,
    "use_pch": True,
    "stop_at_first_failure": False,
    "wall_factor": None,
}


def settings_from(params: dict) -> dict:
    """The verify settings named in `params` (a pipeline's parameters), unset ones left out."""
    return {key: params[key] for key in DEFAULT_SETTINGS if params.get(key) is not None}


def _settings(**kwargs) -> dict:
    settings = dict(DEFAULT_SETTINGS)
    unknown = set(kwargs) - set(settings)
    if unknown:
        raise TypeError(f"unknown verify settings {sorted(unknown)}")
    settings.update({k: v for k, v in kwargs.items() if v is not None})
    settings["cache_dir"] = settings["cache_dir"] or default_cache_dir()
    return settings


def _to_frame(rows: Iterable[dict], order: list[str]) -> pl.DataFrame:
    rows = list(rows)
    position = {gid: index for index, gid in enumerate(order)}
    rows.sort(key=lambda row: position[row["generation_id"]])
    if not rows:
        return pl.DataFrame(schema=VERIFICATION)
    return conform(pl.DataFrame(rows, infer_schema_length=None), VERIFICATION)


def _verify_local(joined: pl.DataFrame, workers: int, settings: dict, progress: bool) -> list[dict]:
    rows = joined.to_dicts()
    workers = max(1, min(int(workers), len(rows) or 1))
    cache = CompileCache(settings["cache_dir"], use_pch=settings["use_pch"])
    if settings["use_pch"] and any(row.get("language") == "cpp" for row in rows):
        # Build the precompiled header (when the cache has none yet) alongside the first rows,
        # not when the first C++ row needs it: every C++ row would wait for it then.
        threading.Thread(target=cache.pch_header, name="ocr2-pch", daemon=True).start()
    verifiers = [
        Verifier(compile_cache=cache, compare_mode=settings["compare_mode"]) for _ in range(workers)
    ]
    idle: queue.SimpleQueue[Verifier] = queue.SimpleQueue()
    for verifier in verifiers:
        idle.put(verifier)
    try:
        # Dynamic scheduling: each row takes whichever warm sandbox is free, so one slow C++ compile
        # or TLE-heavy solution does not leave the other workers idle at the end.
        results: list[dict] = []
        with tqdm(total=len(rows), desc="verify", unit="solution", disable=not progress) as bar:

            def work(row: dict) -> dict:
                verifier = idle.get()
                try:
                    return verify_row(verifier, row, settings)
                finally:
                    idle.put(verifier)
                    bar.update(1)

            with ThreadPoolExecutor(max_workers=workers) as pool:
                results.extend(pool.map(work, rows))
        return results
    finally:
        for verifier in verifiers:
            verifier.close()


class RayVerifyActor:
    """Ray Data stateful UDF: one warm sandbox and compile cache per actor, reused across batches."""

    def __init__(self, settings: dict) -> None:
        self.settings = settings
        cache = CompileCache(settings["cache_dir"], use_pch=settings["use_pch"])
        self.verifier = Verifier(compile_cache=cache, compare_mode=settings["compare_mode"])

    def __call__(self, batch):
        import pyarrow as pa

        rows = batch.to_pylist()
        produced = [verify_row(self.verifier, row, self.settings) for row in rows]
        frame = conform(pl.DataFrame(produced, infer_schema_length=None), VERIFICATION)
        return pa.Table.from_batches(frame.to_arrow().to_batches(), schema=frame.to_arrow().schema)

    def __del__(self) -> None:
        self.verifier.close()


def _verify_ray(
    joined: pl.DataFrame, workers: int, settings: dict, ray_address: str | None, batch_size: int
) -> list[dict]:
    import ray

    if not ray.is_initialized():
        ray.init(
            address=ray_address,
            num_cpus=None if ray_address else max(1, workers),
            include_dashboard=False,
            log_to_driver=False,
            ignore_reinit_error=True,
        )
    # Several blocks so that every actor gets work (slicing here: a repartition would need CPUs
    # that the actor pool already holds on a small cluster).
    blocks = max(1, min(joined.height, 4 * int(workers)))
    step = -(-joined.height // blocks)
    dataset = ray.data.from_arrow(
        [joined.slice(start, step).to_arrow() for start in range(0, joined.height, step)]
    )
    verified = dataset.map_batches(
        RayVerifyActor,
        fn_constructor_kwargs={"settings": settings},
        batch_format="pyarrow",
        batch_size=batch_size,
        concurrency=max(1, int(workers)),
        num_cpus=1,
    )
    import pyarrow as pa

    tables = ray.get(verified.to_arrow_refs())
    return pl.from_arrow(pa.concat_tables(tables)).to_dicts() if tables else []


def verify_frame(
    frame: pl.DataFrame,
    problems: pl.DataFrame,
    workers: int = 1,
    *,
    backend: str = "local",
    progress: bool = True,
    ray_address: str | None = None,
    ray_batch_size: int = 8,
    **settings,
) -> pl.DataFrame:
    """Verify every generation in `frame` (schemas.GENERATION) against `problems` (schemas.PROBLEM).

    Returns one row per generation conforming to `schemas.VERIFICATION`, in input order. Settings:
    compare_mode ("tokens" | "lines"), time_limit_s / memory_limit_mb (override the problem's),
    default_time_limit_s / default_memory_limit_mb (when the problem has none), time_limit_factor,
    max_tests, cache_dir (C++ compile cache), use_pch, stop_at_first_failure and wall_factor (see
    `Verifier.run_tests`: evaluation's mode; pass/fail exact, pass_rate a lower bound).
    """
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
    resolved = _settings(**settings)
    if frame.height == 0:
        return pl.DataFrame(schema=VERIFICATION)
    duplicated = frame["generation_id"].is_duplicated()
    if duplicated.any():
        raise ValueError(
            f"duplicate generation_id values: {frame['generation_id'].filter(duplicated).unique().to_list()[:5]}"
        )
    joined = _join(frame, problems)
    order = joined["generation_id"].to_list()
    if backend == "ray":
        rows = _verify_ray(joined, workers, resolved, ray_address, ray_batch_size)
    else:
        rows = _verify_local(joined, workers, resolved, progress)
    return _to_frame(rows, order)
