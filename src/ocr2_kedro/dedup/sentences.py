"""Order-robust verification of near-duplicate candidates: sentence alignment and number agreement.

`fuzz.ratio` aligns two texts character by character in order, so a statement whose sentences were
reordered, or which lost a sentence or gained a story paragraph, scores far below 80 against its
original although every sentence of one has a twin in the other. Here each text is split into
sentences and every sentence is matched with its most similar sentence of the other text
(`fuzz.ratio`, in any order). The coverage of a text is the share of its characters that lie in
sentences with a twin (similarity >= `sentence_match`); a pair's sentence score weighs the coverage
of the shorter text (`short_weight`) above that of the longer one, so extra material on one side (a
wrapper story, a contest header) costs less than a sentence missing from both.

Numbers: two statements that differ only in their constraints ("n <= 100" / "n <= 2 * 10^5", the
easy and hard versions of a problem) are different problems, though they are 98% alike character by
character. The numbers of each side's sentences that have a counterpart on the other side
(similarity >= `number_match`, a low bar, so that a sentence glued to its neighbour still counts)
are compared as multisets: when each side has a number the other lacks, a value was changed and the
pair is vetoed. Numbers only added or only dropped (a contest header with its time limit, a dropped
sentence) do not veto. Numbers are compared by value, so "2*10^5", "2 * 10^5" (LaTeX
`2 \\cdot 10^{5}` after normalization) and "200000" agree.

Everything is computed over flat arrays of sentence pairs: one `rapidfuzz.process.cpdist` call per
chunk of candidate pairs and numpy reductions, no Python loop per pair.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

# Sentence ends in normalized text: a line break (headings, list items, doctest lines), or . ! ? ;
# followed by a space. A dot inside a number or a name ("1.5", "a.b") has no space after it and stays.
_SENTENCE_END = re.compile(r"\n|(?<=[.!?;]) ")
# A number with its optional factor or power: "200000", "1.5", "10^9", "2 * 10^5", "2 * 100000",
# "10^9 + 7". Not a digit that is part of a word or an index (a_1, x2).
_NUMBER = re.compile(
    r"(?<![\w.^])(\d+(?:\.\d+)?)"
    r"(?:\s*\*\s*(\d+)(?:\s*\^\s*(\d+))?|\s*\^\s*(\d+))?"
    r"(?:\s*\+\s*(\d+)(?!\.?\d|[\^*]))?"
    r"(?![\w^])"
)
_DIGIT = re.compile(r"\d")
_MAX_EXPONENT = 30


def split_sentences(text: str, min_chars: int = 12, max_sentences: int = 48) -> list[str]:
    """Sentences of a normalized text. A fragment shorter than `min_chars` joins a neighbour: the
    next sentence when it is only words (a heading such as "input"), else the previous one ("3 4.",
    a doctest's output line). A text with more than `max_sentences` is cut into that many runs of
    consecutive sentences, which bounds the work per pair."""
    pieces = [piece.strip() for piece in _SENTENCE_END.split(text.strip())]
    sentences: list[str] = []
    heading = ""
    for piece in pieces:
        if not piece:
            continue
        piece = f"{heading} {piece}" if heading else piece
        heading = ""
        if len(piece) >= min_chars:
            sentences.append(piece)
        elif piece.replace(" ", "").isalpha():
            heading = piece
        elif sentences:
            sentences[-1] = f"{sentences[-1]} {piece}"
        else:
            heading = piece
    if heading:
        if sentences:
            sentences[-1] = f"{sentences[-1]} {heading}"
        else:
            sentences.append(heading)
    if len(sentences) > max_sentences:
        bounds = np.linspace(0, len(sentences), max_sentences + 1).astype(int)
        sentences = [" ".join(sentences[a:b]) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]
    return sentences or [text]


def _value(match: re.Match) -> str:
    """Canonical value of a number match: "2 * 10^5", "2 * 100000" and "200000" are all "200000"."""
    base, factor, exponent, power, plus = match.groups()
    if "." in base or max(int(exponent or 0), int(power or 0)) > _MAX_EXPONENT:
        return match.group(0)
    value = int(base)
    if factor is not None:
        value *= int(factor) ** int(exponent) if exponent is not None else int(factor)
    elif power is not None:
        value **= int(power)
    return str(value + int(plus)) if plus is not None else str(value)


def numbers_in(text: str) -> list[str]:
    """The numbers of a normalized text by value, as canonical strings ("2 * 10^5" -> "200000")."""
    if not _DIGIT.search(text):  # most sentences: skip the slower number pattern
        return []
    return [_value(match) for match in _NUMBER.finditer(text)]


def numbers_changed(first: Sequence[str], second: Sequence[str]) -> bool:
    """True when each side has a number the other lacks: a value was changed, not only added or
    dropped (a clause with a number cut off, a header with a time limit merged into a line)."""
    remaining = list(second)
    only_first = False
    for value in first:
        if value in remaining:
            remaining.remove(value)
        else:
            only_first = True
    return only_first and bool(remaining)


@dataclass(frozen=True)
class SentenceScores:
    """Per pair: sentence score (0-100), coverage of each side, and whether numbers disagree."""

    score: np.ndarray
    coverage_first: np.ndarray
    coverage_second: np.ndarray
    number_conflict: np.ndarray


class SentenceIndex:
    """Sentences, their lengths and number keys for a set of texts, split once and reused per pair."""

    def __init__(self, texts: Sequence[str], rows: np.ndarray) -> None:
        self.rows = np.asarray(rows, dtype=np.int64)
        self.position = {int(row): index for index, row in enumerate(self.rows)}
        sentences: list[str] = []
        counts = np.empty(len(self.rows), dtype=np.int64)
        for index, row in enumerate(self.rows):
            split = split_sentences(texts[int(row)])
            sentences.extend(split)
            counts[index] = len(split)
        self.sentences = sentences
        self.counts = counts
        self.starts = np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)
        self.lengths = np.fromiter(
            (len(s) for s in sentences), dtype=np.float64, count=len(sentences)
        )
        self.values = [numbers_in(sentence) for sentence in sentences]
        self.text_values = [
            [value for sentence in range(start, start + count) for value in self.values[sentence]]
            for start, count in zip(self.starts.tolist(), counts.tolist(), strict=True)
        ]
        self.sorted_values = [sorted(values) for values in self.text_values]
        self.totals = np.add.reduceat(self.lengths, self.starts) if len(sentences) else self.lengths

    def locate(self, rows: np.ndarray) -> np.ndarray:
        return np.fromiter(
            (self.position[int(row)] for row in rows), dtype=np.int64, count=len(rows)
        )


def sentence_scores(
    texts: Sequence[str],
    pairs: np.ndarray,
    sentence_match: float = 70.0,
    number_match: float = 50.0,
    short_weight: float = 0.75,
    chunk_entries: int = 2_000_000,
    index: SentenceIndex | None = None,
) -> SentenceScores:
    """Sentence-alignment scores of `pairs` (m, 2) of indices into `texts` (normalized)."""
    pairs = np.asarray(pairs, dtype=np.int64).reshape(-1, 2)
    count = len(pairs)
    score = np.zeros(count)
    coverage = np.zeros((count, 2))
    conflict = np.zeros(count, dtype=bool)
    if count == 0:
        return SentenceScores(score, coverage[:, 0], coverage[:, 1], conflict)
    if index is None:
        index = SentenceIndex(texts, np.unique(pairs))
    first = index.locate(pairs[:, 0])
    second = index.locate(pairs[:, 1])
    entries = index.counts[first] * index.counts[second]
    # Chunks of whole pairs, each with at most ~chunk_entries sentence pairs.
    boundaries = [0]
    running = 0
    for position, size in enumerate(entries):
        if running and running + size > chunk_entries:
            boundaries.append(position)
            running = 0
        running += int(size)
    boundaries.append(count)
    for start, stop in zip(boundaries[:-1], boundaries[1:], strict=True):
        block = slice(start, stop)
        cover_a, cover_b, clash = _score_chunk(
            index, first[block], second[block], sentence_match, number_match
        )
        coverage[block, 0] = cover_a
        coverage[block, 1] = cover_b
        conflict[block] = clash
    first_is_short = index.totals[first] <= index.totals[second]
    short = np.where(first_is_short, coverage[:, 0], coverage[:, 1])
    long = np.where(first_is_short, coverage[:, 1], coverage[:, 0])
    score = 100.0 * (short_weight * short + (1.0 - short_weight) * long)
    return SentenceScores(score, coverage[:, 0], coverage[:, 1], conflict)


def _score_chunk(
    index: SentenceIndex,
    first: np.ndarray,
    second: np.ndarray,
    sentence_match: float,
    number_match: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rows_a = index.counts[first]
    rows_b = index.counts[second]
    sizes = rows_a * rows_b
    total = int(sizes.sum())
    block_start = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    pair_of = np.repeat(np.arange(len(first)), sizes)
    offset = np.arange(total) - block_start[pair_of]
    width = rows_b[pair_of]
    local_a = offset // width
    local_b = offset % width
    sentence_a = index.starts[first][pair_of] + local_a
    sentence_b = index.starts[second][pair_of] + local_b
    sentences = index.sentences
    similarity = process.cpdist(
        [sentences[i] for i in sentence_a.tolist()],
        [sentences[i] for i in sentence_b.tolist()],
        scorer=fuzz.ratio,
        workers=-1,
    ).astype(np.float64)
    # Best twin of every sentence of a (runs of `width` entries are one sentence of a) ...
    row_starts = np.flatnonzero(local_b == 0)
    best_a = np.maximum.reduceat(similarity, row_starts)
    # ... and of every sentence of b: the same entries laid out b-major.
    transposed_position = block_start[pair_of] + local_b * rows_a[pair_of] + local_a
    transposed = np.empty_like(similarity)
    transposed[transposed_position] = similarity
    column_starts = np.concatenate(([0], np.cumsum(np.repeat(rows_a, rows_b))[:-1]))
    best_b = np.maximum.reduceat(transposed, column_starts)

    def coverage(best: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
        owner = np.repeat(np.arange(len(counts)), counts)
        sentence = np.repeat(starts, counts) + (
            np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts)
        )
        lengths = index.lengths[sentence]
        matched = np.where(best >= sentence_match, best / 100.0, 0.0) * lengths
        return np.bincount(owner, matched, len(counts)) / np.bincount(owner, lengths, len(counts))

    cover_a = coverage(best_a, index.starts[first], rows_a)
    cover_b = coverage(best_b, index.starts[second], rows_b)
    # Number veto: only pairs whose texts carry different numbers at all (cheap, per text) are
    # checked on the numbers of their sentences that have a counterpart. (Not "a changed value in
    # the whole texts": a header's "1 s" time limit can stand in for a changed 0 -> 1.)
    conflict = np.zeros(len(first), dtype=bool)
    suspects = [
        position
        for position, (a, b) in enumerate(zip(first.tolist(), second.tolist(), strict=True))
        if index.sorted_values[a] != index.sorted_values[b]
    ]
    if suspects:
        offsets_a = np.concatenate(([0], np.cumsum(rows_a)))
        offsets_b = np.concatenate(([0], np.cumsum(rows_b)))
        for position in suspects:
            conflict[position] = numbers_changed(
                _matched_values(
                    index,
                    int(first[position]),
                    best_a[offsets_a[position] : offsets_a[position + 1]],
                    number_match,
                ),
                _matched_values(
                    index,
                    int(second[position]),
                    best_b[offsets_b[position] : offsets_b[position + 1]],
                    number_match,
                ),
            )
    return cover_a, cover_b, conflict


def _matched_values(index: SentenceIndex, text: int, best: np.ndarray, floor: float) -> list[str]:
    """The numbers of the sentences of `text` whose best counterpart scores >= `floor`."""
    start = int(index.starts[text])
    return [
        value
        for sentence in np.flatnonzero(best >= floor).tolist()
        for value in index.values[start + sentence]
    ]
