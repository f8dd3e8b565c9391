"""Batch verification of a generations frame against a problems frame: local threads or Ray actors.

Local: `workers` threads, each owning one `Verifier` (one zygote, one uid, one cgroup); the heavy work
happens in the zygotes, the threads only frame messages and compare outputs. Ray: `workers` actors,
each with its warm sandbox and compile cache, take blocks of `ray_batch_size` rows from a
`ray.util.ActorPool`. A `VerifyPool` keeps either kind warm across frames (a table verified in
batches starts them once).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor

import polars as pl
from tqdm.auto import tqdm

from ocr2_kedro.schemas import VERIFICATION, conform

from .checker import Judging
from .runner import (
    CompileCache,
    RunResult,
    TestOutcome,
    Verifier,
    internal_error_result,
    judged_by_for,
)
from .sandbox import SandboxUnavailable, default_cache_dir

# What judging reads of a problem: its tests and limits, and its own judging options (issue 24:
# checker, tolerance, IOI graders; `checker.Judging`).
PROBLEM_COLUMNS = (
    "tests",
    "test_type",
    "fn_name",
    "time_limit_s",
    "memory_limit_mb",
    "checker",
    "checker_language",
    "checker_protocol",
    "needs_checker",
    "float_tolerance",
    "grader_files",
)
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
    """Judge one joined row. Never raises for one row (bad input, a fault of ours): the row
    carries the error as SE; only a host that cannot give the required isolation
    (`SandboxUnavailable`) stops the run."""
    try:
        return _verify_row(verifier, row, settings)
    except SandboxUnavailable:
        raise
    except Exception as error:  # noqa: BLE001 - one solution never ends a run
        output = internal_error_result(error, 0).to_row()
        output.update(generation_id=row.get("generation_id"), isolation=[], tests_truncated=0)
        return output


def _verify_row(verifier: Verifier, row: dict, settings: dict) -> dict:
    truncated = 0
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
            truncated = max(0, len(tests) - int(settings["max_tests"]))
            tests = tests[: int(settings["max_tests"])]
        time_limit, memory_limit = _row_limits(row, settings)
        judging = Judging.from_problem(row)
        solution = row.get("solution")
        if (not solution or not str(solution).strip()) and not judging.unjudged:
            total = len(tests or [])
            result = RunResult(
                "CE",
                0,
                total,
                0.0,
                [TestOutcome("CE", 0.0)] * total,
                "empty or missing solution",
                judged_by=judged_by_for(
                    judging, row.get("test_type") or "stdin", settings["compare_mode"]
                ),
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
                judging=judging,
            )
    output = result.to_row()
    output["generation_id"] = row["generation_id"]
    output["isolation"] = result.isolation or verifier.sandbox.layers
    output["tests_truncated"] = truncated
    return output


# The judging settings `verify_frame` / `VerifyPool` take, with the engine's defaults for a caller
# that leaves one out. A pipeline passes them all from its validated settings model
# (`ocr2_kedro.parameters.execution.JudgingSettings.verify_kwargs()`), where they are checked.
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
    "allow_weak_isolation": False,
    "sandbox_uids": None,
}


def _settings(**kwargs) -> dict:
    unknown = sorted(set(kwargs) - set(DEFAULT_SETTINGS))
    if unknown:
        raise TypeError(
            f"unexpected verify settings {unknown}; known: {', '.join(sorted(DEFAULT_SETTINGS))}"
        )
    settings = dict(DEFAULT_SETTINGS)
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


def new_verifier(cache: CompileCache, settings: dict) -> Verifier:
    """One warm sandbox with the pool's compile cache and judging and isolation settings."""
    return Verifier(
        compile_cache=cache,
        compare_mode=settings["compare_mode"],
        allow_weak_isolation=settings["allow_weak_isolation"],
        uid_range=settings["sandbox_uids"],
    )


class RayVerifyActor:
    """A Ray actor: one warm sandbox and compile cache, reused for every block it is given."""

    def __init__(self, settings: dict) -> None:
        self.settings = settings
        cache = CompileCache(settings["cache_dir"], use_pch=settings["use_pch"])
        self.verifier = new_verifier(cache, settings)

    def verify(self, block):
        import pyarrow as pa

        rows = block.to_pylist()
        produced = [verify_row(self.verifier, row, self.settings) for row in rows]
        frame = conform(pl.DataFrame(produced, infer_schema_length=None), VERIFICATION)
        table = frame.to_arrow()
        return pa.Table.from_batches(table.to_batches(), schema=table.schema)

    def close(self) -> None:
        self.verifier.close()


class VerifyPool:
    """Warm sandboxes that verify frame after frame: `workers` local threads (one `Verifier` each)
    or `workers` Ray actors, started when the first rows need them and kept until `close()`.

    A table verified in batches (the verify pipeline, bounded memory) keeps one pool for all its
    batches, so sandboxes, compile caches and Ray actors start once per run, not once per batch.
    Settings as for `verify_frame`.
    """

    def __init__(
        self,
        workers: int = 1,
        *,
        backend: str = "local",
        progress: bool = True,
        ray_address: str | None = None,
        ray_batch_size: int = 8,
        **settings,
    ) -> None:
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, not {backend!r}")
        self.workers = max(1, int(workers))
        self.backend = backend
        self.progress = progress
        self.ray_address = ray_address
        self.ray_batch_size = max(1, int(ray_batch_size))
        self.settings = _settings(**settings)
        self._cache: CompileCache | None = None
        self._verifiers: list[Verifier] = []
        self._idle: queue.SimpleQueue[Verifier] = queue.SimpleQueue()
        self._actors: list = []

    def __enter__(self) -> VerifyPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def verify(self, frame: pl.DataFrame, problems: pl.DataFrame) -> pl.DataFrame:
        """One row per generation of `frame` (schemas.VERIFICATION), in input order."""
        if frame.height == 0:
            return pl.DataFrame(schema=VERIFICATION)
        duplicated = frame["generation_id"].is_duplicated()
        if duplicated.any():
            raise ValueError(
                "duplicate generation_id values: "
                f"{frame['generation_id'].filter(duplicated).unique().to_list()[:5]}"
            )
        joined = _join(frame, problems)
        order = joined["generation_id"].to_list()
        rows = self._verify_ray(joined) if self.backend == "ray" else self._verify_local(joined)
        return _to_frame(rows, order)

    def _verify_local(self, joined: pl.DataFrame) -> list[dict]:
        rows = joined.to_dicts()
        if self._cache is None:
            self._cache = CompileCache(self.settings["cache_dir"], use_pch=self.settings["use_pch"])
            if self.settings["use_pch"] and any(row.get("language") == "cpp" for row in rows):
                # Build the precompiled header (when the cache has none yet) alongside the first
                # rows, not when the first C++ row needs it: every C++ row would wait for it then.
                threading.Thread(
                    target=self._cache.pch_header, name="ocr2-pch", daemon=True
                ).start()
        threads = min(self.workers, len(rows))
        while len(self._verifiers) < threads:
            verifier = new_verifier(self._cache, self.settings)
            self._verifiers.append(verifier)
            self._idle.put(verifier)
        # Dynamic scheduling: each row takes whichever warm sandbox is free, so one slow C++ compile
        # or TLE-heavy solution does not leave the other workers idle at the end.
        with tqdm(
            total=len(rows), desc="verify", unit="solution", disable=not self.progress
        ) as bar:

            def work(row: dict) -> dict:
                verifier = self._idle.get()
                try:
                    return verify_row(verifier, row, self.settings)
                finally:
                    self._idle.put(verifier)
                    bar.update(1)

            with ThreadPoolExecutor(max_workers=threads) as pool:
                return list(pool.map(work, rows))

    def _verify_ray(self, joined: pl.DataFrame) -> list[dict]:
        import pyarrow as pa
        import ray
        from ray.util import ActorPool

        if not self._actors:
            if not ray.is_initialized():
                ray.init(
                    address=self.ray_address,
                    num_cpus=None if self.ray_address else self.workers,
                    include_dashboard=False,
                    log_to_driver=False,
                    ignore_reinit_error=True,
                )
            actor = ray.remote(num_cpus=1)(RayVerifyActor)
            self._actors = [actor.remote(self.settings) for _ in range(self.workers)]
        blocks = [
            joined.slice(start, self.ray_batch_size).to_arrow()
            for start in range(0, joined.height, self.ray_batch_size)
        ]
        tables = []
        with tqdm(
            total=joined.height, desc="verify", unit="solution", disable=not self.progress
        ) as bar:
            for table in ActorPool(self._actors).map_unordered(
                lambda actor, block: actor.verify.remote(block), blocks
            ):
                tables.append(table)
                bar.update(table.num_rows)
        return pl.from_arrow(pa.concat_tables(tables)).to_dicts() if tables else []

    def close(self) -> None:
        for verifier in self._verifiers:
            verifier.close()
        self._verifiers.clear()
        if self._actors:
            import ray

            for actor in self._actors:
                ray.get(actor.close.remote())
                ray.kill(actor)
            self._actors = []


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
    max_tests (the tests left out are the row's `tests_truncated`), cache_dir (C++ compile cache),
    use_pch, stop_at_first_failure and wall_factor (see `Verifier.run_tests`: evaluation's mode;
    pass/fail exact, pass_rate a lower bound), allow_weak_isolation and sandbox_uids (see
    `Verifier`). An unknown setting is a TypeError (values are checked by the settings models,
    `ocr2_kedro.parameters.execution`); an error while judging one row is that row's SE. One frame, one pool: see `VerifyPool` for many frames
    on the same sandboxes.
    """
    with VerifyPool(
        workers,
        backend=backend,
        progress=progress,
        ray_address=ray_address,
        ray_batch_size=ray_batch_size,
        **settings,
    ) as pool:
        return pool.verify(frame, problems)
