"""Near-duplicate detection at OCR-2 scale: MinHash-LSH + rapidfuzz vs exhaustive rapidfuzz matching.

Builds a synthetic corpus of problem-like statements (~800 characters: story, task, input/output
format, constraints, shared contest boilerplate) with planted near-duplicates of four edit kinds
(reformatting, word substitutions, dropped/added sentences, changed constraints, and mixes of them,
some strong enough to fall below the threshold), then measures, in the same run:

- the LSH pipeline (`ocr2_kedro.dedup.find_near_duplicate_pairs`): normalization, shingle document
  frequencies (boilerplate mask), MinHash signatures, banding, signature-agreement prefilter,
  `fuzz.ratio` verification of the candidates, connected components; seconds per step are printed;
- the exhaustive baseline: `rapidfuzz.process.cdist(..., scorer=fuzz.ratio, workers=-1)` of sampled
  rows against the whole corpus (the full matrix at 35K is hours), whose time is extrapolated to all
  N*(N-1)/2 pairs and whose pairs are the ground truth for recall and precision on those rows.

Sampled rows: half uniform over the corpus (catches accidental matches at their natural rate), half
drawn from planted duplicate groups (so the recall estimate rests on hundreds of true pairs).

    .venv/bin/python benchmarks/dedup.py --sizes 5000 35000 100000 --sample-rows 300
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import time

import numpy as np

from ocr2_kedro.dedup import (
    NearDuplicateThresholds,
    connected_clusters,
    exhaustive_pairs,
    find_near_duplicate_pairs,
    normalize_text,
)

# Consonant-vowel(-consonant) syllables: a few hundred of them, so that unrelated statements share
# about as many character 5-grams as unrelated English statements do.
_SYLLABLES = [c + v + e for c in "bdfgklmnprstvz" for v in "aeiou" for e in ("", "n", "r", "s")]
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
    "output",
    "number",
    "numbers",
    "integer",
    "integers",
    "array",
    "string",
    "strings",
    "sequence",
    "grid",
    "tree",
    "graph",
    "edge",
    "edges",
    "vertex",
    "vertices",
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
    "lines",
    "query",
    "queries",
    "operation",
    "operations",
    "move",
    "moves",
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
    "elements",
    "pair",
    "pairs",
    "subset",
    "segment",
    "interval",
]
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
]
_VERBS = [
    "collects",
    "arranges",
    "visits",
    "paints",
    "splits",
    "merges",
    "sorts",
    "removes",
    "swaps",
    "builds",
    "walks",
    "counts",
    "chooses",
]
_BOILERPLATE = [
    "The first line contains a single integer t, the number of test cases.",
    "It is guaranteed that the sum of n over all test cases does not exceed 2*10^5.",
    "Print the answer for each test case on a separate line.",
    "If there are multiple answers, print any of them.",
]


def _pick(rng: np.random.Generator, options):
    """One element of a list (rng.choice would copy the whole list into an array on every call)."""
    return options[int(rng.integers(len(options)))]


def _pseudo_words(rng: np.random.Generator, count: int) -> list[str]:
    words = set()
    while len(words) < count:
        words.add("".join(_pick(rng, _SYLLABLES) for _ in range(int(rng.integers(2, 5)))))
    return sorted(words)


def _sentence(rng: np.random.Generator, vocabulary: list[str], length: int) -> str:
    pool = rng.random(length) < 0.35
    words = [str(_pick(rng, _COMMON)) if common else str(_pick(rng, vocabulary)) for common in pool]
    return " ".join(words).capitalize() + "."


def make_statement(rng: np.random.Generator, vocabulary: list[str]) -> str:
    name = _pick(rng, _NAMES)
    story = [
        f"{name} {_pick(rng, _VERBS)} {_pick(rng, vocabulary)} {_pick(rng, vocabulary)}s in the town of {_pick(rng, vocabulary).capitalize()}."
    ]
    story += [
        _sentence(rng, vocabulary, int(rng.integers(9, 16))) for _ in range(int(rng.integers(3, 5)))
    ]
    task = f"Find the {_pick(rng, ['minimum', 'maximum', 'number of'])} {_pick(rng, vocabulary)} {_pick(rng, _COMMON)} {_pick(rng, vocabulary)} that {name} can obtain."
    n_max = int(_pick(rng, [100, 1000, 2 * 10**5, 10**5, 10**6]))
    a_max = int(_pick(rng, [10**9, 10**6, 100, 10**18]))
    input_section = (
        f"Input: the first line contains n (1 <= n <= {n_max}). The second line contains n integers a_i (1 <= a_i <= {a_max}). "
        + _sentence(rng, vocabulary, int(rng.integers(6, 10)))
    )
    output_section = (
        "Output: print one integer, the "
        + _pick(rng, vocabulary)
        + " of the "
        + _pick(rng, vocabulary)
        + "."
    )
    boiler = [sentence for sentence in _BOILERPLATE if rng.random() < 0.5]
    return "\n\n".join(
        [" ".join(story), task, input_section, " ".join(boiler), output_section]
    ).strip()


def _reformat(rng: np.random.Generator, text: str) -> str:
    text = text.replace("<=", _pick(rng, ["≤", "\\le", "<="]))
    text = re.sub(
        r"\b(\d+)\b", lambda m: f"${m.group(1)}$" if rng.random() < 0.5 else m.group(1), text
    )
    return (
        text.replace("\n\n", _pick(rng, ["\n", "\n\n\n", " "])).upper()
        if rng.random() < 0.3
        else text.replace("\n\n", "\n")
    )


def _substitute_words(
    rng: np.random.Generator, text: str, vocabulary: list[str], share: float
) -> str:
    words = text.split(" ")
    for index in np.flatnonzero(rng.random(len(words)) < share):
        words[index] = str(_pick(rng, vocabulary))
    return " ".join(words)


def _edit_sentences(rng: np.random.Generator, text: str, vocabulary: list[str]) -> str:
    sentences = re.split(r"(?<=\.) ", text)
    for _ in range(int(rng.integers(1, 3))):
        if rng.random() < 0.5 and len(sentences) > 3:
            sentences.pop(int(rng.integers(len(sentences))))
        else:
            sentences.insert(
                int(rng.integers(len(sentences) + 1)),
                _sentence(rng, vocabulary, int(rng.integers(8, 14))),
            )
    return " ".join(sentences)


def _change_constraints(rng: np.random.Generator, text: str) -> str:
    return re.sub(
        r"\b\d+\b",
        lambda m: (
            str(int(m.group(0)) * int(_pick(rng, [2, 5, 10]))) if rng.random() < 0.7 else m.group(0)
        ),
        text,
    )


EDIT_KINDS = ("reformat", "substitute", "sentences", "constraints", "mixed")


def make_variant(rng: np.random.Generator, text: str, vocabulary: list[str], kind: str) -> str:
    if kind == "reformat":
        return _reformat(rng, text)
    if kind == "substitute":
        return _substitute_words(rng, text, vocabulary, float(rng.uniform(0.03, 0.3)))
    if kind == "sentences":
        return _edit_sentences(rng, text, vocabulary)
    if kind == "constraints":
        return _change_constraints(rng, text)
    text = _substitute_words(rng, text, vocabulary, float(rng.uniform(0.02, 0.15)))
    return _reformat(rng, _change_constraints(rng, _edit_sentences(rng, text, vocabulary)))


def build_corpus(
    size: int, seed: int = 0, planted_share: float = 0.3
) -> tuple[list[str], np.ndarray]:
    """`size` statements; returns (texts, group) where planted near-duplicates share a group id."""
    rng = np.random.default_rng(seed)
    vocabulary = _pseudo_words(rng, 20000)
    texts: list[str] = []
    groups: list[int] = []
    group = 0
    while len(texts) < size:
        base = make_statement(rng, vocabulary)
        texts.append(base)
        groups.append(group)
        if rng.random() < planted_share:
            for _ in range(int(rng.integers(1, 4))):
                if len(texts) >= size:
                    break
                texts.append(make_variant(rng, base, vocabulary, str(_pick(rng, EDIT_KINDS))))
                groups.append(group)
        group += 1
    order = rng.permutation(size)
    return [texts[i] for i in order], np.asarray(groups)[order]


def _pair_set(pairs: np.ndarray) -> set[tuple[int, int]]:
    return {(int(i), int(j)) for i, j in pairs}


def run(size: int, sample_rows: int, thresholds: NearDuplicateThresholds, seed: int) -> dict:
    texts, groups = build_corpus(size, seed=seed)
    steps: dict = {}
    started = time.perf_counter()
    normalized = [normalize_text(text) for text in texts]
    steps["normalize_s"] = time.perf_counter() - started
    pairs, _, candidates = find_near_duplicate_pairs(
        normalized, thresholds, normalized=True, timings=steps
    )
    clustered = time.perf_counter()
    connected_clusters(size, pairs)  # the clustering step is part of the timed pipeline
    steps["cluster_s"] = time.perf_counter() - clustered
    lsh_seconds = time.perf_counter() - started

    rng = np.random.default_rng(seed + 1)
    _, group_sizes = np.unique(groups, return_counts=True)
    planted_rows = np.flatnonzero(group_sizes[groups] > 1)
    half = sample_rows // 2
    rows = np.unique(
        np.concatenate(
            [
                rng.choice(size, size=min(half, size), replace=False),
                rng.choice(
                    planted_rows, size=min(sample_rows - half, len(planted_rows)), replace=False
                ),
            ]
        )
    )
    started = time.perf_counter()
    truth_pairs, _ = exhaustive_pairs(normalized, thresholds.fuzz_threshold, rows=rows)
    exhaustive_sample_seconds = time.perf_counter() - started
    computed_pairs = (
        len(rows) * size - len(rows) * (len(rows) + 1) / 2
    )  # row-vs-all, shared pairs once
    exhaustive_seconds = exhaustive_sample_seconds * (size * (size - 1) / 2) / computed_pairs

    in_rows = np.zeros(size, dtype=bool)
    in_rows[rows] = True
    truth = _pair_set(truth_pairs)
    found = _pair_set(pairs[in_rows[pairs[:, 0]] | in_rows[pairs[:, 1]]])
    hits = len(truth & found)
    return {
        "size": size,
        "sample_rows": len(rows),
        "lsh_candidates": candidates,
        "steps": steps,
        "load_average": os.getloadavg()[0],
        "lsh_pairs": len(pairs),
        "lsh_seconds": lsh_seconds,
        "exhaustive_sample_seconds": exhaustive_sample_seconds,
        "exhaustive_seconds_extrapolated": exhaustive_seconds,
        "speedup": exhaustive_seconds / lsh_seconds,
        "truth_pairs_on_sample": len(truth),
        "pair_recall": hits / len(truth) if truth else 1.0,
        "pair_precision": hits / len(found) if found else 1.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 35000, 100000])
    parser.add_argument(
        "--sample-rows",
        type=int,
        default=400,
        help="rows matched exhaustively against the whole corpus",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--num-perm", type=int, default=NearDuplicateThresholds.num_perm)
    parser.add_argument(
        "--minhash-passes", type=int, default=NearDuplicateThresholds.minhash_passes
    )
    parser.add_argument("--bands", type=int, default=NearDuplicateThresholds.bands)
    parser.add_argument(
        "--boilerplate-df",
        type=float,
        default=NearDuplicateThresholds.boilerplate_df,
        help="shingles in more than this share of the texts are not hashed (1.0: off)",
    )
    parser.add_argument("--min-jaccard", type=float, default=NearDuplicateThresholds.min_jaccard)
    parser.add_argument(
        "--fuzz-threshold", type=float, default=NearDuplicateThresholds.fuzz_threshold
    )
    args = parser.parse_args()
    thresholds = NearDuplicateThresholds(
        num_perm=args.num_perm,
        minhash_passes=args.minhash_passes,
        bands=args.bands,
        boilerplate_df=args.boilerplate_df,
        min_jaccard=args.min_jaccard,
        fuzz_threshold=args.fuzz_threshold,
    )
    print(
        f"machine: {platform.processor() or platform.machine()}, thresholds: {thresholds.as_dict()}"
    )
    header = "| N | LSH s | exhaustive s (extrap.) | speedup | pair recall | pair precision | true pairs on sample | candidates |"
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    results = []
    for size in args.sizes:
        result = run(size, args.sample_rows, thresholds, args.seed)
        results.append(result)
        print(
            f"| {size:,} | {result['lsh_seconds']:.1f} | {result['exhaustive_seconds_extrapolated']:.0f} "
            f"(sample {result['exhaustive_sample_seconds']:.0f} s, {result['sample_rows']} rows) | {result['speedup']:.0f}x | "
            f"{result['pair_recall']:.4f} | {result['pair_precision']:.4f} | {result['truth_pairs_on_sample']} | {result['lsh_candidates']:,} |",
            flush=True,
        )
    print()
    step_names = [
        "normalize_s",
        "document_frequency_s",
        "minhash_s",
        "lsh_s",
        "prefilter_s",
        "verify_s",
        "cluster_s",
    ]
    header = (
        "| N | "
        + " | ".join(name.removesuffix("_s") + " s" for name in step_names)
        + " | candidates | after prefilter | verified pairs | fallback texts | load avg |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for result in results:
        steps = result["steps"]
        print(
            f"| {result['size']:,} | "
            + " | ".join(f"{steps.get(name, 0.0):.2f}" for name in step_names)
            + f" | {steps['candidates']:,} | {steps['prefiltered']:,} | {steps['verified']:,} | "
            f"{steps['fallback_texts']:,} | {result['load_average']:.1f} |"
        )
    print()
    for previous, current in zip(results, results[1:], strict=False):
        print(
            f"{previous['size']:,} -> {current['size']:,} ({current['size'] / previous['size']:.1f}x N): "
            f"{current['lsh_seconds'] / previous['lsh_seconds']:.1f}x time, "
            f"{current['lsh_candidates'] / max(previous['lsh_candidates'], 1):.1f}x candidates"
        )


if __name__ == "__main__":
    main()
