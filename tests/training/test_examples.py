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
    EXAMPLE_SCHEMA,
    GENERATION,
    ExampleFilters,
    build_critique_examples,
    build_examples,
    build_generation_examples,
    critique_copies,
    examples_from_frame,
    mix_stage2,
)
from ocr2_kedro.training.examples import CRITIQUE_KIND, GENERATION_KIND, skip_reason
from tests.support.parameters import stage_settings


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
    settings = stage_settings(
        "generation",
        {
            "languages": [language],
            "samples_per_question": 1,
            "sampling": {"seed": 0},
            "model": "teacher",
            "max_question_tokens": None,
        },
    )
    requests = build_generation_requests(problems, language, settings)[0].collect()
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
        stage_settings("dataset", {"export": {"work_dir": None}}).export,
    )
    if not isinstance(export, pl.DataFrame):  # the export node returns its batches
        export = pl.concat(list(export))
    (example,) = build_generation_examples(export.to_dicts()).examples
    # The streaming builder the training node uses gives the same example.
    assert examples_from_frame(pl.concat(list(build_examples(export.lazy()).stage1))) == [example]
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


# --- Streaming: build_examples over a scanned export ------------------------------------------


def _scanned(rows: list[dict], tmp_path) -> pl.LazyFrame:
    """The export as the catalog loads it: a parquet scan, here in row groups of 2 rows."""
    path = tmp_path / "export.parquet"
    pl.DataFrame(rows).write_parquet(path, row_group_size=2)
    return pl.scan_parquet(path)


def test_streamed_examples_equal_the_row_by_row_ones(export_rows, tmp_path):
    export = _scanned(export_rows, tmp_path)
    batches = build_examples(export, system_prompt="Be terse.", batch_rows=2)
    stage1 = pl.concat(list(batches.stage1))
    assert stage1.schema == EXAMPLE_SCHEMA
    assert (
        examples_from_frame(stage1)
        == build_generation_examples(export_rows, system_prompt="Be terse.").examples
    )
    stage2 = examples_from_frame(pl.concat(list(batches.stage2)))
    critiques = build_critique_examples(export_rows, system_prompt="Be terse.").examples
    key = lambda e: (e["kind"], e["id"])  # noqa: E731
    assert sorted(stage2, key=key) == sorted(examples_from_frame(stage1) + critiques, key=key)
    rejects = batches.rejects.collect()
    assert rejects.schema == schemas.REJECT
    assert rejects.select("source", "record_id", "detail").rows() == [
        ("critique", "g3", "no critique"),
        ("critique", "g4", "no critique"),
    ]
    assert rejects["reason"].to_list() == ["no", "no"]


@pytest.mark.parametrize(
    "filters",
    [
        {},
        {"judgements": ["right"]},
        {"judgements": ["right", "none"]},
        {"min_pass_rate": 1.0},
        {"min_pass_rate": 0.5, "keep_unverified": False},
        {"languages": ["cpp"]},
    ],
)
def test_vectorized_skip_reasons_match_the_row_level_ones(export_rows, filters):
    """The polars expressions the streaming path uses give the reasons `skip_reason` gives."""
    rows = [
        *export_rows,
        {**export_rows[0], "id": "blank", "question": "  \n", "solution": ""},
        {**export_rows[1], "id": "fortran", "language": "fortran"},
        {**export_rows[1], "id": "nolang", "language": None, "judgement": ""},
    ]
    parsed = ExampleFilters.from_dict(filters)
    expected = sorted(
        (kind.name, str(row["id"]), reason)
        for kind in (GENERATION_KIND, CRITIQUE_KIND)
        for row in rows
        if (reason := skip_reason(row, kind, parsed)) is not None
    )
    rejects = build_examples(pl.DataFrame(rows), filters).rejects.collect()
    assert sorted(rejects.select("source", "record_id", "detail").rows()) == expected
    assert rejects["reason"].to_list() == [d.split(" ", 1)[0] for d in rejects["detail"]]


def test_an_export_without_optional_columns_streams(export_rows):
    """An export written before the export carried test_type (and without critiques at all)."""
    export = pl.DataFrame(export_rows).drop("qwq_critique", "judgement")
    batches = build_examples(export.lazy())
    assert pl.concat(list(batches.stage1)).height == 4
    assert set(pl.concat(list(batches.stage2))["kind"]) == {GENERATION}
    assert batches.rejects.collect()["detail"].to_list() == ["no critique"] * 4


def _many_rows(count: int) -> list[dict]:
    from tests.training.conftest import export_row

    return [
        export_row(
            f"r{i}", "q1", critique="Fine." if i % 2 else None, judgement="right" if i % 2 else None
        )
        for i in range(count)
    ]


def _critique_ids(export: pl.DataFrame, ratio: float | None, seed: int) -> list[str]:
    stage2 = pl.concat(list(build_examples(export, critique_ratio=ratio, seed=seed).stage2))
    return stage2.filter(pl.col("kind") == CRITIQUE)["id"].to_list()


def test_stage2_selection_is_deterministic_and_close_to_the_ratio():
    export = pl.DataFrame(_many_rows(2_000))  # 2,000 generation examples, 1,000 with a critique
    assert len(_critique_ids(export, None, 0)) == 1_000
    # 0.25 x 2,000 = 500 wanted of 1,000: each kept with probability 1/2 (sd ~16).
    picked = _critique_ids(export, 0.25, seed=7)
    assert abs(len(picked) - 500) < 60
    assert len(set(picked)) == len(picked)
    assert _critique_ids(export, 0.25, seed=7) == picked  # the same on every run
    assert _critique_ids(export, 0.25, seed=8) != picked  # the seed decides
    # The same row is chosen whatever the batches: the decision is per row.
    assert sorted(
        pl.concat(
            list(build_examples(export, critique_ratio=0.25, seed=7, batch_rows=7).stage2)
        ).filter(pl.col("kind") == CRITIQUE)["id"]
    ) == sorted(picked)
    # 1.25 x 2,000 = 2,500 from 1,000: each critique 2 or 3 times.
    upsampled = _critique_ids(export, 1.25, seed=7)
    copies = pl.Series(upsampled).value_counts()["count"]
    assert set(copies) == {2, 3} and abs(len(upsampled) - 2_500) < 60
    assert _critique_ids(export, 0.0, seed=7) == []
    assert critique_copies("r1", 7, 3.0) == 3


def test_negative_critique_ratio_is_an_error(export_rows):
    with pytest.raises(ValueError, match="critique_ratio"):
        build_examples(pl.DataFrame(export_rows), critique_ratio=-1)
