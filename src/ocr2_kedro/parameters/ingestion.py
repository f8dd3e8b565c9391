"""Settings of the `ingestion` stage (conf/<env>/parameters_ingestion.yml): which sources are read,
how the OCR / OCR-2 export is resolved, and which questions are held out as the benchmark.

Each source is a catalog entry `raw_<source>` and a namespaced copy of one pipeline template
(`pipelines/ingestion/pipeline.py` builds one per field of `IngestionSettings` that is a
`SourceBlock`, so a new source is a field here, a block in the YAML and its catalog entry).
"""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, NonNegativeInt, Strict, field_validator, model_validator

from ocr2_kedro.parameters.base import Settings
from ocr2_kedro.sources import NORMALIZERS

Flag = Annotated[bool, Strict()]
Name = Annotated[str, Field(min_length=1)]

# The data sets an OCR / OCR-2 export row may point into: OCR-2 was built from these four. The
# ocr2 node reads exactly these sources (their `raw_<source>` entries) to resolve the references.
OCR2_REFERENCE_SOURCES = ("taco", "apps", "codecontests", "codeforces")

# What becomes of a question with no contest_date in a pool with a date window (`undated`):
# "reject" (the default): used by neither pool, an `undated_benchmark_question` reject, since it
# cannot be shown to fall inside the window; "hold_out": a benchmark question like the dated ones
# inside the window (scored in the "all" breakdown, in no date window's).
UndatedRule = Literal["reject", "hold_out"]


class SourceSettings(Settings):
    """One source read in its native schema (`ingestion.<source>.source`)."""

    name: Name  # the source's name in every table (problems.source, rejects, dedup priority)
    kind: str  # which normalizer reads it (ocr2_kedro.sources.NORMALIZERS)
    enabled: Flag  # a disabled source is never opened
    limit: NonNegativeInt | None  # read at most this many records (null: all)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        if kind not in NORMALIZERS:
            raise ValueError(f"unknown source kind {kind!r}; known: {sorted(NORMALIZERS)}")
        return kind


class SourceBlock(Settings):
    """`ingestion.<source>`: the node template's parameters (`params:source` in its namespace)."""

    source: SourceSettings


class Ocr2Settings(Settings):
    """The OCR / OCR-2 export (`ingestion.ocr2`): rows name their question by (dataset, split,
    index) in one of the reference sources; `datasets` maps the export's dataset names to them."""

    name: Name
    enabled: Flag
    limit: NonNegativeInt | None
    datasets: dict[str, Literal[OCR2_REFERENCE_SOURCES]]  # type: ignore[valid-type]


class BenchmarkPool(Settings):
    """One held-out source split (`ingestion.benchmark_pools[i]`), optionally a date window
    (`from` inclusive, `to` exclusive). `from`, `to` and `undated` are optional per pool: a pool
    without a window holds out its whole split, and `undated` only matters with a window."""

    # Dumped as written (`from`), so the settings logged or hashed read like the YAML.
    model_config = ConfigDict(serialize_by_alias=True)

    source: Name
    split: Name
    from_: datetime.date | None = Field(default=None, alias="from")
    to: datetime.date | None = None
    undated: UndatedRule = "reject"

    @property
    def windowed(self) -> bool:
        return self.from_ is not None or self.to is not None

    @model_validator(mode="after")
    def _window_not_empty(self) -> BenchmarkPool:
        if self.from_ is not None and self.to is not None and self.from_ >= self.to:
            raise ValueError(
                f"the window from {self.from_} to {self.to} (exclusive) holds no date: "
                "`to` must come after `from`"
            )
        return self


class IngestionSettings(Settings):
    bundled: SourceBlock
    taco: SourceBlock
    apps: SourceBlock
    codecontests: SourceBlock
    codeforces: SourceBlock
    livecodebench: SourceBlock
    humaneval: SourceBlock
    ioi: SourceBlock
    ocr2: Ocr2Settings
    benchmark_pools: list[BenchmarkPool]

    @classmethod
    def source_names(cls) -> tuple[str, ...]:
        """The sources read directly, in the YAML's order (each a `raw_<source>` catalog entry)."""
        return tuple(
            name for name, field in cls.model_fields.items() if field.annotation is SourceBlock
        )

    def sources(self) -> dict[str, SourceSettings]:
        """Source key -> its settings."""
        return {name: getattr(self, name).source for name in self.source_names()}

    @model_validator(mode="after")
    def _pools_name_sources(self) -> IngestionSettings:
        # A misspelt pool source would hold nothing out: its questions would train the student
        # and then be scored as benchmark questions nowhere, with no error to say so.
        names = {source.name for source in self.sources().values()}
        unknown = [
            f"benchmark_pools[{index}].source={pool.source!r}"
            for index, pool in enumerate(self.benchmark_pools)
            if pool.source not in names
        ]
        if unknown:
            raise ValueError(
                f"{', '.join(unknown)} is not the name of a source (known: {sorted(names)})"
            )
        return self
