"""Preference pairs from small handmade exports with known answers: which samples pair in every mode,
the rejects and their reasons, critique-only pairs, determinism, never an identical-text pair, the
texts fetched in buckets, and TRL's own preprocessing of the written file."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.datasets import StreamingParquetDataset
from ocr2_kedro.preferences import (
    PAIR_SCHEMA,
    PREFERENCE_REJECT_SCHEMA,
    PairingSettings,
    build_preference_pairs,
    pair_id,
)
from ocr2_kedro.training.examples import GENERATION_KIND, make_example
from tests.training.conftest import export_row


def row(
    row_id: str,
    question_id: str = "q1",
    pass_rate: float | None = 1.0,
    judgement: str | None = None,
    language: str = "python",
    difficulty: str | None = "easy",
    text: str | None = None,
    verdict: str | None = None,
) -> dict:
    values = export_row(row_id, "q1", language, judgement=judgement, pass_rate=pass_rate)
    values["question_id"] = values["index"] = question_id
    values["question"] = f"Question {question_id}: print the sum of two integers."
    values["difficulty"] = difficulty
    values["verdict"] = None if pass_rate is None else values["verdict"]  # never run
    if text is not None:
        values["r1_generation"] = text
    if verdict is not None:
        values["verdict"] = verdict
    return values


def export(*rows: dict) -> pl.DataFrame:
    return pl.DataFrame(list(rows), infer_schema_length=None)


def run(frame, **settings):
    result = build_preference_pairs(frame, settings)
    pairs = pl.concat(list(result.pairs))
    return pairs, result.rejects, result.statistics


def pair_ids(pairs: pl.DataFrame) -> set[tuple[str, str]]:
    return set(pairs.select("chosen_id", "rejected_id").rows())


def reasons(rejects: pl.DataFrame) -> dict[tuple[str, str], str]:
    return {
        (q, lang): reason
        for q, lang, reason in rejects.select("question_id", "language", "reason").rows()
    }


# q1: two passing (a, b) and three failing (c 0.5, d 0.0, e 0.0) python samples.
# q2: everything passes; q3 (python): everything fails; q1 in cpp: one sample.
MIXED = export(
    row("a", "q1", 1.0, "wrong"),
    row("b", "q1", 1.0, "right"),
    row("c", "q1", 0.5, "right"),
    row("d", "q1", 0.0, "right"),
    row("e", "q1", 0.0, "wrong"),
    row("f", "q2", 1.0),
    row("g", "q2", 1.0),
    row("h", "q3", 0.0),
    row("i", "q3", 0.25),
    row("j", "q1", 1.0, language="cpp"),
)


def test_all_mode_pairs_every_passing_with_every_failing_sample():
    pairs, rejects, stats = run(MIXED, mode="all")
    assert pair_ids(pairs) == {(p, f) for p in "ab" for f in "cde"}
    assert pairs.schema == PAIR_SCHEMA and rejects.schema == PREFERENCE_REJECT_SCHEMA
    assert (pairs["chosen_pass_rate"] == 1.0).all() and (pairs["rejected_pass_rate"] < 1.0).all()
    assert set(pairs["pair_source"]) == {"execution"}
    # The critic's verdicts travel with the pair.
    first = pairs.filter((pl.col("chosen_id") == "a") & (pl.col("rejected_id") == "c")).row(
        0, named=True
    )
    assert first["chosen_judgement"] == "wrong" and first["rejected_judgement"] == "right"
    assert first["pair_id"] == pair_id("a", "c") and first["difficulty"] == "easy"
    assert reasons(rejects) == {
        ("q2", "python"): "all_pass",
        ("q3", "python"): "all_fail",
        ("q1", "cpp"): "single_sample",
    }
    assert rejects.filter(pl.col("question_id") == "q3").row(0, named=True)["failing"] == 2
    assert stats["pairs"] == 6 and stats["by_source"] == {"execution": 6, "critique": 0}
    assert stats["questions"] == 4 and stats["questions_with_pairs"] == 1
    assert stats["questions_without_pairs"] == 3
    assert stats["rejects_by_reason"] == {"all_fail": 1, "all_pass": 1, "single_sample": 1}


def test_messages_are_the_sft_stage1_examples_own():
    pairs, _, _ = run(MIXED, mode="all")
    rows = {r["id"]: r for r in MIXED.to_dicts()}
    system = "You are a careful programmer."
    result = build_preference_pairs(MIXED, {"mode": "best_vs_worst"}, system_prompt=system)
    pair = pl.concat(list(result.pairs)).row(0, named=True)
    chosen = make_example(rows[pair["chosen_id"]], GENERATION_KIND, system)
    rejected = make_example(rows[pair["rejected_id"]], GENERATION_KIND, system)
    assert pair["prompt"] == chosen["prompt"] == rejected["prompt"]
    assert pair["prompt"][0] == {"role": "system", "content": system}
    assert pair["chosen"] == chosen["completion"] and pair["rejected"] == rejected["completion"]
    assert not any(p["prompt"][0]["role"] == "system" for p in pairs.to_dicts())


def test_best_vs_worst_takes_one_pair_with_deterministic_ties():
    pairs, rejects, stats = run(MIXED, mode="best_vs_worst")
    # Chosen: both pass; the critic's "right" wins the tie. Rejected: d and e have the lowest pass
    # rate; the critic's "wrong" (e) wins.
    assert pair_ids(pairs) == {("b", "e")}
    assert stats["by_mode"] == {"best_vs_worst": 1}
    assert len(rejects) == 3
    # Without a critic, the tie goes to a hash of (seed, id): stable for a seed.
    plain = MIXED.with_columns(pl.lit(None, pl.String).alias("judgement"))
    picks = {seed: pair_ids(run(plain, mode="best_vs_worst", seed=seed)[0]) for seed in range(5)}
    assert all(
        picks[seed] == pair_ids(run(plain, mode="best_vs_worst", seed=seed)[0]) for seed in (0, 4)
    )
    assert all(p <= {(c, r) for c in "ab" for r in "de"} and len(p) == 1 for p in picks.values())
    assert len(set(map(frozenset, picks.values()))) > 1  # the seed does choose


def test_cap_per_question_is_a_seeded_sample():
    pairs, _, stats = run(MIXED, mode="all", max_pairs_per_question=2, seed=3)
    assert len(pairs) == 2 and pair_ids(pairs) <= {(p, f) for p in "ab" for f in "cde"}
    again, _, _ = run(MIXED.reverse(), mode="all", max_pairs_per_question=2, seed=3)
    assert pair_ids(again) == pair_ids(pairs)  # the export's row order does not matter
    assert again.equals(pairs)
    samples = {
        frozenset(pair_ids(run(MIXED, max_pairs_per_question=2, seed=s)[0])) for s in range(5)
    }
    assert len(samples) > 1
    assert stats["pairs"] == 2


def test_balance_by_difficulty_cuts_buckets_to_the_smallest():
    # easy: q1 with 2 x 2 = 4 pairs; hard: q2 with 1 x 1 = 1 pair; null difficulty: q3, 1 x 2 = 2.
    frame = export(
        row("a", "q1", 1.0),
        row("b", "q1", 1.0),
        row("c", "q1", 0.0),
        row("d", "q1", 0.5),
        row("e", "q2", 1.0, difficulty="hard"),
        row("f", "q2", 0.0, difficulty="hard"),
        row("g", "q3", 1.0, difficulty=None),
        row("h", "q3", 0.0, difficulty=None),
        row("i", "q3", 0.1, difficulty=None),
    )
    pairs, rejects, stats = run(frame, balance_by_difficulty=True, seed=1)
    assert stats["by_difficulty"] == {"easy": 1, "hard": 1, "unknown": 1}
    assert pairs["difficulty"].to_list().count(None) == 1
    assert rejects.is_empty()
    fixed, _, stats = run(frame, balance_by_difficulty=True, pairs_per_difficulty=2, seed=1)
    assert stats["by_difficulty"] == {"easy": 2, "hard": 1, "unknown": 2}
    assert fixed.equals(run(frame, balance_by_difficulty=True, pairs_per_difficulty=2, seed=1)[0])
    # A question that loses every pair to the balance has a rejects row saying so.
    frame = export(
        row("a", "q1", 1.0),
        row("b", "q1", 0.0),
        row("c", "q2", 1.0),
        row("d", "q2", 0.0),
        row("e", "q3", 1.0, difficulty="hard"),
        row("f", "q3", 0.0, difficulty="hard"),
    )
    pairs, rejects, _ = run(frame, balance_by_difficulty=True)
    assert len(pairs) == 2 and rejects["reason"].to_list() == ["balanced_out"]


def test_critique_only_pairs_when_no_execution_label():
    frame = export(
        # q1: never verified; q2: only a sandbox fault (no tests): no execution label either.
        row("a", "q1", None, "right"),
        row("b", "q1", None, "wrong"),
        row("c", "q1", None, None),
        row("d", "q2", 0.0, "right", verdict="SE"),
        row("e", "q2", 0.0, "wrong", verdict="SE"),
        row("f", "q3", None, "right"),
        row("g", "q3", None, "right"),
        row("h", "q4", None, None),
        row("i", "q4", None, None),
    )
    pairs, rejects, stats = run(frame)
    assert pair_ids(pairs) == {("a", "b"), ("d", "e")}
    assert set(pairs["pair_source"]) == {"critique"}
    assert pairs["chosen_pass_rate"].to_list() == [None, 0.0]  # kept as it was, SE and all
    assert reasons(rejects) == {("q3", "python"): "all_judged_right", ("q4", "python"): "no_label"}
    assert stats["by_source"] == {"execution": 0, "critique": 2}

    off, rejects, _ = run(frame, critique_pairs=False)
    assert off.is_empty() and set(reasons(rejects).values()) == {"critique_pairs_off"}
    # A question with any execution label pairs by execution only.
    mixed = export(
        row("a", "q1", 1.0, "wrong"), row("b", "q1", None, "wrong"), row("c", "q1", None, "right")
    )
    pairs, rejects, _ = run(mixed)
    assert pairs.is_empty() and reasons(rejects) == {("q1", "python"): "all_pass"}


def test_critique_pairs_where_every_sample_failed_only_when_asked():
    frame = export(
        # q1: nothing passed; the critic likes a and b, not c (d: sandbox fault, no label).
        row("a", "q1", 0.0, "right"),
        row("b", "q1", 0.25, "right"),
        row("c", "q1", 0.0, "wrong"),
        row("d", "q1", 0.0, "wrong", verdict="SE"),
        # q2: one passed: execution pairs only, whatever the critic said.
        row("e", "q2", 1.0, "wrong"),
        row("f", "q2", 0.0, "right"),
        # q3: nothing passed and the critic judged both right; q4: every sample passed.
        row("g", "q3", 0.0, "right"),
        row("h", "q3", 0.0, "right"),
        row("i", "q4", 1.0, "right"),
        row("j", "q4", 1.0, "wrong"),
    )
    pairs, rejects, stats = run(frame, critique_pairs_when_all_fail=True)
    assert pair_ids(pairs) == {("a", "c"), ("a", "d"), ("b", "c"), ("b", "d"), ("e", "f")}
    by_source = dict(pairs.select("pair_id", "pair_source").rows())
    assert by_source[pair_id("e", "f")] == "execution"
    assert {by_source[pair_id(c, r)] for c in "ab" for r in "cd"} == {"critique"}
    # Both sides failed: the pass rates travel with the pair, the chosen one's included.
    assert pairs.filter(pl.col("chosen_id") == "b")["chosen_pass_rate"].to_list() == [0.25] * 2
    # A passing sample is never a critique pair's rejected side (q4 stays all_pass).
    assert reasons(rejects) == {("q3", "python"): "all_judged_right", ("q4", "python"): "all_pass"}
    assert stats["by_source"] == {"execution": 1, "critique": 4}
    assert stats["critique_pairs_when_all_fail"] is True

    # Off (the engine's default, conf/paper): a question where nothing passed makes no pair.
    off, rejects, _ = run(frame)
    assert pair_ids(off) == {("e", "f")}
    assert reasons(rejects)[("q1", "python")] == "all_fail"
    # It widens critique pairs, so without them it does nothing.
    off, rejects, _ = run(frame, critique_pairs=False, critique_pairs_when_all_fail=True)
    assert pair_ids(off) == {("e", "f")}
    assert reasons(rejects)[("q1", "python")] == "all_fail"


def test_identical_texts_never_pair():
    same = "<think>\nsame\n</think>\n```python\nprint(1)\n```"
    frame = export(
        row("a", "q1", 1.0, text=same),
        row("b", "q1", 0.0, text=same + "\n  "),
        row("c", "q2", 1.0, text=same),
        row("d", "q2", 0.0, text=same),
        row("e", "q2", 0.5),
    )
    pairs, rejects, stats = run(frame)
    assert reasons(rejects) == {("q1", "python"): "identical_texts"}
    assert pair_ids(pairs) == {("c", "e")}
    assert stats["identical_pairs_dropped"] == 2
    assert rejects.row(0, named=True)["identical_pairs"] == 1
    # best_vs_worst moves on to the next distinct candidate instead of giving up.
    best, _, _ = run(frame, mode="best_vs_worst")
    assert pair_ids(best) == {("c", "e")}
    for frame in (pairs, best):
        assert all(p["chosen"] != p["rejected"] for p in frame.to_dicts())


def test_unusable_samples_and_bad_input():
    frame = export(
        row("a", "q1", 1.0, text="   "),
        row("b", "q1", 0.0),  # a has no reasoning text
        row("c", "q2", 1.0, text=""),
        row("d", "q2", 0.0, text=""),
    )
    pairs, rejects, stats = run(frame)
    assert pairs.is_empty() and pairs.schema == PAIR_SCHEMA
    assert reasons(rejects) == {
        ("q1", "python"): "single_sample",
        ("q2", "python"): "no_usable_sample",
    }
    assert stats["unusable_samples"] == 3
    with pytest.raises(ValueError, match="unique"):
        build_preference_pairs(export(row("a"), row("a", pass_rate=0.0)))
    with pytest.raises(ValueError, match="r1_generation"):
        build_preference_pairs(MIXED.drop("r1_generation"))
    with pytest.raises(ValueError, match="unknown preference settings"):
        PairingSettings.from_dict({"mode": "all", "pairs_per_question": 3})
    # Values (an unknown mode, a cap below 1) are refused by the dataset settings model:
    # tests/parameters/test_dataset.py.
    # An export from elsewhere without verdict, judgement or difficulty still pairs.
    bare = MIXED.select("id", "question_id", "language", "question", "r1_generation", "pass_rate")
    assert len(run(bare)[0]) == 6


def test_texts_fetched_in_buckets_from_a_parquet_scan_give_the_same_pairs(tmp_path):
    source = StreamingParquetDataset(filepath=str(tmp_path / "export.parquet"))
    rows = [
        row(f"{q}-{lang}-{i}", q, [1.0, 0.5, 0.0][i % 3], language=lang)
        for q in ("q1", "q2", "q3")
        for lang in ("python", "cpp")
        for i in range(4)
    ]
    source.save(export(*rows))
    whole, _, stats = run(source.load(), batch_pairs=1000)
    work_dir = tmp_path / "buckets"
    result = build_preference_pairs(
        source.load(), {"bucket_megabytes": 1e-4, "work_dir": str(work_dir), "batch_pairs": 3}
    )
    batches = list(result.pairs)
    assert len(batches) > 2 and all(len(b) <= 3 for b in batches)
    assert not list(work_dir.iterdir())  # the bucket files are gone
    bucketed = pl.concat(batches)
    assert bucketed.sort("pair_id").equals(whole.sort("pair_id"))
    assert (
        stats["pairs"] == len(whole) == 3 * 2 * 2 * 2
    )  # 2 pass x 2 fail, 3 questions, 2 languages


def test_written_pairs_load_in_datasets_and_go_through_trl_preprocessing(
    tmp_path, embedded_model_dir
):
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl.data_utils import is_conversational, maybe_apply_chat_template

    target = StreamingParquetDataset(filepath=str(tmp_path / "pairs.parquet"))
    target.save(build_preference_pairs(MIXED, {"mode": "all"}).pairs)
    dataset = Dataset.from_parquet(str(tmp_path / "pairs.parquet"))
    assert len(dataset) == 6
    assert {"prompt", "chosen", "rejected"} <= set(dataset.column_names)
    example = dataset[0]
    assert is_conversational(example)
    assert [m["role"] for m in example["prompt"]] == ["user"]
    assert (
        [m["role"] for m in example["chosen"]]
        == [m["role"] for m in example["rejected"]]
        == ["assistant"]
    )

    tokenizer = AutoTokenizer.from_pretrained(embedded_model_dir)
    rendered = dataset.map(maybe_apply_chat_template, fn_kwargs={"processing_class": tokenizer})
    text = rendered[0]
    assert isinstance(text["prompt"], str) and isinstance(text["chosen"], str)
    assert example["prompt"][0]["content"] in text["prompt"]
    assert text["prompt"].rstrip().endswith("assistant")  # the generation prompt is open
    assert text["chosen"].startswith(example["chosen"][0]["content"])
    assert text["rejected"].startswith(example["rejected"][0]["content"])
    assert text["chosen"] != text["rejected"]


def test_unjudged_samples_are_no_execution_label_and_never_a_failure():
    """A problem that needs a checker and ships none is verified "unjudged" (verdict and pass_rate
    null): its samples are neither passing nor failing, so they never make an execution pair; with
    critique pairs on they pair by the critic's judgements, like never-verified samples."""
    frame = export(
        row("a", "q1", None, "right"),
        row("b", "q1", None, "wrong"),
        # q2: one sample passed, the unjudged one is not its failing side.
        row("c", "q2", 1.0, "right"),
        row("d", "q2", None, "wrong"),
    )
    pairs, rejects, stats = run(frame, critique_pairs_when_all_fail=True)
    assert pair_ids(pairs) == {("a", "b")}
    assert set(pairs["pair_source"]) == {"critique"}
    assert reasons(rejects) == {("q2", "python"): "all_pass"}
    assert stats["by_source"] == {"execution": 0, "critique": 1}
    off, rejects, _ = run(frame, critique_pairs=False)
    assert off.is_empty()
    assert reasons(rejects) == {
        ("q1", "python"): "critique_pairs_off",
        ("q2", "python"): "all_pass",
    }
