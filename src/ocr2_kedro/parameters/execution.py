"""How generated code is judged in the sandbox (`ocr2_kedro.execution`), shared by two stages:
`evaluation.execution` is a `JudgingSettings` as is, and `verify` (a `VerifySettings`,
`ocr2_kedro.parameters.verify`) extends it with its own limits, compile cache, Ray pool and
batching. The engine takes plain keywords: `settings.verify_kwargs()` for `execution.verify_frame`
/ `VerifyPool`."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated, Any, ClassVar, Literal

from pydantic import Field, Strict, field_validator

from ocr2_kedro.execution.sandbox import parse_uid_range
from ocr2_kedro.parameters.base import Requirement, Settings

# Strict: a quoted "2" or a true where a number belongs is a mistake, not a value to coerce.
PositiveNumber = Annotated[float, Strict(), Field(gt=0, allow_inf_nan=False)]
PositiveInteger = Annotated[int, Strict(), Field(gt=0)]
Flag = Annotated[bool, Strict()]
CompareMode = Literal["tokens", "lines"]  # execution.compare.COMPARE_MODES


class JudgingSettings(Settings):
    """How many sandboxes judge, and how: limits, output comparison, which tests, the isolation
    accepted. `null` means the engine's default (the problem's own limit, every test, ...)."""

    workers: PositiveInteger  # sandboxes in parallel
    progress: Flag
    compare_mode: CompareMode  # tokens (1e-6 float tolerance) | lines (LiveCodeBench)
    default_time_limit_s: PositiveNumber  # for problems without a limit
    default_memory_limit_mb: PositiveInteger
    time_limit_factor: PositiveNumber  # scales every time limit
    max_tests: PositiveInteger | None  # null: every test of a problem
    stop_at_first_failure: Flag  # pass/fail exact, pass_rate a lower bound
    wall_factor: PositiveNumber | None  # a timed-out test costs about wall_factor x its limit
    allow_weak_isolation: Flag
    sandbox_uids: str | None  # root only: "first-last" host uids leased to sandboxes

    @field_validator("sandbox_uids")
    @classmethod
    def _uid_range(cls, value: str | None) -> str | None:
        # The sandbox's own rule, checked before any sandbox starts.
        if value is not None:
            parse_uid_range(value)
        return value

    # Fields that say how many sandboxes run and where (VerifyPool's own keywords), and fields
    # the engine never reads (a stage's batching, resume folder): the rest is how code is judged.
    POOL_FIELDS: ClassVar[tuple[str, ...]] = ("workers", "progress")
    NODE_FIELDS: ClassVar[tuple[str, ...]] = ()

    def pool_kwargs(self) -> dict[str, Any]:
        """How many sandboxes, where, and how they report, as VerifyPool keywords."""
        return {name: getattr(self, name) for name in self.POOL_FIELDS}

    def judging_kwargs(self) -> dict[str, Any]:
        """The judging settings as VerifyPool / verify_frame keywords (what a verdict depends
        on, plus the compile cache and isolation; execution.resume.verdict_key reads them)."""
        skipped = {*self.POOL_FIELDS, *self.NODE_FIELDS}
        return {
            name: getattr(self, name) for name in type(self).model_fields if name not in skipped
        }

    def verify_kwargs(self) -> dict[str, Any]:
        """Every keyword `execution.verify_frame` / `VerifyPool` takes from these settings."""
        return {**self.pool_kwargs(), **self.judging_kwargs()}


def cpp_compiler_requirements(languages: Iterable[str], path: str) -> list[Requirement]:
    """g++ on PATH when `languages` (the setting at `path`) include C++: without it every C++
    solution would be judged SE after hours of generation."""
    if "cpp" not in set(languages):
        return []
    return [
        Requirement(
            kind="executable",
            value="g++",
            path=path,
            hint=f"install g++ (e.g. `apt-get install g++`) or leave cpp out of {path}",
        )
    ]
