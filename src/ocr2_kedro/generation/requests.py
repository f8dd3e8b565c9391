"""The one request builder: the chat requests every job sends a model, each with the fingerprint of
exactly what it asks and the id made from it, so a changed prompt, setting or seed is asked afresh
and an unchanged one resumes from its shard. Kedro-free.

Solutions (generation; evaluation's samples), n samples per problem x language. The prompts are
built once per question and expanded into samples lazily, so millions of samples never repeat the
prompt text in memory:

    prompts = solution_prompts(problems, ["python"], model=model, sampling=sampling,
                               system_prompt=None, count_tokens=counter.count)   # one row each
    requests = solution_requests(prompts, samples=32, base_seed=1234)           # a LazyFrame
    # evaluation: its ids are scoped by model and temperature, under its own column name
    requests = solution_requests(prompts, samples=n, base_seed=seed, id_column="sample_id",
                                 id_scope=("evaluation", model_path), temperature=0.6)
    chat = chat_request(row["generation_id"], row["prompt"], row["seed"], system_prompt)

Critiques (the critique pipeline: subject = generation_id, seed = critique sampling's seed;
evaluation's self-critique: subject = sample_id, seed = the sample's seed):

    built = critique_request(subject_id, question, language, solution, seed=seed, model=model,
                             sampling=sampling, system_prompt=system_prompt)
    built.request, built.fingerprint, built.prompt

Reasoning-pattern labelling (the classifier reads one trace, cut to `max_chars`):

    request, omitted = pattern_request(generation_id, trace, definitions, max_chars=600, seed=0)
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

import polars as pl

from ocr2_kedro.generation.base import ChatRequest, SamplingConfig
from ocr2_kedro.generation.prompts import (
    critique_prompt,
    pattern_prompt,
    solution_prompt,
    truncate_middle,
)
from ocr2_kedro.generation.resumable import (
    fingerprint_request,
    prompt_fingerprint,
    request_fingerprint,
)
from ocr2_kedro.schemas import stable_id

PROMPT_SCHEMA = pl.Schema(
    {
        "question_id": pl.String,
        "language": pl.String,
        "prompt": pl.String,
        "prompt_tokens": pl.Int64,  # null without a token counter
        # Of everything asked but the seed (model, messages, sampling): see request_fingerprint.
        "prompt_fingerprint": pl.String,
    }
)


def chat_request(
    request_id: str, prompt: str, seed: int | None, system_prompt: str | None = None
) -> ChatRequest:
    """A single-turn chat, with the run's system prompt when it has one."""
    system = ({"role": "system", "content": system_prompt},) if system_prompt else ()
    return ChatRequest(request_id, (*system, {"role": "user", "content": prompt}), seed)


# ------------------------------------------------------------------------------------ solutions


def grader_headers(grader_files: Sequence[Mapping] | None) -> list[str]:
    """The headers among a problem's grader files (IOI: the task's `<task>.h`), which a solution
    includes; empty for a problem without a grader."""
    return [entry["name"] for entry in grader_files or () if entry["name"].endswith((".h", ".hpp"))]


def solution_prompts(
    problems: pl.DataFrame | Iterable[Mapping],
    languages: Sequence[str],
    *,
    model: str,
    sampling: SamplingConfig,
    system_prompt: str | None,
    count_tokens: Callable[[str], int] | None = None,
) -> pl.DataFrame:
    """One solution prompt per problem and language (problem-major: every language of a problem,
    then the next problem), with its token count (when `count_tokens` is given) and its
    `prompt_fingerprint`. `problems` rows hold question_id, question, test_type, starter_code and
    fn_name."""
    rows = problems.iter_rows(named=True) if isinstance(problems, pl.DataFrame) else problems
    prompts = []
    for problem in rows:
        for language in languages:
            prompt = solution_prompt(
                problem["question"],
                language,
                problem["test_type"],
                problem["starter_code"] or "",
                problem["fn_name"],
                grader_headers=grader_headers(problem.get("grader_files")),
            )
            messages = chat_request("", prompt, None, system_prompt).messages
            prompts.append(
                {
                    "question_id": problem["question_id"],
                    "language": language,
                    "prompt": prompt,
                    "prompt_tokens": count_tokens(prompt) if count_tokens else None,
                    "prompt_fingerprint": prompt_fingerprint(model, messages, sampling),
                }
            )
    return pl.DataFrame(prompts, schema=PROMPT_SCHEMA)


def solution_sample_id(
    question_id: str,
    language: str,
    sample_idx: int,
    fingerprint: str,
    *,
    id_scope: Sequence[object] = (),
    temperature: float | None = None,
) -> str:
    """A sample's id: stable_id(*id_scope, question_id, language, [temperature,] sample_idx,
    fingerprint). Generation: no scope, no temperature; evaluation: ("evaluation", model_path)
    and the sampling temperature."""
    middle = () if temperature is None else (temperature,)
    return stable_id(*id_scope, question_id, language, *middle, sample_idx, fingerprint)


def solution_requests(
    prompts: pl.DataFrame | pl.LazyFrame,
    *,
    samples: int,
    base_seed: int,
    id_column: str = "generation_id",
    id_scope: Sequence[object] = (),
    temperature: float | None = None,
) -> pl.LazyFrame:
    """`prompts` (`solution_prompts`) expanded lazily into `samples` requests each, in order:
    <id_column>, question_id, language, sample_idx, seed (base_seed + sample_idx: every sample is
    reproducible), prompt, prompt_tokens, request_fingerprint. Consumers stream it; the prompt text
    is never repeated per sample until a chunk is collected."""
    ids = functools.partial(
        _sample_ids, id_scope=tuple(id_scope), temperature=temperature, id_column=id_column
    )
    return (
        prompts.lazy()
        .with_columns(sample_idx=pl.int_ranges(0, samples))
        .explode("sample_idx")
        .with_columns(
            sample_idx=pl.col("sample_idx").cast(pl.Int64),
            seed=pl.col("sample_idx").cast(pl.Int64) + base_seed,
        )
        .with_columns(
            ids=pl.struct(
                "question_id", "language", "sample_idx", "seed", "prompt_fingerprint"
            ).map_batches(
                ids,
                return_dtype=pl.Struct({"request_fingerprint": pl.String, id_column: pl.String}),
                is_elementwise=True,
            ),
        )
        .unnest("ids")
        .select(
            id_column,
            "question_id",
            "language",
            "sample_idx",
            "seed",
            "prompt",
            "prompt_tokens",
            "request_fingerprint",
        )
    )


def _sample_ids(
    keys: pl.Series, id_scope: tuple, temperature: float | None, id_column: str
) -> pl.Series:
    """(request_fingerprint, id) of each sample: the fingerprint of its exact request (its
    prompt's fingerprint and its seed) and the id made from it (`solution_sample_id`)."""
    keys = keys.struct.unnest()
    # Once per sample (millions at paper scale): plain lists, no per-row frame access.
    fingerprints = [
        request_fingerprint(prompt, seed)
        for prompt, seed in zip(
            keys["prompt_fingerprint"].to_list(), keys["seed"].to_list(), strict=True
        )
    ]
    sample_ids = [
        solution_sample_id(
            question_id,
            language,
            sample_idx,
            fingerprint,
            id_scope=id_scope,
            temperature=temperature,
        )
        for question_id, language, sample_idx, fingerprint in zip(
            keys["question_id"].to_list(),
            keys["language"].to_list(),
            keys["sample_idx"].to_list(),
            fingerprints,
            strict=True,
        )
    ]
    return pl.DataFrame(
        {"request_fingerprint": fingerprints, id_column: sample_ids},
        schema={"request_fingerprint": pl.String, id_column: pl.String},
    ).to_struct("ids")


# ------------------------------------------------------------------------------------ critiques


@dataclass(frozen=True)
class BuiltRequest:
    """A request with the prompt it asks and the fingerprint of the exact request (its id is made
    from that fingerprint)."""

    request: ChatRequest
    prompt: str
    fingerprint: str


def critique_request(
    subject_id: str,
    question: str,
    language: str,
    solution: str,
    *,
    seed: int,
    model: str,
    sampling: SamplingConfig,
    system_prompt: str | None,
) -> BuiltRequest:
    """The critic's request about one candidate solution. Its id, stable_id(subject_id,
    fingerprint), changes with the critic, the system prompt, the prompt (question and solution),
    the sampling and the seed."""
    prompt = critique_prompt(question, language, solution)
    fingerprint = fingerprint_request(
        model, chat_request("", prompt, seed, system_prompt), sampling
    )
    request = chat_request(stable_id(subject_id, fingerprint), prompt, seed, system_prompt)
    return BuiltRequest(request, prompt, fingerprint)


# --------------------------------------------------------------------------- pattern labelling


def pattern_request(
    generation_id: str,
    trace: str,
    definitions: Sequence[tuple[str, str]],
    *,
    max_chars: int | None,
    seed: int,
    system_prompt: str | None = None,
) -> tuple[ChatRequest, int]:
    """The classifier's request for one trace (`definitions`: (behaviour, definition) pairs), and
    how many characters were cut from the middle of the trace. The id fingerprints the trace as
    sent, so a changed trace is classified again; the model, sampling and prompt key the shard
    folder (`pattern_prompt_key`)."""
    shown, omitted = truncate_middle(trace, max_chars)
    prompt = pattern_prompt(shown, definitions)
    return chat_request(stable_id(generation_id, shown), prompt, seed, system_prompt), omitted


def pattern_prompt_key(definitions: Sequence[tuple[str, str]], max_chars: int | None) -> str:
    """What shapes a classification besides the model and sampling (a shard folder key part)."""
    return stable_id(pattern_prompt("{trace}", definitions), max_chars)
