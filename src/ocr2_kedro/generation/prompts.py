"""Prompts: solutions (OCR-style: reason, then one fenced block in the target language), critiques
(OCR-2-style: judge one candidate solution, end with a binary judgement) and reasoning-pattern
classification (which behaviours a teacher trace shows, one yes/no line each)."""

from __future__ import annotations

from collections.abc import Sequence

LANGUAGE_NAMES = {"python": "Python 3", "cpp": "C++17"}
FENCE_TAGS = {"python": "python", "cpp": "cpp"}


def solution_prompt(
    question: str,
    language: str,
    test_type: str,
    starter_code: str = "",
    fn_name: str | None = None,
    grader_headers: Sequence[str] | None = None,
) -> str:
    """`grader_headers`: the headers of the grader a C++ solution is compiled with (IOI tasks, the
    problem's `grader_files`); None or empty for a problem without a grader."""
    if language not in LANGUAGE_NAMES:
        raise ValueError(f"language must be one of {sorted(LANGUAGE_NAMES)}, got {language!r}")
    name, tag = LANGUAGE_NAMES[language], FENCE_TAGS[language]
    if grader_headers:
        # The grader holds main, reads the input and prints the output (IOI).
        includes = ", ".join(f'`#include "{header}"`' for header in grader_headers)
        io_rule = (
            "Implement the routines the statement describes; the task's grader reads the input, "
            f"calls them and writes the output. Do not write a main function. Start with {includes}."
            + (f"\n\nStarter code:\n```{tag}\n{starter_code.rstrip()}\n```" if starter_code else "")
        )
    elif test_type == "functional" and language == "python":
        io_rule = (
            f"Implement the function `{fn_name}` (complete the starter code below). Do not read input or print."
            + (
                f"\n\nStarter code:\n```python\n{starter_code.rstrip()}\n```"
                if starter_code
                else ""
            )
        )
    elif test_type == "functional":
        # Project convention: compiled languages solve call-based problems through stdin/stdout JSON.
        io_rule = (
            f"The input is one line holding a JSON array of the arguments of `{fn_name}`; "
            "print the JSON result on standard output."
        )
    else:
        io_rule = "Read the input from standard input and write the answer to standard output."
    return (
        f"{question.strip()}\n\n{io_rule}\n\n"
        f"Think step by step, then give your final solution in {name} as a single ```{tag} code block."
    )


JUDGEMENT_INSTRUCTION = "End your answer with one line: `Judgement: right` or `Judgement: wrong`."
# Asked once more, as a second turn, when a critique ends without a judgement (small critics ramble).
JUDGEMENT_FOLLOW_UP = (
    "Based on your review, is the candidate solution right or wrong? "
    "Answer with exactly one line: `Judgement: right` or `Judgement: wrong`."
)


def critique_prompt(question: str, language: str, solution: str) -> str:
    """Ask the critic to reason about one candidate and end with a binary judgement."""
    if language not in LANGUAGE_NAMES:
        raise ValueError(f"language must be one of {sorted(LANGUAGE_NAMES)}, got {language!r}")
    name, tag = LANGUAGE_NAMES[language], FENCE_TAGS[language]
    return (
        "You are reviewing a solution to a competitive programming problem.\n\n"
        f"Problem:\n{question.strip()}\n\n"
        f"Candidate solution ({name}):\n```{tag}\n{solution.rstrip()}\n```\n\n"
        "Think step by step: check the algorithm, edge cases, input/output format and complexity "
        "against the constraints. Then explain briefly whether the solution is correct.\n"
        f"{JUDGEMENT_INSTRUCTION}"
    )


PATTERN_ANSWERS = ("yes", "no")


def pattern_prompt(trace: str, behaviours: Sequence[tuple[str, str]]) -> str:
    """Ask a classifier which reasoning behaviours a trace shows: one strict `name: yes|no` line per
    behaviour, in the order given (`behaviours`: (name, definition) pairs), so the answer parses
    line by line (`ocr2_kedro.patterns.labelling.parse_pattern_answer`)."""
    if not behaviours:
        raise ValueError("pattern_prompt needs at least one behaviour")
    definitions = "\n".join(f"- {name}: {definition}" for name, definition in behaviours)
    answer_format = "\n".join(f"{name}: yes|no" for name, _ in behaviours)
    return (
        "Below is the reasoning a model wrote while solving a competitive programming problem. "
        "Decide, for each behaviour defined here, whether the reasoning shows it at least once.\n\n"
        f"Behaviours:\n{definitions}\n\n"
        f"Reasoning:\n<<<\n{trace.strip()}\n>>>\n\n"
        "Answer with exactly one line per behaviour, in this order, each ending in yes or no, "
        f"and nothing else:\n{answer_format}"
    )


def truncate_middle(text: str, max_chars: int | None) -> tuple[str, int]:
    """(text, characters omitted): a text over `max_chars` keeps its first and last halves with a
    marker between them (a trace's plan is at its start, its checks and answer at its end)."""
    if max_chars is None or len(text) <= max_chars:
        return text, 0
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, got {max_chars}")
    head = max_chars // 2
    tail = max_chars - head
    omitted = len(text) - max_chars
    return f"{text[:head]}\n[... {omitted} characters omitted ...]\n{text[-tail:]}", omitted
