"""GenSelect (generative selection, as NeMo-Skills runs it): the model under evaluation reads k of
its own candidate solutions to a problem, code only (no reasoning), and names the one it thinks is
right. Beside the self-critique selector (which judges each candidate alone), it is evaluated on
seeded k-subsets of the same samples (`metrics.selection`).

- `draw_subsets`: the k-subsets of one unit's n samples (problem, language, temperature), distinct
  and seeded by the unit's key, so every run and machine draws the same ones whatever the order of
  the units; all C(n, k) of them when no more are asked for.
- `genselect_prompt` / `genselect_request`: the question and the k candidates numbered 1..k, each
  one fenced code block; the answer ends with `Best solution: <number>`. The request's id is made
  from the fingerprint of the exact request (model, system prompt, prompt, sampling, seed), as every
  request of the project (`generation.requests`), so a changed candidate, prompt or setting is asked
  afresh and an unchanged one resumes from its shard.
- `parse_choice`: the number named, robustly (`Best solution: 2`, `**Best solution:** [3]`,
  `Judgment: 2`, `\\boxed{2}`, "I choose solution 3"); the last statement wins; a number outside
  1..k or none at all is unparsed (the caller applies its fallback and counts it).

Kedro-free.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import numpy as np
import polars as pl

from ocr2_kedro.generation.base import SamplingConfig
from ocr2_kedro.generation.critique import BackendOpener
from ocr2_kedro.generation.prompts import FENCE_TAGS, LANGUAGE_NAMES
from ocr2_kedro.generation.requests import BuiltRequest, chat_request
from ocr2_kedro.generation.resumable import fingerprint_request, generate_resumable
from ocr2_kedro.metrics.selection import GENSELECT
from ocr2_kedro.schemas import conform, seeded_first, stable_id

logger = logging.getLogger(__name__)

# How a subset's pick was made (the `status` of a GenSelect row).
PARSED = "parsed"  # the model named a candidate
UNPARSED = "unparsed"  # no number, or one outside 1..k: the fallback decides
SINGLE = "single_candidate"  # at most one candidate has code: nothing to ask, no request sent
STATUSES = (PARSED, UNPARSED, SINGLE)

ANSWER_LINE = "Best solution: <number>"
NO_CODE = "(this candidate wrote no code)"


def genselect_prompt(
    question: str, language: str, solutions: Sequence[str | None], starter_code: str = ""
) -> str:
    """Ask the model to pick the right one of `solutions` (code only; None: a sample without code).
    `starter_code`: the signature a call-based problem's solution completes (HumanEval), shown
    after the statement as the solution prompt shows it."""
    if language not in LANGUAGE_NAMES:
        raise ValueError(f"language must be one of {sorted(LANGUAGE_NAMES)}, got {language!r}")
    if len(solutions) < 2:
        raise ValueError(f"GenSelect needs at least 2 candidates, got {len(solutions)}")
    name, tag = LANGUAGE_NAMES[language], FENCE_TAGS[language]
    candidates = "\n\n".join(
        f"Solution {number}:\n"
        + (f"```{tag}\n{code.rstrip()}\n```" if code and code.strip() else NO_CODE)
        for number, code in enumerate(solutions, start=1)
    )
    return (
        f"Below are a competitive programming problem and {len(solutions)} candidate solutions "
        f"in {name}, numbered 1 to {len(solutions)}; any number of them may be correct.\n\n"
        f"Problem:\n{question.strip()}\n\n"
        + (f"Starter code:\n```{tag}\n{starter_code.rstrip()}\n```\n\n" if starter_code else "")
        + f"{candidates}\n\n"
        "Compare the candidates: check each one's algorithm against the problem, its edge cases, "
        "input/output format and complexity, and rule out the wrong ones. Then pick the one most "
        "likely to pass every test.\n"
        f"End your answer with one line: `{ANSWER_LINE}` (a number from 1 to {len(solutions)})."
    )


def genselect_request(
    subject_id: str,
    question: str,
    language: str,
    solutions: Sequence[str | None],
    *,
    starter_code: str = "",
    seed: int,
    model: str,
    sampling: SamplingConfig,
    system_prompt: str | None,
) -> BuiltRequest:
    """The GenSelect request of one subset (`subject_id` names it: its unit and its samples). Its
    id, stable_id(subject_id, fingerprint), changes with the model, the system prompt, the prompt
    (question, candidates and their order), the sampling and the seed."""
    prompt = genselect_prompt(question, language, solutions, starter_code)
    fingerprint = fingerprint_request(
        model, chat_request("", prompt, seed, system_prompt), sampling
    )
    request = chat_request(stable_id(subject_id, fingerprint), prompt, seed, system_prompt)
    return BuiltRequest(request, prompt, fingerprint)


# ------------------------------------------------------------------------------------ subsets


def draw_subsets(n: int, k: int, count: int, seed: int, *key: object) -> list[tuple[int, ...]]:
    """`count` distinct k-subsets of range(n), each sorted, seeded by (seed, *key): the same
    subsets on every run and machine for the same unit, independent of the other units. When
    `count` reaches C(n, k), every subset, in lexicographic order (nothing left to draw)."""
    if not 1 <= k <= n:
        raise ValueError(f"subsets need 1 <= k <= n, got k={k}, n={n}")
    if count < 1:
        raise ValueError(f"count must be >= 1, got {count}")
    total = math.comb(n, k)
    if count >= total:
        return list(combinations(range(n), k))
    rng = np.random.Generator(np.random.PCG64(int(stable_id(seed, *key), 16)))
    drawn: list[tuple[int, ...]] = []
    seen: set[tuple[int, ...]] = set()
    while len(drawn) < count:
        subset = tuple(sorted(int(i) for i in rng.choice(n, size=k, replace=False)))
        if subset not in seen:
            seen.add(subset)
            drawn.append(subset)
    return drawn


def subset_seed(seed: int, subset: Sequence[object]) -> int:
    """The sampling seed of one subset's request: from `seed` and the subset itself (its sample
    ids), not from its position among the draws, so asking for more subsets later keeps every
    request already answered (same subset, same request, resumed from its shard)."""
    return int(seed) + int(stable_id("subset", *subset), 16) % 1_000_003


# ------------------------------------------------------------------------------------ parsing


@dataclass(frozen=True)
class Choice:
    """The candidate a GenSelect answer names: `index` 0-based in the order shown (None when
    unparsed), `number` the number as written (None when there was none), `status` PARSED or
    UNPARSED."""

    index: int | None
    number: int | None
    status: str


ORDINALS = (
    "first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
    "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth", "sixteenth",
)  # fmt: skip
_ORDINAL = "|".join(ORDINALS)
# A number ("2", "#2", "Solution 2", "[2]") or an ordinal ("the second one", "the first solution").
_NUMBER = (
    r"[\s*_`'\"(\[#:=-]*(?:(?:solution|candidate)?\s*#?\s*(\d+)"
    rf"|(?:the\s+)?({_ORDINAL})\b(?:\s+(?:one|solution|candidate))?)"
)
# Explicit answer lines, strongest first; within a pattern the last occurrence wins.
_EXPLICIT = (
    re.compile(
        r"best\s+(?:solution|candidate)\s*(?:is|=|:)?"
        r"(?:\s+(?:indeed|clearly|probably|definitely|likely))?" + _NUMBER,
        re.IGNORECASE,
    ),
    re.compile(r"judge?ment\s*:" + _NUMBER, re.IGNORECASE),
    re.compile(r"\\boxed\{\s*(?:solution\s*)?(\d+)\s*\}()", re.IGNORECASE),
)
# A sentence that states a pick: "the answer is solution 3", "I choose solution 2".
_STATED = re.compile(
    r"\b(?:answer|choose|chose|choice|pick|picked|select|selected|correct one)\b[^.\n]{0,40}?"
    rf"\b(?:(?:solution|candidate)\s*#?\s*(\d+)|the\s+({_ORDINAL})\s+(?:one|solution|candidate))",
    re.IGNORECASE,
)


def parse_choice(text: str | None, k: int) -> Choice:
    """The candidate (1..k as numbered in the prompt) a GenSelect answer names. Tried in turn:
    `Best solution: N` (any case, markdown around it), `Judgment: N` (NeMo-Skills' form),
    `\\boxed{N}`, then a sentence stating a pick ("the answer is solution N"); N may be an ordinal
    ("The best solution is the first one", as small models write it). The last occurrence of the
    first form found decides. A number outside 1..k, or no number, is UNPARSED."""
    text = text or ""
    for pattern in (*_EXPLICIT, _STATED):
        found = pattern.findall(text)
        if found:
            digits, ordinal = found[-1]
            number = int(digits) if digits else ORDINALS.index(ordinal.lower()) + 1
            if 1 <= number <= k:
                return Choice(number - 1, number, PARSED)
            return Choice(None, number, UNPARSED)
    return Choice(None, None, UNPARSED)


def genselect_problems(
    samples: pl.DataFrame, per_language: int | None, seed: int
) -> set[tuple[str, str]]:
    """The (problem, language) pairs GenSelect runs on: per language, the `per_language` problems
    whose hash of (seed, question_id) ranks first (every problem when None), so every model and
    run select on the same problems."""
    pairs = samples.select("question_id", "language").unique()
    if per_language is None:
        return set(pairs.iter_rows())
    chosen: set[tuple[str, str]] = set()
    for (language,), group in pairs.group_by("language"):
        chosen |= {
            (question_id, language)
            for question_id in seeded_first(group["question_id"], per_language, seed)
        }
    return chosen


def selection_subject(row: Mapping) -> str:
    """What a GenSelect request is about: its unit, k and the samples shown, in order."""
    return stable_id("genselect", row["question_id"], row["language"], *row["sample_ids"])


def pick_candidates(
    samples: pl.DataFrame,
    problems: pl.DataFrame,
    *,
    model_name: str,
    model_path: str,
    ks: Sequence[int],
    subsets: int,
    seed: int,
    problems_per_language: int | None,
    sampling: SamplingConfig,
    sampling_seed: int,
    system_prompt: str | None,
    backend: BackendOpener,
    shard_dir: Path,
    chunk_size: int,
    fallback: str,
) -> pl.DataFrame:
    """GenSelect's pick in each drawn k-subset of every unit's samples (one row per subset,
    `metrics.selection.GENSELECT`): the subsets are seeded by (seed, question, language,
    temperature, k), so every model is shown the same sample indices; a subset with at most one
    candidate with code needs no request. Requests resume from `shard_dir` (ids from the exact
    request's fingerprint). `samples`: the evaluation samples (question_id, language, temperature,
    sample_idx, sample_id, solution); `problems`: their statements (question, test_type,
    starter_code). `fallback` is only reported here: the scorer applies it."""
    statements = {
        row["question_id"]: row
        for row in problems.select(
            "question_id", "question", "test_type", "starter_code"
        ).iter_rows(named=True)
    }
    rows: list[dict] = []
    built = []
    chosen = genselect_problems(samples, problems_per_language, seed)
    for (question_id, language, temperature), unit in samples.sort("sample_idx").group_by(
        ["question_id", "language", "temperature"], maintain_order=True
    ):
        if (question_id, language) not in chosen:
            continue
        idxs, ids, codes = (unit[c].to_list() for c in ("sample_idx", "sample_id", "solution"))
        for k in ks:
            if k > len(idxs):
                continue
            for subset_idx, subset in enumerate(
                draw_subsets(len(idxs), k, subsets, seed, question_id, language, temperature, k)
            ):
                shown = [codes[i] for i in subset]
                row = {
                    "model": model_name,
                    "question_id": question_id,
                    "language": language,
                    "temperature": temperature,
                    "k": k,
                    "subset_idx": subset_idx,
                    "sample_idxs": [idxs[i] for i in subset],
                    "sample_ids": [ids[i] for i in subset],
                    "num_output_tokens": 0,
                }
                coded = [position for position, code in enumerate(shown) if code]
                if len(coded) < 2:
                    # Nothing to compare: the one candidate with code, else none (all fail).
                    rows.append({**row, "status": SINGLE, "choice": coded[0] if coded else None})
                    continue
                problem = statements[question_id]
                request = genselect_request(
                    selection_subject(row),
                    problem["question"],
                    language,
                    shown,
                    # Python completes a call-based problem's signature; C++ reads JSON on stdin.
                    starter_code=(problem["starter_code"] or "")
                    if problem["test_type"] == "functional" and language == "python"
                    else "",
                    seed=subset_seed(sampling_seed, row["sample_ids"]),
                    model=model_path,
                    sampling=sampling,
                    system_prompt=system_prompt,
                )
                built.append((len(rows), request))
                rows.append({**row, "request_fingerprint": request.fingerprint})
    completions = generate_resumable(
        [request.request for _, request in built],
        sampling,
        backend,
        shard_dir=shard_dir,
        chunk_size=chunk_size,
        description=f"{model_name} genselect",
    )
    for (position, _), completion in zip(built, completions, strict=True):
        row = rows[position]
        choice = parse_choice(completion.text, row["k"])
        row.update(
            status=choice.status,
            choice=choice.index,
            chosen_number=choice.number,
            output=completion.text,
            finish_reason=completion.finish_reason,
            num_output_tokens=completion.num_output_tokens,
        )
        if choice.status != PARSED:
            logger.debug("genselect: no candidate named in %r", completion.text[-200:])
    for row in rows:
        if row.get("choice") is not None:
            row["chosen_sample_idx"] = row["sample_idxs"][row["choice"]]
    if not rows:
        return pl.DataFrame(schema=GENSELECT)
    unparsed = sum(row["status"] == UNPARSED for row in rows)
    # A failed request (a prompt of k long candidates over the model's context, a server error)
    # names no candidate either: the fallback picks, and the next run asks again.
    failed = sum(row.get("finish_reason") == "error" for row in rows)
    logger.info(
        "%s genselect: %d subsets, %d requests, %d answers named no candidate, %d of them failed "
        "requests (fallback: %s)",
        model_name,
        len(rows),
        len(built),
        unparsed,
        failed,
        fallback,
    )
    return conform(rows, GENSELECT)


__all__ = [
    "ANSWER_LINE",
    "PARSED",
    "SINGLE",
    "STATUSES",
    "UNPARSED",
    "Choice",
    "draw_subsets",
    "genselect_problems",
    "genselect_prompt",
    "genselect_request",
    "parse_choice",
    "pick_candidates",
    "selection_subject",
    "subset_seed",
]
