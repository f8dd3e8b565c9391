"""Reasoning-pattern engine: lexical markers, the classifier's answer parser, truncation, sampling,
statistics (Fisher, Benjamini-Hochberg, kappa, Mann-Whitney), entropies and the card section."""

from __future__ import annotations

import math
import sys

import polars as pl
import pytest

from ocr2_kedro.generation.base import SamplingConfig, mean_entropy, top_k_entropy
from ocr2_kedro.generation.prompts import pattern_prompt
from ocr2_kedro.metrics.patterns import (
    BEHAVIOURS,
    ENTROPY_OFF,
    behaviours_named,
    benjamini_hochberg,
    build_summary,
    card_section,
    cohen_kappa,
    compare_entropy,
    fisher_test,
    lexical_counts,
    lexical_labels,
    metrics,
    parse_pattern_answer,
    stratified_sample,
    truncate_middle,
)

NAMES = [b.name for b in BEHAVIOURS]

PLANNED = (
    "The problem asks for the number of pairs with an even sum. First, I need to count the even "
    "and odd numbers. Then we need to combine them. Let me check this against the example: 3 "
    "pairs, which matches the sample output. Let me verify the edge case n = 1 as well."
)
BACKTRACKED = (
    "Sort and take the two largest. Wait, that's wrong: negative numbers. Let me try a different "
    "approach; on second thought, keep the two smallest too. Wait, this doesn't work either."
)
PLAIN = "Read n and print n * 2. Done."
BACKWARD = "Working backwards from the answer: to reach the goal, we need the largest prefix."


def test_lexical_markers_on_handmade_traces():
    assert lexical_counts(PLANNED) == {
        "subgoal_setting": 2,  # "First, I", "Then we need"
        "self_evaluation": 3,  # "Let me check", "which matches", "Let me verify"
        "backtracking": 0,
        "restating_problem": 1,  # "The problem asks"
        "backward_chaining": 0,
    }
    assert lexical_counts(BACKTRACKED) == {
        "subgoal_setting": 0,
        "self_evaluation": 0,
        # "Wait" x2, "that's wrong", "Let me try a different", "on second thought",
        # "this doesn't work"
        "backtracking": 6,
        "restating_problem": 0,
        "backward_chaining": 0,
    }
    assert set(lexical_counts(PLAIN).values()) == {0}
    assert lexical_counts(BACKWARD)["backward_chaining"] == 2
    # Words, not substrings: "awaited" holds "wait", "verifying" is a marker.
    assert lexical_counts("The result awaited no one.")["backtracking"] == 0
    assert lexical_counts("VERIFYING the loop")["self_evaluation"] == 1


def test_lexical_labels_give_presence_and_rate_per_thousand_words():
    labels = lexical_labels(BACKTRACKED)
    words = len(BACKTRACKED.split())
    assert labels["lexical_backtracking"] is True
    assert labels["lexical_backtracking_per_1k"] == pytest.approx(6000 / words)
    assert labels["lexical_subgoal_setting"] is False
    assert labels["lexical_subgoal_setting_per_1k"] == 0.0
    empty = lexical_labels("")
    assert not any(v for k, v in empty.items() if not k.endswith("_per_1k"))
    assert all(empty[f"lexical_{n}_per_1k"] == 0.0 for n in NAMES)


def test_parser_reads_a_well_formed_answer():
    answer = "\n".join(f"{n}: {'yes' if i % 2 == 0 else 'no'}" for i, n in enumerate(NAMES))
    assert parse_pattern_answer(answer) == {n: i % 2 == 0 for i, n in enumerate(NAMES)}


def test_parser_tolerates_formatting_and_reports_missing_lines_as_unparsed():
    answer = (
        "Sure! Here is my answer:\n"
        "- **Subgoal setting**: Yes\n"
        "2. self-evaluation = no\n"
        "`backtracking`: YES\n"
    )
    assert parse_pattern_answer(answer) == {
        "subgoal_setting": True,
        "self_evaluation": False,
        "backtracking": True,
        "restating_problem": None,
        "backward_chaining": None,
    }


def test_parser_on_garbage_thinking_and_corrections():
    assert parse_pattern_answer("I think the trace is fine.") == dict.fromkeys(NAMES)
    assert parse_pattern_answer("") == dict.fromkeys(NAMES)
    # "subgoal_setting: maybe" is not an answer; yes/no as prose is not one either.
    assert parse_pattern_answer("subgoal_setting: maybe\nyes no yes")["subgoal_setting"] is None
    # Deliberation inside <think> does not count; a cut-off think block parses as nothing.
    thought = "<think>subgoal_setting: yes? no...</think>\nsubgoal_setting: no"
    assert parse_pattern_answer(thought)["subgoal_setting"] is False
    assert parse_pattern_answer("<think>subgoal_setting: yes")["subgoal_setting"] is None
    # The last line naming a behaviour wins.
    assert parse_pattern_answer("backtracking: no\nbacktracking: yes")["backtracking"] is True


def test_prompt_asks_for_one_line_per_behaviour_in_order():
    prompt = pattern_prompt("trace text", [(b.name, b.definition) for b in BEHAVIOURS])
    tail = prompt.rsplit("nothing else:\n", 1)[1]
    assert tail.splitlines() == [f"{n}: yes|no" for n in NAMES]
    assert "<<<\ntrace text\n>>>" in prompt
    with pytest.raises(ValueError, match="at least one behaviour"):
        pattern_prompt("x", [])


def test_behaviours_named_selects_and_rejects_unknown_names():
    assert behaviours_named([]) == BEHAVIOURS
    assert [b.name for b in behaviours_named(["backtracking"])] == ["backtracking"]
    with pytest.raises(ValueError, match="unknown behaviours"):
        behaviours_named(["daydreaming"])


def test_truncation_keeps_head_and_tail_and_says_how_much_was_cut():
    text = "a" * 50 + "b" * 100 + "c" * 50
    shown, omitted = truncate_middle(text, 100)
    assert omitted == 100
    assert shown.startswith("a" * 50) and shown.endswith("c" * 50)
    assert "[... 100 characters omitted ...]" in shown and "b" not in shown
    assert truncate_middle(text, None) == (text, 0)
    assert truncate_middle(text, 200) == (text, 0)


def outcomes(passed: int, failed: int, excluded: int = 0) -> pl.DataFrame:
    groups = ["passed"] * passed + ["failed"] * failed + [None] * excluded
    return pl.DataFrame(
        {"generation_id": [f"g{i:03d}" for i in range(len(groups))], "outcome": groups},
        schema={"generation_id": pl.String, "outcome": pl.String},
    )


def test_stratified_sample_balances_groups_and_is_seeded():
    table = outcomes(10, 30, excluded=5)
    sample = stratified_sample(table, 8, seed=1)
    assert dict(sample.group_by("outcome").len().iter_rows()) == {"passed": 4, "failed": 4}
    # The same rows whatever the table's order; another seed draws others.
    assert stratified_sample(table.reverse(), 8, seed=1).equals(sample)
    assert not stratified_sample(table, 8, seed=2).equals(sample)
    # A short group's share goes to the other; excluded rows are never drawn.
    short = stratified_sample(outcomes(2, 30, excluded=5), 8, seed=1)
    assert dict(short.group_by("outcome").len().iter_rows()) == {"passed": 2, "failed": 6}
    everything = stratified_sample(table, None, seed=1)
    assert everything.height == 40 and everything["outcome"].null_count() == 0


def test_fisher_exact_on_the_tea_tasting_table():
    # Fisher's lady tasting tea: [[3, 1], [1, 3]], two-sided p = 34/70, odds ratio 9.
    result = fisher_test(3, 4, 1, 4)
    assert result["p"] == pytest.approx(34 / 70)
    assert result["odds_ratio"] == pytest.approx(9.0)
    assert fisher_test(0, 0, 1, 4) == {"odds_ratio": None, "p": None}
    assert fisher_test(4, 4, 0, 4)["odds_ratio"] is None  # infinite: undefined in JSON


def test_benjamini_hochberg_against_a_hand_computed_example():
    # Sorted 0.005, 0.01, 0.03, 0.04 (m = 4): p * m / rank = 0.02, 0.02, 0.04, 0.04, then the
    # running minimum from the largest rank down changes nothing.
    adjusted = benjamini_hochberg([0.01, None, 0.04, 0.03, 0.005])
    assert adjusted[1] is None
    assert adjusted[0] == pytest.approx(0.02)
    assert adjusted[2] == pytest.approx(0.04)
    assert adjusted[3] == pytest.approx(0.04)
    assert adjusted[4] == pytest.approx(0.02)
    # The running minimum matters: 0.02 * 2 / 1 = 0.04 > 0.03 * 2 / 2 = 0.03.
    assert benjamini_hochberg([0.02, 0.03]) == pytest.approx([0.03, 0.03])
    assert benjamini_hochberg([None, None]) == [None, None]


def test_cohen_kappa_with_and_without_sklearn(monkeypatch):
    first = [True, True, False, False, True, False]
    second = [True, False, False, False, True, True]
    # Observed 4/6, chance 0.5 * 0.5 + 0.5 * 0.5 = 0.5: kappa = (2/3 - 1/2) / (1/2) = 1/3.
    assert cohen_kappa(first, second) == pytest.approx(1 / 3)
    monkeypatch.setitem(sys.modules, "sklearn.metrics", None)  # the formula's path
    assert cohen_kappa(first, second) == pytest.approx(1 / 3)
    assert cohen_kappa([True] * 3, [True] * 3) is None  # chance agreement 1: undefined
    assert cohen_kappa([], []) is None
    with pytest.raises(ValueError, match="same items"):
        cohen_kappa([True], [])


def test_entropy_from_known_log_probabilities():
    # p = (1/2, 1/4, 1/4): H = 1.5 ln 2.
    assert top_k_entropy([math.log(0.5), math.log(0.25), math.log(0.25)], 5) == pytest.approx(
        1.5 * math.log(2)
    )
    # The top k only, renormalized: (0.4, 0.4) of (0.4, 0.4, 0.1) -> (1/2, 1/2): ln 2.
    assert top_k_entropy([math.log(0.1), math.log(0.4), math.log(0.4)], 2) == pytest.approx(
        math.log(2)
    )
    assert top_k_entropy([0.0], 5) == 0.0  # certain
    assert top_k_entropy([-math.inf, math.log(0.5), math.log(0.5)], 3) == pytest.approx(math.log(2))
    with pytest.raises(ValueError, match="no finite"):
        top_k_entropy([], 3)
    assert mean_entropy([0.5, 1.0, 1.5]) == pytest.approx(1.0)
    assert mean_entropy([]) is None


def test_sampling_logprobs_are_off_by_default_and_bounded():
    from ocr2_kedro.schemas import run_key

    # Shards of runs from before the setting existed stay valid while it is off.
    sampling = {"temperature": 0.6, "max_tokens": 8}
    assert run_key("generation", "m", {**sampling, "logprobs": None}, None) == run_key(
        "generation", "m", sampling, None
    )
    assert run_key("generation", "m", {**sampling, "logprobs": 5}, None) != run_key(
        "generation", "m", sampling, None
    )
    assert SamplingConfig().logprobs is None
    assert SamplingConfig.from_dict({"logprobs": 5}).logprobs == 5
    with pytest.raises(ValueError, match="logprobs"):
        SamplingConfig(logprobs=0)


def test_entropy_comparison_uses_mann_whitney():
    from scipy.stats import mannwhitneyu

    passed, failed = [1.3, 1.25, 1.4, 1.2], [1.1, 1.0, 1.15]
    result = compare_entropy(passed, failed, min_group_size=3)
    expected = mannwhitneyu(passed, failed, alternative="two-sided")
    assert result["u"] == expected.statistic == 12.0  # every passed entropy above every failed
    assert result["p"] == pytest.approx(expected.pvalue)
    assert result["passed"] == {"n": 4, "mean": pytest.approx(1.2875), "median": 1.275}
    assert result["failed"]["median"] == 1.1
    assert result["too_small"] is False
    assert compare_entropy(passed, [], 3)["p"] is None


def labels_table() -> pl.DataFrame:
    """Ten passed and ten failed traces with known labels for two behaviours."""
    rows = []
    for i in range(20):
        passed = i < 10
        rows.append(
            {
                "generation_id": f"g{i}",
                "outcome": "passed" if passed else "failed",
                "truncated_chars": 5 if i == 0 else 0,
                # lexical subgoal: 8/10 passed, 2/10 failed
                "lexical_subgoal_setting": (i < 8) if passed else (i < 12),
                "lexical_subgoal_setting_per_1k": 2.0 if passed else 1.0,
                # llm subgoal: as lexical, except two unparsed answers among the failed
                "llm_subgoal_setting": None if i >= 18 else ((i < 8) if passed else (i < 12)),
                "lexical_backtracking": i % 2 == 0,
                "lexical_backtracking_per_1k": 0.0,
                "llm_backtracking": i % 2 == 0,
                "llm_finish_reason": "stop",
                "llm_unparsed": 1 if i >= 18 else 0,
            }
        )
    return pl.DataFrame(rows)


def test_summary_counts_frequencies_tests_and_agreement():
    behaviours = behaviours_named(["subgoal_setting", "backtracking"])
    summary = build_summary(
        labels_table(),
        population={"passed": 100, "failed": 300, "excluded": 4},
        entropy={"available": False, "note": ENTROPY_OFF},
        run={"critic_model": "critic", "embedded": False, "min_group_size": 5, "seed": 1},
        behaviours=behaviours,
    )
    subgoal = summary["behaviours"]["subgoal_setting"]
    lexical = subgoal["lexical"]
    assert lexical["passed"] == {"n": 10, "k": 8, "freq": 0.8}
    assert lexical["failed"] == {"n": 10, "k": 2, "freq": 0.2}
    assert lexical["diff"] == pytest.approx(0.6)
    assert lexical["p"] == pytest.approx(fisher_test(8, 10, 2, 10)["p"])
    assert lexical["per_1k_words"] == {"passed": 2.0, "failed": 1.0}
    # Unparsed LLM labels leave their traces out of n (8 failed, not 10) and are counted.
    llm = subgoal["llm"]
    assert llm["failed"] == {"n": 8, "k": 2, "freq": 0.25}
    assert llm["unparsed"] == 2
    # BH across the two behaviours of one method.
    p_backtracking = summary["behaviours"]["backtracking"]["lexical"]["p"]
    assert p_backtracking == pytest.approx(1.0)
    assert lexical["p_adj"] == pytest.approx(benjamini_hochberg([lexical["p"], p_backtracking])[0])
    assert subgoal["agreement"] == {"n": 18, "percent": 100.0, "kappa": pytest.approx(1.0)}
    assert summary["sample"] == {"traces": 20, "passed": 10, "failed": 10, "truncated": 1}
    assert summary["llm"]["unparsed_labels"] == 2 and summary["llm"]["errors"] == 0
    flat = metrics(summary)
    assert flat["subgoal_setting_lexical_passed"] == 0.8
    assert flat["subgoal_setting_kappa"] == pytest.approx(1.0)
    assert not any("@" in name for name in flat)

    card = card_section(summary)
    assert "| subgoal_setting | lexical | 80% (8/10) | 20% (2/10) | +60 pp |" in card
    assert "| subgoal_setting | llm | 80% (8/10) | 25% (2/8) | +55 pp |" in card
    assert ENTROPY_OFF in card
    assert "plumbing" not in card
    # The embedded default, or groups under the minimum size, are said to be plumbing.
    embedded = {**summary, "run": {**summary["run"], "embedded": True}}
    assert "these numbers are plumbing" in card_section(embedded)
    tiny = {**summary, "run": {**summary["run"], "min_group_size": 50}}
    assert "(n too small)" in card_section(
        build_summary(
            labels_table(),
            population=summary["population"],
            entropy=summary["entropy"],
            run=tiny["run"],
            behaviours=behaviours,
        )
    )
    assert "these numbers are plumbing" in card_section(tiny)
