"""SFT examples from the OCR-2 export: stage 1 (code generation) and stage 2 (generation + critique).

An example is a prompt/completion pair of chat messages: `prompt` is what the student sees (an optional
system message and the user turn), `completion` the single assistant turn it learns to write. Rows are
plain dicts with the OCR-2 export columns, so a polars frame's `to_dicts()` or any JSONL file works.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ocr2_kedro.generation.prompts import LANGUAGE_NAMES, critique_prompt, solution_prompt

GENERATION = "generation"
CRITIQUE = "critique"


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


def _build_examples(
    rows: Iterable[Mapping[str, Any]],
    kind: str,
    required: dict[str, str],
    prompt: Callable[[Mapping[str, Any]], str],
    target: Callable[[Mapping[str, Any]], str],
    filters: ExampleFilters | None,
    system_prompt: str | None,
) -> ExampleSet:
    """Rows -> chat examples of one kind; a row that fails `filters` or lacks a `required` field
    (field -> skip reason) is listed in `skipped` with the reason."""
    filters = filters or ExampleFilters()
    result = ExampleSet([])
    for row in rows:
        row_id = str(row.get("id"))
        reason = filters.rejection(row) or next(
            (why for column, why in required.items() if not (row.get(column) or "").strip()), None
        )
        if reason is None and row.get("language") not in LANGUAGE_NAMES:
            reason = f"unknown language {row.get('language')!r}"
        if reason is not None:
            result.skipped.append({"id": row_id, "kind": kind, "reason": reason})
            continue
        result.examples.append(
            {
                "id": row_id,
                "kind": kind,
                "language": row["language"],
                "prompt": _messages(system_prompt, prompt(row)),
                "completion": [{"role": "assistant", "content": target(row)}],
            }
        )
    return result


def build_generation_examples(
    rows: Iterable[Mapping[str, Any]],
    filters: ExampleFilters | None = None,
    system_prompt: str | None = None,
) -> ExampleSet:
    """Stage 1: question -> the teacher's full output (reasoning in <think> and the solution)."""
    return _build_examples(
        rows,
        GENERATION,
        {"question": "empty question", "r1_generation": "empty r1_generation"},
        _generation_prompt_of,
        lambda row: row["r1_generation"].strip(),
        filters,
        system_prompt,
    )


def build_critique_examples(
    rows: Iterable[Mapping[str, Any]],
    filters: ExampleFilters | None = None,
    system_prompt: str | None = None,
) -> ExampleSet:
    """Critique examples: question + candidate solution -> critique reasoning + judgement.

    Built only from rows that have a critique and a solution; the others are listed in `skipped`.
    """
    return _build_examples(
        rows,
        CRITIQUE,
        {"qwq_critique": "no critique", "solution": "no solution to critique"},
        # The critique pipeline's own prompt: the student learns to critique as it will be asked to.
        lambda row: critique_prompt(row["question"], row["language"], row["solution"]),
        lambda row: _critique_target(row["qwq_critique"], row.get("judgement")),
        filters,
        system_prompt,
    )


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
