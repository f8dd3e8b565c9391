"""Labelling traces with reasoning behaviours by both methods: the lexical markers
(`behaviours.lexical_labels`) and a classifier model (the critic) that reads the trace, cut to
`max_chars` (head + tail), and answers one strict `name: yes|no` line per behaviour
(`generation.prompts.pattern_prompt`, requests from `generation.requests.pattern_request`). An
answer line that is missing or unreadable is *unparsed*: counted and reported, never a "no".

The classifier's answers are stored shard by shard like every generation job, so a rerun sends only
the missing classifications. Kedro-free.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack

import polars as pl

from ocr2_kedro.generation.base import ChatRequest, GenerationBackend, SamplingConfig
from ocr2_kedro.generation.requests import pattern_prompt_key, pattern_request
from ocr2_kedro.generation.resumable import (
    Completions,
    LazyBackend,
    ShardReport,
    ShardStore,
    read_completions,
    run_shards,
)
from ocr2_kedro.parsing import split_reasoning
from ocr2_kedro.patterns.behaviours import (
    BEHAVIOURS,
    Behaviour,
    definitions,
    lexical_labels,
    word_count,
)


def labels_schema(behaviours: Sequence[Behaviour] = BEHAVIOURS) -> pl.Schema:
    """Columns of one labelled trace (`label_traces`)."""
    columns: dict[str, pl.DataType] = {
        "generation_id": pl.String,
        "trace_field": pl.String,  # "reasoning", or "output" when the sample has no reasoning
        "trace_chars": pl.Int64,
        "trace_words": pl.Int64,
        "truncated_chars": pl.Int64,  # characters cut from the middle of the classifier's copy
    }
    for b in behaviours:
        columns[f"lexical_{b.name}"] = pl.Boolean
        columns[f"lexical_{b.name}_per_1k"] = pl.Float64
    for b in behaviours:
        columns[f"llm_{b.name}"] = pl.Boolean  # null: the classifier's answer did not say
    columns |= {
        "llm_unparsed": pl.Int64,
        "llm_answer": pl.String,
        "llm_finish_reason": pl.String,
        "llm_error": pl.String,
    }
    return pl.Schema(columns)


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


_ANSWER_LINE = re.compile(
    r"^[\s\-*>#`+\d.)]*(?P<name>[a-z][a-z _\-]*?)[\s*`_\"']*[:=][\s*`_\"']*"
    r"(?P<value>yes|no|true|false)\b",
    re.IGNORECASE | re.MULTILINE,
)
_VALUES = {"yes": True, "true": True, "no": False, "false": False}


def parse_pattern_answer(
    text: str, behaviours: Sequence[Behaviour] = BEHAVIOURS
) -> dict[str, bool | None]:
    """Each behaviour's answer: True (yes), False (no) or None (unparsed: no line names it).

    A reasoning classifier's `<think>` part is skipped (it deliberates there); a cut-off answer with
    no closing tag parses as nothing. Lines may carry list marks, emphasis or `=`; the behaviour may
    be written with spaces or hyphens; the last line naming a behaviour wins (a model that corrects
    itself)."""
    _, answer, _ = split_reasoning(text or "")
    found: dict[str, bool] = {}
    for match in _ANSWER_LINE.finditer(answer):
        found[_key(match["name"])] = _VALUES[match["value"].lower()]
    return {b.name: found.get(b.name) for b in behaviours}


def prompt_key(behaviours: Sequence[Behaviour], max_chars: int | None) -> str:
    """What shapes a classification besides the model and sampling (a shard folder key part)."""
    return pattern_prompt_key(definitions(behaviours), max_chars)


BackendFactory = Callable[[], GenerationBackend | AbstractContextManager[GenerationBackend]]


def label_traces(
    chunks: Iterable[pl.DataFrame],
    sampling: SamplingConfig,
    backend: BackendFactory,
    *,
    shard_dir: str,
    chunk_size: int,
    max_chars: int | None,
    system_prompt: str | None = None,
    behaviours: Sequence[Behaviour] = BEHAVIOURS,
    total: int | None = None,
) -> tuple[pl.DataFrame, ShardReport]:
    """Label each trace of `chunks` (frames with generation_id, trace_field, trace; at most
    `chunk_size` rows each, the same chunks on every run) by both methods.

    The classifier's answers are stored shard by shard under `shard_dir` (`generation.resumable`):
    a rerun sends only the requests whose answers are missing, and the backend is opened only then.
    The traces pass through once; only the narrow labels are kept."""
    asked = definitions(behaviours)
    rows: list[dict] = []
    request_ids: list[list[str]] = []

    def requests() -> Iterator[list[ChatRequest]]:
        for chunk in chunks:
            batch = []
            for record in chunk.iter_rows(named=True):
                trace = record["trace"] or ""
                request, omitted = pattern_request(
                    record["generation_id"],
                    trace,
                    asked,
                    max_chars=max_chars,
                    seed=sampling.seed,
                    system_prompt=system_prompt,
                )
                batch.append(request)
                rows.append(
                    {
                        "generation_id": record["generation_id"],
                        "trace_field": record["trace_field"],
                        "trace_chars": len(trace),
                        "trace_words": word_count(trace),
                        "truncated_chars": omitted,
                        **lexical_labels(trace, behaviours),
                    }
                )
            request_ids.append([r.request_id for r in batch])
            yield batch

    with ExitStack() as stack:
        report = run_shards(
            requests(),
            Completions(ShardStore(shard_dir), sampling, LazyBackend(stack, backend)),
            shard_dir=shard_dir,
            chunk_size=chunk_size,
            total_requests=total,
            description="patterns",
        )
    store = ShardStore(shard_dir)
    answers = [
        completion
        for index, ids in enumerate(request_ids)
        for completion in read_completions(store, index, ids)
    ]
    for row, completion in zip(rows, answers, strict=True):
        failed = completion.finish_reason == "error"
        parsed = (
            dict.fromkeys((b.name for b in behaviours), None)
            if failed
            else parse_pattern_answer(completion.text, behaviours)
        )
        row.update({f"llm_{name}": value for name, value in parsed.items()})
        row["llm_unparsed"] = sum(value is None for value in parsed.values())
        row["llm_answer"] = completion.text
        row["llm_finish_reason"] = completion.finish_reason
        row["llm_error"] = completion.error
    return pl.DataFrame(rows, schema=labels_schema(behaviours)), report
