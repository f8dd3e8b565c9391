from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro import schemas
from ocr2_kedro.generation.prompts import solution_prompt
from ocr2_kedro.pipelines.dataset.nodes import build_export
from ocr2_kedro.pipelines.generation.nodes import build_generation_requests
from ocr2_kedro.schemas import PROBLEM, VERIFICATION, conform
from ocr2_kedro.training import (
    CRITIQUE,
    GENERATION,
    ExampleFilters,
    build_critique_examples,
    build_generation_examples,
    mix_stage2,
)


def test_default_filters_keep_every_row_for_stage1(export_rows):
    result = build_generation_examples(export_rows)
    assert [e["id"] for e in result.examples] == ["g1", "g2", "g3", "g4"]
    assert result.skipped == []
    example = result.examples[0]
    assert example["kind"] == GENERATION
    assert [m["role"] for m in example["prompt"]] == ["user"]
    assert export_rows[0]["question"] in example["prompt"][0]["content"]
    # The target is the teacher's whole output: reasoning and solution.
    assert example["completion"] == [
        {"role": "assistant", "content": export_rows[0]["r1_generation"].strip()}
    ]
    assert "C++17" in result.examples[2]["prompt"][0]["content"]


def test_system_prompt_is_prepended(export_rows):
    example = build_generation_examples(export_rows, system_prompt="Be terse.").examples[0]
    assert example["prompt"][0] == {"role": "system", "content": "Be terse."}


def test_critique_examples_only_from_rows_with_a_critique(export_rows):
    result = build_critique_examples(export_rows)
    assert [e["id"] for e in result.examples] == ["g1", "g2"]
    assert {s["id"]: s["reason"] for s in result.skipped} == {
        "g3": "no critique",
        "g4": "no critique",
    }
    right, wrong = result.examples
    assert right["kind"] == CRITIQUE
    assert export_rows[0]["solution"].strip() in right["prompt"][-1]["content"]
    # A critique that already states its judgement is kept as written.
    assert right["completion"][0]["content"].endswith("Judgement: right")
    # One that does not gets the export's judgement appended.
    assert wrong["completion"][0]["content"] == "It reverses nothing.\n\nJudgement: wrong"


@pytest.mark.parametrize(
    ("filters", "kept"),
    [
        ({"judgements": ["right"]}, ["g1"]),
        ({"judgements": ["right", "none"]}, ["g1", "g3", "g4"]),
        ({"min_pass_rate": 1.0}, ["g1", "g3"]),
        ({"min_pass_rate": 0.5, "keep_unverified": False}, ["g1", "g4"]),
        ({"languages": ["cpp"]}, ["g3"]),
    ],
)
def test_filters(export_rows, filters, kept):
    result = build_generation_examples(export_rows, ExampleFilters.from_dict(filters))
    assert [e["id"] for e in result.examples] == kept
    assert len(result.skipped) == len(export_rows) - len(kept)
    assert all(s["reason"] for s in result.skipped)


def test_unknown_filter_is_an_error():
    with pytest.raises(ValueError, match="unknown example filters"):
        ExampleFilters.from_dict({"min_passrate": 1.0})


def test_stage2_mix_ratio(export_rows):
    generation = build_generation_examples(export_rows).examples  # 4
    critiques = build_critique_examples(export_rows).examples  # 2
    everything = mix_stage2(generation, critiques, None, seed=1)
    assert sorted(e["kind"] for e in everything) == [CRITIQUE] * 2 + [GENERATION] * 4
    half = mix_stage2(generation, critiques, 0.25, seed=1)  # 1 critique per 4 generations
    assert sum(e["kind"] == CRITIQUE for e in half) == 1
    upsampled = mix_stage2(generation, critiques, 1.0, seed=1)  # 4 critiques from 2: each twice
    ids = sorted(e["id"] for e in upsampled if e["kind"] == CRITIQUE)
    assert ids == ["g1", "g1", "g2", "g2"]
    assert mix_stage2(generation, critiques, 0.0, seed=1) != []
    assert mix_stage2(generation, [], 1.0) and all(
        e["kind"] == GENERATION for e in mix_stage2(generation, [], 1.0)
    )
    assert mix_stage2(generation, critiques, 1.0, seed=1) == upsampled  # deterministic


@pytest.mark.parametrize("language", ["python", "cpp"])
@pytest.mark.parametrize("test_type", ["functional", "stdin"])
def test_stage1_user_message_is_the_prompt_the_teacher_answered(language, test_type):
    """Through the real nodes: generation request -> export -> stage-1 example."""
    functional = test_type == "functional"
    problems = conform(
        [
            {
                "question_id": "q1",
                "source": "livecodebench",
                "source_id": "1",
                "split": "train",
                "question": "Return the sum of nums.",
                "test_type": test_type,
                "starter_code": "class Solution:\n    def total(self, nums):\n"
                if functional
                else "",
                "fn_name": "total" if functional else None,
            }
        ],
        PROBLEM,
    )
    params = {
        "languages": [language],
        "samples_per_question": 1,
        "sampling": {"seed": 0},
        "model": "teacher",
    }
    requests, _ = build_generation_requests(problems, language, params)
    generations = conform(
        [
            {
                "generation_id": requests["generation_id"][0],
                "question_id": "q1",
                "language": language,
                "prompt": requests["prompt"][0],
                "output": "<think>sum</think>\n```\nprint(1)\n```",
                "solution": "print(1)",
                "flags": [],
            }
        ],
        schemas.GENERATION,
    )
    export = build_export(
        problems,
        generations,
        pl.DataFrame(schema=schemas.CRITIQUE),
        pl.DataFrame(schema=VERIFICATION),
    )
    (example,) = build_generation_examples(export.to_dicts()).examples
    assert example["prompt"] == [{"role": "user", "content": requests["prompt"][0]}]
    assert example["prompt"][0]["content"] == solution_prompt(
        "Return the sum of nums.",
        language,
        test_type,
        problems["starter_code"][0],
        problems["fn_name"][0],
    )
    if functional:
        # The parts the old stage-1 prompt dropped: the call-based I/O rule (and starter code, or
        # the C++ JSON convention).
        assert "`total`" in example["prompt"][0]["content"]
        expected = "Starter code" if language == "python" else "JSON array of the arguments"
        assert expected in example["prompt"][0]["content"]
