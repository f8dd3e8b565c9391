"""SFT examples from the OCR-2 export: stage 1 (code generation) and stage 2 (generation + critique).

An example is a prompt/completion pair of chat messages: `prompt` is what the student sees (an optional
system message and the user turn), `completion` the single assistant turn it learns to write.

Two entry points share one set of rules:
- `build_examples(export, ...)` streams a polars export (LazyFrame or DataFrame) in batches and returns
  stage-1 examples, stage-2 examples and rejects as generators of polars frames (`EXAMPLE_SCHEMA`,
  `REJECT`), so a 2.5M-row export never sits in one process: what Kedro's training nodes use;
- `build_generation_examples` / `build_critique_examples` / `mix_stage2` take plain row dicts and
  return lists (small inputs, notebooks, the reference the streaming path is tested against).
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from ocr2_kedro.generation.prompts import LANGUAGE_NAMES, critique_prompt, solution_prompt
from ocr2_kedro.schemas import REJECT

logger = logging.getLogger(__name__)

GENERATION = "generation"
CRITIQUE = "critique"

# One SFT example per row; prompt and completion are JSON lists of chat messages.
EXAMPLE_SCHEMA = pl.Schema(
    {
        "id": pl.String,
        "kind": pl.String,  # "generation" | "critique"
        "language": pl.String,
        "prompt": pl.String,
        "completion": pl.String,
    }
)
# Export rows read per batch: ~30 KB each at OCR-2 size, so a batch is tens of MB.
DEFAULT_BATCH_ROWS = 1_000
# The export columns examples are built from; absent optional ones read as null.
EXPORT_COLUMNS = {
    "id": pl.String,
    "language": pl.String,
    "question": pl.String,
    "r1_generation": pl.String,
    "qwq_critique": pl.String,
    "solution": pl.String,
    "judgement": pl.String,
    "pass_rate": pl.Float64,
    "test_type": pl.String,
    "starter_code": pl.String,
    "fn_name": pl.String,
}


@dataclass(frozen=True)
class ExampleFilters:
    """Which export rows become examples. The defaults keep everything, as the paper does.

    judgements: keep rows whose judgement is in this list (null judgements count as "none").
    min_pass_rate: keep rows with pass_rate >= this (rows without a pass rate are kept only if
        `keep_unverified`).
    languages: keep rows in these languages.
    """

    judgements: tuple[str, ...] | None = None
    min_pass_rate: float | None = None
    keep_unverified: bool = True
    languages: tuple[str, ...] | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> ExampleFilters:
        values = dict(values or {})
        unknown = set(values) - {"judgements", "min_pass_rate", "keep_unverified", "languages"}
        if unknown:
            raise ValueError(f"unknown example filters: {sorted(unknown)}")
        for key in ("judgements", "languages"):
            if values.get(key) is not None:
                values[key] = tuple(values[key])
        return cls(**values)

    def rejection(self, row: Mapping[str, Any]) -> str | None:
        """Why `row` is filtered out, or None when it is kept."""
        if self.languages is not None and row.get("language") not in self.languages:
            return f"language {row.get('language')!r} not in {list(self.languages)}"
        if self.judgements is not None:
            judgement = row.get("judgement") or "none"
            if judgement not in self.judgements:
                return f"judgement {judgement!r} not in {list(self.judgements)}"
        if self.min_pass_rate is not None:
            pass_rate = row.get("pass_rate")
            if pass_rate is None:
                if not self.keep_unverified:
                    return "no pass_rate (unverified)"
            elif pass_rate < self.min_pass_rate:
                return f"pass_rate {pass_rate} < {self.min_pass_rate}"
        return None


@dataclass
class ExampleSet:
    examples: list[dict[str, Any]]
    skipped: list[dict[str, str]] = field(default_factory=list)  # {"id", "kind", "reason"}


def generation_prompt(
    question: str,
    language: str,
    test_type: str = "stdin",
    starter_code: str = "",
    fn_name: str | None = None,
) -> str:
    """The prompt the teacher answered: the generation pipeline's own builder, so a stage-1 example
    asks exactly what the teacher was asked (I/O rule, starter code, the C++ JSON convention for
    call-based questions)."""
    return solution_prompt(question, language, test_type, starter_code, fn_name)


def _generation_prompt_of(row: Mapping[str, Any]) -> str:
    # An export without `test_type` (written before the export carried it, or elsewhere) gets the
    # stdin prompt: the only one that needs no fn_name, and right for most OCR-2 questions.
    return generation_prompt(
        row["question"],
        row["language"],
        row.get("test_type") or "stdin",
        row.get("starter_code") or "",
        row.get("fn_name"),
    )


def _messages(system_prompt: str | None, user: str) -> list[dict[str, str]]:
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*system, {"role": "user", "content": user}]


def _critique_target(critique: str, judgement: str | None) -> str:
    # The critic's text normally ends in its judgement; make the label explicit when the export has one
    # but the text does not state it, so the student always learns to finish with a verdict.
    text = critique.rstrip()
    if judgement in ("right", "wrong") and f"judgement: {judgement}" not in text[-200:].lower():
        text += f"\n\nJudgement: {judgement}"
    return text


@dataclass(frozen=True)
class ExampleKind:
    """How one kind of example is made from an export row: what it needs, its prompt, its target."""

    name: str
    required: dict[str, str]  # column -> the skip reason when it is empty
    prompt: Callable[[Mapping[str, Any]], str]
    target: Callable[[Mapping[str, Any]], str]


GENERATION_KIND = ExampleKind(
    GENERATION,
    {"question": "empty question", "r1_generation": "empty r1_generation"},
    _generation_prompt_of,
    lambda row: row["r1_generation"].strip(),
)
CRITIQUE_KIND = ExampleKind(
    CRITIQUE,
    {"qwq_critique": "no critique", "solution": "no solution to critique"},
    # The critique pipeline's own prompt: the student learns to critique as it will be asked to.
    lambda row: critique_prompt(row["question"], row["language"], row["solution"]),
    lambda row: _critique_target(row["qwq_critique"], row.get("judgement")),
)


def _filled(row: Mapping[str, Any], column: str) -> bool:
    return bool((row.get(column) or "").strip())


def skip_reason(
    row: Mapping[str, Any], kind: ExampleKind, filters: ExampleFilters | None = None
) -> str | None:
    """Why `row` gives no example of `kind` (filtered out, or a required field empty), or None."""
    reason = (filters or ExampleFilters()).rejection(row) or next(
        (why for column, why in kind.required.items() if not _filled(row, column)), None
    )
    if reason is None and row.get("language") not in LANGUAGE_NAMES:
        reason = f"unknown language {row.get('language')!r}"
    return reason


def make_example(
    row: Mapping[str, Any], kind: ExampleKind, system_prompt: str | None
) -> dict[str, Any]:
    return {
        "id": str(row.get("id")),
        "kind": kind.name,
        "language": row["language"],
        "prompt": _messages(system_prompt, kind.prompt(row)),
        "completion": [{"role": "assistant", "content": kind.target(row)}],
    }


def _build_examples(
    rows: Iterable[Mapping[str, Any]],
    kind: ExampleKind,
    filters: ExampleFilters | None,
    system_prompt: str | None,
) -> ExampleSet:
    """Rows -> chat examples of one kind; a row that fails `filters` or lacks a required field is
    listed in `skipped` with the reason."""
    result = ExampleSet([])
    for row in rows:
        reason = skip_reason(row, kind, filters)
        if reason is not None:
            result.skipped.append({"id": str(row.get("id")), "kind": kind.name, "reason": reason})
            continue
        result.examples.append(make_example(row, kind, system_prompt))
    return result


def build_generation_examples(
    rows: Iterable[Mapping[str, Any]],
    filters: ExampleFilters | None = None,
    system_prompt: str | None = None,
) -> ExampleSet:
    """Stage 1: question -> the teacher's full output (reasoning in <think> and the solution)."""
    return _build_examples(rows, GENERATION_KIND, filters, system_prompt)


def build_critique_examples(
    rows: Iterable[Mapping[str, Any]],
    filters: ExampleFilters | None = None,
    system_prompt: str | None = None,
) -> ExampleSet:
    """Critique examples: question + candidate solution -> critique reasoning + judgement.

    Built only from rows that have a critique and a solution; the others are listed in `skipped`.
    """
    return _build_examples(rows, CRITIQUE_KIND, filters, system_prompt)


def mix_stage2(
    generation_examples: list[dict[str, Any]],
    critique_examples: list[dict[str, Any]],
    critique_ratio: float | None,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Stage-2 data: all generation examples plus critique examples, shuffled.

    critique_ratio: None keeps every critique example (the paper's joint SFT). A number asks for
    round(ratio * len(generation_examples)) critique examples: sampled without replacement when there
    are more, repeated in order (each one as evenly as possible) when there are fewer.
    """
    rng = random.Random(seed)
    critiques = list(critique_examples)
    if critique_ratio is not None and critiques:
        if critique_ratio < 0:
            raise ValueError(f"critique_ratio must be >= 0, got {critique_ratio}")
        wanted = round(critique_ratio * len(generation_examples))
        if wanted <= len(critiques):
            critiques = rng.sample(critiques, wanted)
        else:
            repeats, rest = divmod(wanted, len(critiques))
            critiques = critiques * repeats + rng.sample(critiques, rest)
    mixed = list(generation_examples) + critiques
    rng.shuffle(mixed)
    return mixed


# --- Streaming: the export in batches, examples and rejects without holding the table ------------


def _quoted(column: pl.Expr) -> pl.Expr:
    """Python's repr of a plain string or None, as the row-level reasons print values."""
    return (
        pl.when(column.is_null()).then(pl.lit("None")).otherwise(pl.lit("'") + column + pl.lit("'"))
    )


def _filled_expr(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.String).str.contains(r"\S").fill_null(False)


def skip_reason_expr(kind: ExampleKind, filters: ExampleFilters | None = None) -> pl.Expr:
    """`skip_reason` as a polars expression over export columns: the same reasons, vectorized
    (tests/training/test_examples.py checks that both agree)."""
    filters = filters or ExampleFilters()
    language = pl.col("language")
    checks: list[tuple[pl.Expr, pl.Expr]] = []
    if filters.languages is not None:
        checks.append(
            (
                ~language.is_in(list(filters.languages)).fill_null(False),
                pl.concat_str(
                    pl.lit("language "),
                    _quoted(language),
                    pl.lit(f" not in {list(filters.languages)}"),
                ),
            )
        )
    if filters.judgements is not None:
        judgement = pl.col("judgement")
        judgement = (
            pl.when(judgement.is_null() | (judgement == ""))
            .then(pl.lit("none"))
            .otherwise(judgement)
        )
        checks.append(
            (
                ~judgement.is_in(list(filters.judgements)),
                pl.concat_str(
                    pl.lit("judgement "),
                    _quoted(judgement),
                    pl.lit(f" not in {list(filters.judgements)}"),
                ),
            )
        )
    if filters.min_pass_rate is not None:
        pass_rate = pl.col("pass_rate")
        if not filters.keep_unverified:
            checks.append((pass_rate.is_null(), pl.lit("no pass_rate (unverified)")))
        checks.append(
            (
                (pass_rate < filters.min_pass_rate).fill_null(False),
                pl.concat_str(
                    pl.lit("pass_rate "),
                    pass_rate.cast(pl.String),
                    pl.lit(f" < {filters.min_pass_rate}"),
                ),
            )
        )
    for column, why in kind.required.items():
        checks.append((~_filled_expr(column), pl.lit(why)))
    checks.append(
        (
            ~language.is_in(list(LANGUAGE_NAMES)).fill_null(False),
            pl.concat_str(pl.lit("unknown language "), _quoted(language)),
        )
    )
    condition, reason = checks[0]
    chain = pl.when(condition).then(reason)
    for condition, reason in checks[1:]:
        chain = chain.when(condition).then(reason)
    return chain.otherwise(pl.lit(None, pl.String))


GENERATION_REASON = "_generation_skip"
CRITIQUE_REASON = "_critique_skip"


def _with_reasons(
    export: pl.LazyFrame | pl.DataFrame, filters: ExampleFilters, columns: Iterable[str]
) -> pl.LazyFrame:
    """`columns` of the export (missing ones as null) and each kind's skip reason (null: kept)."""
    lazy = export.lazy()
    present = lazy.collect_schema()
    lazy = lazy.with_columns(
        pl.lit(None, dtype).alias(name)
        for name, dtype in EXPORT_COLUMNS.items()
        if name not in present
    ).with_columns(pl.col(name).cast(dtype) for name, dtype in EXPORT_COLUMNS.items())
    return lazy.select(
        *columns,
        skip_reason_expr(GENERATION_KIND, filters).alias(GENERATION_REASON),
        skip_reason_expr(CRITIQUE_KIND, filters).alias(CRITIQUE_REASON),
    )


@dataclass
class ExampleBatches:
    """Stage-1 and stage-2 examples as one-shot generators of polars frames (EXAMPLE_SCHEMA), and
    the rejects as a lazy frame (REJECT).

    Nothing is read before a generator is iterated or the frame collected or sunk, and each one
    scans the export on its own, so they can be saved one after the other in bounded memory.
    """

    stage1: Iterator[pl.DataFrame]
    stage2: Iterator[pl.DataFrame]
    rejects: pl.LazyFrame


def _unit_interval(seed: int, row_id: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, row id): a per-row draw that needs no global state."""
    digest = hashlib.blake2b(f"{seed}\0{row_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def critique_copies(row_id: str, seed: int, share: float | None) -> int:
    """How many times the critique example of `row_id` goes into stage 2.

    share: wanted critique examples / available ones (None: every one once). Below 1 a row is kept
    with that probability, above it each row is repeated int(share) times plus once more with the
    fractional part's probability: `share` copies per row in expectation.
    """
    if share is None:
        return 1
    whole, fraction = divmod(share, 1.0)
    return int(whole) + (_unit_interval(seed, row_id) < fraction)


def _frame(examples: list[dict[str, Any]]) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": [e["id"] for e in examples],
            "kind": [e["kind"] for e in examples],
            "language": [e["language"] for e in examples],
            "prompt": [json.dumps(e["prompt"], ensure_ascii=False) for e in examples],
            "completion": [json.dumps(e["completion"], ensure_ascii=False) for e in examples],
        },
        schema=EXAMPLE_SCHEMA,
    )


def examples_frame(examples: Iterable[Mapping[str, Any]]) -> pl.DataFrame:
    """Example dicts (prompt/completion as message lists) -> a frame of EXAMPLE_SCHEMA."""
    return _frame(list(examples))


def examples_from_frame(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """The inverse of `examples_frame` (small frames: tests, notebooks)."""
    return [
        {**row, "prompt": json.loads(row["prompt"]), "completion": json.loads(row["completion"])}
        for row in frame.to_dicts()
    ]


def eligible_counts(
    export: pl.LazyFrame | pl.DataFrame, filters: ExampleFilters | None = None
) -> dict[str, int]:
    """How many export rows give a generation example and how many a critique example."""
    counts = (
        _with_reasons(export, filters or ExampleFilters(), [])
        .select(
            pl.col(GENERATION_REASON).is_null().sum().alias(GENERATION),
            pl.col(CRITIQUE_REASON).is_null().sum().alias(CRITIQUE),
        )
        .collect(engine="streaming")
    )
    return {GENERATION: int(counts[GENERATION][0]), CRITIQUE: int(counts[CRITIQUE][0])}


def critique_share(counts: Mapping[str, int], critique_ratio: float | None) -> float | None:
    """Critique copies per available critique example in stage 2 (see `critique_copies`): None
    keeps each once; a ratio asks for round(ratio x generation examples) critique examples."""
    if critique_ratio is None:
        return None
    if critique_ratio < 0:
        raise ValueError(f"critique_ratio must be >= 0, got {critique_ratio}")
    available = counts[CRITIQUE]
    wanted = round(critique_ratio * counts[GENERATION])
    return wanted / available if available else 0.0


def _example_stream(
    export: pl.LazyFrame | pl.DataFrame,
    filters: ExampleFilters,
    system_prompt: str | None,
    with_critiques: bool,
    critique_ratio: float | None,
    seed: int,
    batch_rows: int,
) -> Iterator[pl.DataFrame]:
    """Generation examples of every kept row and, `with_critiques`, its critique example
    `critique_copies` times; one frame per export batch."""
    label = "stage-2" if with_critiques else "stage-1"
    share = None
    if with_critiques:
        counts = eligible_counts(export, filters)
        if not counts[CRITIQUE]:
            logger.warning(
                "no row of the export has a critique: stage 2 trains on generation examples only"
            )
        share = critique_share(counts, critique_ratio)
    generation_ok = pl.col(GENERATION_REASON).is_null()
    critique_ok = pl.col(CRITIQUE_REASON).is_null() & pl.lit(with_critiques)
    rows = _with_reasons(export, filters, list(EXPORT_COLUMNS)).filter(generation_ok | critique_ok)
    written = {GENERATION: 0, CRITIQUE: 0}
    yielded = False
    for batch in rows.collect_batches(chunk_size=batch_rows):
        examples = []
        for row in batch.iter_rows(named=True):
            if row[GENERATION_REASON] is None:
                examples.append(make_example(row, GENERATION_KIND, system_prompt))
            if with_critiques and row[CRITIQUE_REASON] is None:
                copies = critique_copies(str(row["id"]), seed, share)
                examples.extend([make_example(row, CRITIQUE_KIND, system_prompt)] * copies)
        for example in examples:
            written[example["kind"]] += 1
        if examples:
            yielded = True
            yield _frame(examples)
    if not yielded:
        yield pl.DataFrame(schema=EXAMPLE_SCHEMA)  # the table keeps its columns
    logger.info(
        "%s examples: %d generation, %d critique", label, written[GENERATION], written[CRITIQUE]
    )


def _rejects(export: pl.LazyFrame | pl.DataFrame, filters: ExampleFilters) -> pl.LazyFrame:
    reasons = _with_reasons(export, filters, ["id"])
    parts = [
        reasons.filter(pl.col(column).is_not_null()).select(
            pl.lit("training").alias("stage"),
            pl.lit(kind).alias("source"),
            pl.col("id").alias("record_id"),
            pl.col(column).str.extract(r"^([^ ]*)", 1).alias("reason"),
            pl.col(column).alias("detail"),
        )
        for kind, column in ((GENERATION, GENERATION_REASON), (CRITIQUE, CRITIQUE_REASON))
    ]
    return pl.concat(parts).cast(dict(REJECT))


def build_examples(
    export: pl.LazyFrame | pl.DataFrame,
    filters: ExampleFilters | Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
    critique_ratio: float | None = None,
    seed: int = 0,
    batch_rows: int = DEFAULT_BATCH_ROWS,
) -> ExampleBatches:
    """Stage-1 examples, stage-2 examples and rejects of an export, streamed.

    Stage 1: a generation example per kept row. Stage 2: the same generation examples, and each row's
    critique example `critique_copies` times: every critique once when `critique_ratio` is None (the
    paper's joint SFT), else about round(ratio x generation examples) in all, chosen per row by a
    hash of (seed, id), so the selection streams and is the same on every run. Rows stay in export
    order (the trainer samples them at random). Rejects: one REJECT row per (row, kind) skipped,
    the generation ones first.
    """
    if not isinstance(filters, ExampleFilters):
        filters = ExampleFilters.from_dict(filters)
    if critique_ratio is not None and critique_ratio < 0:
        raise ValueError(f"critique_ratio must be >= 0, got {critique_ratio}")
    return ExampleBatches(
        stage1=_example_stream(export, filters, system_prompt, False, None, seed, batch_rows),
        stage2=_example_stream(
            export, filters, system_prompt, True, critique_ratio, seed, batch_rows
        ),
        rejects=_rejects(export, filters),
    )
