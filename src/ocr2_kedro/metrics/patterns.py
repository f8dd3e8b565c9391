"""Statistics of reasoning patterns: how the frequency of each behaviour differs between teacher
traces whose solutions passed every test and those that failed one.

Traces are labelled by `ocr2_kedro.patterns` (lexical markers and a classifier model); here, per
behaviour and method: the frequency in passed vs failed traces, Fisher's exact test on the 2x2
table, Benjamini-Hochberg across behaviours (per method), Cohen's kappa between the two methods,
and, when the generations carry it, the mean per-token entropy of passed vs failed traces with a
Mann-Whitney U test; the stratified sample they are computed on; the flat MLflow metrics. The card
text is `ocr2_kedro.reporting.patterns`. Kedro-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import polars as pl

from ocr2_kedro.patterns.behaviours import BEHAVIOURS, Behaviour

METHODS = ("lexical", "llm")
GROUPS = ("passed", "failed")
# What verification says about a solution: "passed" every test (AC), or "failed" one. SE (a fault
# of the sandbox) and unverified samples belong to neither group.
FAILED_VERDICTS = ("WA", "TLE", "MLE", "RE", "CE", "OLE")
ENTROPY_OFF = "entropy: not available (generation.sampling.logprobs was off)"


# --------------------------------------------------------------------------------------- sampling


def outcome(verdict: pl.Expr) -> pl.Expr:
    """ "passed" (AC), "failed" (a verdict blaming the solution) or null (SE, unverified)."""
    return (
        pl.when(verdict == "AC")
        .then(pl.lit("passed"))
        .when(verdict.is_in(FAILED_VERDICTS))
        .then(pl.lit("failed"))
        .otherwise(pl.lit(None, pl.String))
    )


def stratified_sample(outcomes: pl.DataFrame, max_traces: int | None, seed: int) -> pl.DataFrame:
    """Up to `max_traces` rows, half passed and half failed (the share one group cannot fill goes
    to the other), drawn with `seed`; the same rows for the same table (sorted by generation_id
    first, so the table's order does not matter). Sorted by generation_id."""
    ordered = outcomes.sort("generation_id")
    available = {g: ordered.filter(pl.col("outcome") == g).height for g in GROUPS}
    if max_traces is None or max_traces >= sum(available.values()):
        return ordered.filter(pl.col("outcome").is_in(GROUPS))
    half = max_traces // 2
    quota = {"passed": min(available["passed"], max_traces - min(available["failed"], half))}
    quota["failed"] = min(available["failed"], max_traces - quota["passed"])
    parts = [
        ordered.filter(pl.col("outcome") == g).sample(n=quota[g], seed=seed, shuffle=False)
        for g in GROUPS
    ]
    return pl.concat(parts).sort("generation_id")


# ------------------------------------------------------------------------------------- statistics


def fisher_test(k_passed: int, n_passed: int, k_failed: int, n_failed: int) -> dict:
    """Fisher's exact test (two-sided) on [[k_passed, n_passed - k_passed], [k_failed, ...]]:
    the odds ratio (None when undefined) and p (None when a group is empty)."""
    from scipy.stats import fisher_exact

    if not n_passed or not n_failed:
        return {"odds_ratio": None, "p": None}
    result = fisher_exact([[k_passed, n_passed - k_passed], [k_failed, n_failed - k_failed]])
    odds = float(result.statistic)
    return {"odds_ratio": odds if math.isfinite(odds) else None, "p": float(result.pvalue)}


def benjamini_hochberg(pvalues: Sequence[float | None]) -> list[float | None]:
    """Benjamini-Hochberg adjusted p-values (scipy's `false_discovery_control`), over the p-values
    that exist; None stays None (a test that could not run is not one of the family)."""
    from scipy.stats import false_discovery_control

    present = [i for i, p in enumerate(pvalues) if p is not None]
    adjusted: list[float | None] = [None] * len(pvalues)
    if present:
        values = false_discovery_control([pvalues[i] for i in present], method="bh")
        for i, value in zip(present, values, strict=True):
            adjusted[i] = float(value)
    return adjusted


def cohen_kappa(first: Sequence[bool], second: Sequence[bool]) -> float | None:
    """Cohen's kappa of two binary labellings of the same items; None when undefined (no items, or
    both labellings constant and equal: chance agreement is then 1). sklearn's when installed."""
    if len(first) != len(second):
        raise ValueError("cohen_kappa needs two labellings of the same items")
    n = len(first)
    if not n:
        return None
    p_first = sum(map(bool, first)) / n
    p_second = sum(map(bool, second)) / n
    chance = p_first * p_second + (1 - p_first) * (1 - p_second)
    if chance >= 1:
        return None
    try:
        from sklearn.metrics import cohen_kappa_score
    except ImportError:
        observed = sum(bool(a) == bool(b) for a, b in zip(first, second, strict=True)) / n
        return (observed - chance) / (1 - chance)
    return float(cohen_kappa_score([bool(a) for a in first], [bool(b) for b in second]))


def compare_entropy(passed: Sequence[float], failed: Sequence[float], min_group_size: int) -> dict:
    """Mean per-token entropy of passed vs failed traces, with a two-sided Mann-Whitney U test."""
    from scipy.stats import mannwhitneyu

    def group(values: Sequence[float]) -> dict:
        values = [float(v) for v in values]
        if not values:
            return {"n": 0, "mean": None, "median": None}
        ordered = sorted(values)
        middle = len(ordered) // 2
        median = (
            ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
        )
        return {"n": len(values), "mean": sum(values) / len(values), "median": median}

    summary = {"available": True, "passed": group(passed), "failed": group(failed)}
    summary["too_small"] = min(len(passed), len(failed)) < min_group_size
    if passed and failed:
        result = mannwhitneyu(passed, failed, alternative="two-sided")
        summary |= {"u": float(result.statistic), "p": float(result.pvalue)}
    else:
        summary |= {"u": None, "p": None}
    return summary


def _rate(k: int, n: int) -> float | None:
    return k / n if n else None


def summarize_labels(
    labels: pl.DataFrame,
    *,
    min_group_size: int,
    behaviours: Sequence[Behaviour] = BEHAVIOURS,
) -> dict:
    """Per behaviour and method: n, count and frequency per group, the difference (passed minus
    failed), Fisher's p, Benjamini-Hochberg p across behaviours (per method), whether a group is
    under `min_group_size`; per behaviour, the methods' agreement. `labels` needs `outcome` and
    the columns of `labels_schema`. An unparsed LLM label leaves its trace out of that
    behaviour's llm counts (its n says so) and is counted in `unparsed`."""
    result: dict[str, dict] = {b.name: {} for b in behaviours}
    for method in METHODS:
        tests = []
        for b in behaviours:
            column = f"{method}_{b.name}"
            known = labels.filter(pl.col(column).is_not_null())
            counts = {
                g: (
                    int(known.filter(pl.col("outcome") == g)[column].sum()),
                    known.filter(pl.col("outcome") == g).height,
                )
                for g in GROUPS
            }
            (k_p, n_p), (k_f, n_f) = counts["passed"], counts["failed"]
            entry = {g: {"n": n, "k": k, "freq": _rate(k, n)} for g, (k, n) in counts.items()}
            entry["diff"] = (
                entry["passed"]["freq"] - entry["failed"]["freq"] if n_p and n_f else None
            )
            entry |= fisher_test(k_p, n_p, k_f, n_f)
            entry["too_small"] = min(n_p, n_f) < min_group_size
            if method == "llm":
                entry["unparsed"] = labels[column].null_count()
            if method == "lexical":
                rates = {
                    g: labels.filter(pl.col("outcome") == g)[f"{column}_per_1k"].mean()
                    for g in GROUPS
                }
                entry["per_1k_words"] = {
                    g: None if value is None else float(value) for g, value in rates.items()
                }
            result[b.name][method] = entry
            tests.append(entry["p"])
        for b, adjusted in zip(behaviours, benjamini_hochberg(tests), strict=True):
            result[b.name][method]["p_adj"] = adjusted
    for b in behaviours:
        both = labels.filter(pl.col(f"llm_{b.name}").is_not_null())
        lexical, llm = both[f"lexical_{b.name}"].to_list(), both[f"llm_{b.name}"].to_list()
        agree = sum(a == c for a, c in zip(lexical, llm, strict=True))
        result[b.name]["agreement"] = {
            "n": both.height,
            "percent": 100.0 * agree / both.height if both.height else None,
            "kappa": cohen_kappa(lexical, llm),
        }
    return result


def build_summary(
    labels: pl.DataFrame,
    *,
    population: dict[str, int],
    entropy: dict,
    run: dict,
    behaviours: Sequence[Behaviour] = BEHAVIOURS,
) -> dict:
    """The JSON summary of a patterns run: `run` (settings: critic_model, embedded, seed,
    max_chars, min_group_size...), `population` (verified samples per group, and excluded ones),
    `sample`, per-behaviour statistics, the classifier's answer counts and the entropy comparison."""
    llm_columns = [f"llm_{b.name}" for b in behaviours]
    return {
        "run": run,
        "population": population,
        "sample": {
            "traces": labels.height,
            **{g: labels.filter(pl.col("outcome") == g).height for g in GROUPS},
            "truncated": int((labels["truncated_chars"] > 0).sum()),
        },
        "behaviours": summarize_labels(
            labels, min_group_size=int(run["min_group_size"]), behaviours=behaviours
        ),
        "llm": {
            "answers": labels.height,
            "errors": int((labels["llm_finish_reason"] == "error").sum()),
            "answers_with_unparsed": int((labels["llm_unparsed"] > 0).sum()),
            "unparsed_labels": int(sum(labels[c].null_count() for c in llm_columns)),
        },
        "entropy": entropy,
    }


def metrics(summary: dict) -> dict[str, float]:
    """Flat numeric metrics for MLflow (no "@"; names stable across runs)."""
    values: dict[str, float | None] = {
        f"sample_{g}": summary.get("sample", {}).get(g) for g in GROUPS
    }
    values["llm_unparsed_labels"] = summary.get("llm", {}).get("unparsed_labels")
    for name, entry in summary.get("behaviours", {}).items():
        for method in METHODS:
            stats = entry[method]
            for g in GROUPS:
                values[f"{name}_{method}_{g}"] = stats[g]["freq"]
            values[f"{name}_{method}_diff"] = stats["diff"]
            values[f"{name}_{method}_p_adj"] = stats["p_adj"]
        values[f"{name}_kappa"] = entry["agreement"]["kappa"]
    entropy = summary.get("entropy", {})
    if entropy.get("available"):
        values |= {
            "entropy_passed": entropy["passed"]["mean"],
            "entropy_failed": entropy["failed"]["mean"],
            "entropy_p": entropy["p"],
        }
    return {name: float(value) for name, value in values.items() if value is not None}
