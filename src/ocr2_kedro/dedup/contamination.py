"""Benchmark decontamination: training questions that leak a benchmark question.

Two signals per (training, benchmark) pair, on normalized text:
- `fuzz.ratio` of the whole statements (catches reworded copies);
- n-gram coverage: the share of the benchmark question's word n-grams that also occur in the training
  question (catches a benchmark statement pasted inside a longer one). A share, not "any shared
  n-gram": contest boilerplate ("the first line contains an integer t") is shared by unrelated
  statements and must not flag them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from rapidfuzz import fuzz, process

from ocr2_kedro.dedup.normalize import normalize_text


@dataclass(frozen=True)
class ContaminationMatch:
    train_index: int
    benchmark_index: int
    fuzz_ratio: float
    ngram_coverage: float
    reason: str  # "fuzzy" | "ngram" | "fuzzy+ngram"


def word_ngrams(text: str, n: int) -> set[str]:
    words = text.split()
    if len(words) < n:
        return {" ".join(words)} if words else set()
    return {" ".join(words[i : i + n]) for i in range(len(words) - n + 1)}


def find_contamination(
    train_texts: Sequence[str],
    benchmark_texts: Sequence[str],
    fuzz_threshold: float = 80.0,
    ngram_size: int = 8,
    coverage_threshold: float = 0.5,
    chunk_size: int = 1024,
) -> list[ContaminationMatch]:
    """Every (training, benchmark) pair over either threshold, with both scores."""
    train = [normalize_text(text) for text in train_texts]
    benchmark = [normalize_text(text) for text in benchmark_texts]
    if not train or not benchmark:
        return []
    benchmark_ngrams = [word_ngrams(text, ngram_size) for text in benchmark]
    owners: dict[str, list[int]] = defaultdict(list)
    for index, grams in enumerate(benchmark_ngrams):
        for gram in grams:
            owners[gram].append(index)
    sizes = np.array([max(len(grams), 1) for grams in benchmark_ngrams], dtype=np.float64)
    matches: list[ContaminationMatch] = []
    for start in range(0, len(train), chunk_size):
        chunk = train[start : start + chunk_size]
        ratios = process.cdist(chunk, benchmark, scorer=fuzz.ratio, dtype=np.float32, workers=-1)
        for local, text in enumerate(chunk):
            shared = Counter(
                owner for gram in word_ngrams(text, ngram_size) for owner in owners.get(gram, ())
            )
            coverage = {index: count / sizes[index] for index, count in shared.items()}
            fuzzy_hits = set(np.flatnonzero(ratios[local] >= fuzz_threshold).tolist())
            ngram_hits = {index for index, share in coverage.items() if share >= coverage_threshold}
            for index in sorted(fuzzy_hits | ngram_hits):
                reason = "+".join(
                    name
                    for name, hit in (
                        ("fuzzy", index in fuzzy_hits),
                        ("ngram", index in ngram_hits),
                    )
                    if hit
                )
                matches.append(
                    ContaminationMatch(
                        start + local,
                        index,
                        float(ratios[local, index]),
                        float(coverage.get(index, 0.0)),
                        reason,
                    )
                )
    return matches
