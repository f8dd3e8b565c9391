"""GenSelect's engine: the prompt shows code only, numbered; answers are parsed the way real models
write them; subsets are seeded, deterministic and distinct; request ids follow the exact request."""

from __future__ import annotations

import math

import pytest

from ocr2_kedro.generation import SamplingConfig
from ocr2_kedro.generation.genselect import (
    NO_CODE,
    PARSED,
    UNPARSED,
    draw_subsets,
    genselect_prompt,
    genselect_request,
    parse_choice,
)

QUESTION = "Given n, print the sum 1 + 2 + ... + n."
CODES = [
    "n = int(input())\nprint(n * (n + 1) // 2)",
    "n = int(input())\nprint(sum(range(n)))",
    None,
]


def test_prompt_numbers_the_candidates_and_shows_code_only():
    prompt = genselect_prompt(QUESTION, "python", CODES)
    assert QUESTION in prompt
    assert "Solution 1:\n```python\nn = int(input())\nprint(n * (n + 1) // 2)\n```" in prompt
    assert "Solution 2:\n```python\n" in prompt
    assert f"Solution 3:\n{NO_CODE}" in prompt
    assert "Best solution: <number>" in prompt and "from 1 to 3" in prompt
    assert prompt.index("Solution 1:") < prompt.index("Solution 2:") < prompt.index("Solution 3:")
    assert "Starter code" not in prompt
    functional = genselect_prompt(QUESTION, "python", CODES, starter_code="def total(n):\n")
    assert "Starter code:\n```python\ndef total(n):\n```" in functional
    assert functional.index("Starter code") < functional.index("Solution 1:")
    cpp = genselect_prompt(QUESTION, "cpp", ["int main(){}", "int main(){return 0;}"])
    assert "```cpp\nint main(){}\n```" in cpp and "C++17" in cpp
    with pytest.raises(ValueError, match="at least 2"):
        genselect_prompt(QUESTION, "python", CODES[:1])
    with pytest.raises(ValueError, match="language"):
        genselect_prompt(QUESTION, "java", CODES)


@pytest.mark.parametrize(
    ("text", "k", "index"),
    [
        ("Solution 2 overflows... Solution 1 is right.\nBest solution: 1", 3, 0),
        ("Best solution: 2", 3, 1),
        ("**Best solution:** [3]", 3, 2),
        ("best solution = #2", 2, 1),
        ("The best solution is Solution 3.", 4, 2),
        ("<think>Best solution: 1? No, 1 is off by one.</think>\nBest solution: 2", 2, 1),
        ("After comparing them, the answer is solution 3.", 3, 2),
        ("I would choose Solution 2 because it handles n = 0.", 2, 1),
        ("Judgment: 2", 3, 1),  # NeMo-Skills' own answer line
        ("The pick is \\boxed{1}", 2, 0),
        # What the embedded SmolLM2 writes within 16 tokens.
        ("The best solution is indeed the first one, as it reads", 2, 0),
        ("Best solution: the second", 3, 1),
        ("I pick the third one.", 3, 2),
    ],
)
def test_parse_choice_reads_what_models_write(text, k, index):
    choice = parse_choice(text, k)
    assert choice.status == PARSED
    assert choice.index == index and choice.number == index + 1


@pytest.mark.parametrize(
    ("text", "k", "number"),
    [
        ("Best solution: 5", 3, 5),  # out of range: named, but not a candidate
        ("Best solution: 0", 3, 0),
        ("Solution 1 reads n. Solution 2 loops.", 2, None),  # mentions, no pick
        ("", 2, None),
        (None, 2, None),
        ("```python\nprint(1)\n```", 2, None),  # a small model answering with code
        ("The best solution is the fifth one.", 3, 5),
        ("The first solution reads n; the second loops.", 2, None),  # no pick stated
    ],
)
def test_parse_choice_leaves_out_of_range_and_missing_picks_unparsed(text, k, number):
    choice = parse_choice(text, k)
    assert choice.status == UNPARSED and choice.index is None and choice.number == number


def test_subsets_are_seeded_deterministic_and_distinct():
    drawn = draw_subsets(16, 8, 16, 7, "q1", "python", 0.6, 8)
    assert len(drawn) == 16 and len(set(drawn)) == 16
    assert all(len(s) == 8 and list(s) == sorted(set(s)) for s in drawn)
    assert all(0 <= i < 16 for s in drawn for i in s)
    # The same unit and seed draw the same subsets; another unit or seed others.
    assert draw_subsets(16, 8, 16, 7, "q1", "python", 0.6, 8) == drawn
    assert draw_subsets(16, 8, 16, 7, "q2", "python", 0.6, 8) != drawn
    assert draw_subsets(16, 8, 16, 8, "q1", "python", 0.6, 8) != drawn
    # More than C(n, k) asked: every subset once, in order.
    assert draw_subsets(4, 2, 10, 7, "q1") == [(0, 1), (0, 2), (0, 3), (1, 2), (1, 3), (2, 3)]
    assert draw_subsets(2, 2, 1, 7, "q1") == [(0, 1)]
    # Asking for all but one still gives distinct subsets (rejection of repeats terminates).
    most = draw_subsets(5, 2, math.comb(5, 2) - 1, 3, "q")
    assert len(set(most)) == 9
    with pytest.raises(ValueError, match="k <= n"):
        draw_subsets(3, 4, 1, 0)


def test_request_id_follows_the_exact_request():
    sampling = SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=16)

    def built(codes=CODES[:2], seed=1, sampling=sampling, system=None, model="m"):
        return genselect_request(
            "subset-a",
            QUESTION,
            "python",
            codes,
            seed=seed,
            model=model,
            sampling=sampling,
            system_prompt=system,
        )

    first = built()
    assert first.request.request_id == built().request.request_id
    assert first.request.messages[-1]["content"] == first.prompt
    others = [
        built(codes=list(reversed(CODES[:2]))),  # the order shown is part of the prompt
        built(seed=2),
        built(sampling=SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=32)),
        built(system="Be brief."),
        built(model="other"),
    ]
    ids = {first.request.request_id} | {o.request.request_id for o in others}
    assert len(ids) == 6
    assert others[3].request.messages[0] == {"role": "system", "content": "Be brief."}
