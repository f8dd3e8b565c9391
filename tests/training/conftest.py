"""Export rows shaped like the dataset pipeline's `ocr2_export`, with and without critiques."""

from __future__ import annotations

import pytest

QUESTIONS = {
    "q1": "Read two integers a and b from one line and print their sum.",
    "q2": "Given a string s, print it reversed.",
    "q3": "Print the largest of n integers given on the second line.",
}


def export_row(
    row_id: str,
    question_id: str,
    language: str = "python",
    critique: str | None = None,
    judgement: str | None = None,
    pass_rate: float | None = 1.0,
) -> dict:
    solution = "a, b = map(int, input().split())\nprint(a + b)\n"
    return {
        "id": row_id,
        "question_id": question_id,
        "question": QUESTIONS[question_id],
        "r1_generation": f"<think>\nAdd the two numbers ({row_id}).\n</think>\n```{language}\n{solution}```",
        "qwq_critique": critique,
        "solution": solution,
        "judgement": judgement,
        "pass_rate": pass_rate,
        "verdict": "AC" if pass_rate == 1.0 else "WA",
        "source": "bundled",
        "license": "cc-by-4.0",
        "dataset": "bundled",
        "split": "train",
        "difficulty": "easy",
        "index": question_id,
        "language": language,
    }


@pytest.fixture
def export_rows() -> list[dict]:
    return [
        export_row(
            "g1",
            "q1",
            critique="<think>It adds.</think>\nCorrect.\nJudgement: right",
            judgement="right",
        ),
        export_row("g2", "q2", critique="It reverses nothing.", judgement="wrong", pass_rate=0.0),
        export_row("g3", "q3", language="cpp", pass_rate=None),
        export_row("g4", "q1", critique=None, judgement=None, pass_rate=0.5),
    ]
