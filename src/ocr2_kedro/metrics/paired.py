"""Paired differences between two variants with a bootstrap interval, so a comparison says whether
its difference is real.

Two variants scored on the same units (problems for pass@k and select@k, reference tokens for the
reference loss) share every unit's difficulty, so their per-unit differences vary far less than
either variant's values: the interval of the mean difference is much narrower than the two
per-variant intervals side by side would suggest, and overlapping per-variant intervals say nothing
about whether the difference is real. The interval here is a percentile bootstrap of the mean of
the per-unit differences, resampling units with replacement; a difference whose interval holds 0 is
marked not significant. Kedro-free: sequences and polars frames in, a dataclass or a frame out.

A unit may weigh more than one: the reference loss is a loss per token, and a reference solution of
300 tokens holds 300 token losses that are not independent of each other (one program, one
difficulty). Passing per-unit weights (`weights_a`, `weights_b`: a reference's tokens, its value
its mean loss per token) makes each variant's value its weighted mean over the units (the ratio
estimator sum(loss) / sum(tokens)) and the bootstrap resamples whole units (references, clusters
of tokens), recomputing both weighted means in every resample; treating tokens as the units would
make the interval far too narrow.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import polars as pl

from ocr2_kedro.metrics.evaluation import metric_columns

# Resampled values held at once by the bootstrap: the index matrix (int64) and the values it
# gathers (float64), 16 bytes each, so about 128 MB at most however many units there are (100k
# units x 2000 resamples is drawn in chunks of 80 resamples).
_CHUNK_ELEMENTS = 8_000_000

# One row per non-baseline variant of `paired_frame`; the variant's own column comes first.
PAIRED_FIELDS = pl.Schema(
    {
        "baseline": pl.String,
        "units": pl.Int64,
        "mean_a": pl.Float64,
        "mean_b": pl.Float64,
        "difference": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "confidence": pl.Float64,
        "significant": pl.Boolean,
        "label": pl.String,
    }
)


# The confidence of every comparison's interval (95%, as the evaluation summary's intervals).
CONFIDENCE = 0.95

# The metric name of the reference loss in a comparison (per-problem metrics keep their column names).
REFERENCE_LOSS_METRIC = "reference_loss"
# The language of the rows pooled over every language.
ALL_LANGUAGES = "all"

# One row per comparison (variant against baseline), metric, temperature (null for the reference
# loss, which samples nothing) and language ("all": every language's units pooled).
DIFFERENCES = pl.Schema(
    {
        "comparison": pl.String,  # "<variant>_vs_<baseline>"
        "variant": pl.String,
        "baseline": pl.String,
        "metric": pl.String,
        "language": pl.String,
        "temperature": pl.Float64,
        "unit": pl.String,  # what was resampled: "problem" or "reference" (a reference solution)
        "units": pl.Int64,
        "baseline_mean": pl.Float64,
        "variant_mean": pl.Float64,
        "difference": pl.Float64,  # variant_mean - baseline_mean
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "confidence": pl.Float64,
        "significant": pl.Boolean,
        "label": pl.String,
    }
)


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Mean of b - a over shared units (with weights: weighted mean of b minus weighted mean of a)
    with its percentile bootstrap interval.

    `significant` is True only when the interval excludes 0; one unit, or no spread at all among
    the differences with a mean of 0, cannot show a difference, and no shared units leave NaNs.
    """

    mean_a: float
    mean_b: float
    difference: float
    ci_low: float
    ci_high: float
    units: int
    confidence: float
    significant: bool

    def label(self, digits: int = 3) -> str:
        """Signed difference and interval for tables and plots, e.g. "+0.031 [+0.004, +0.058]",
        with " (n.s.)" appended when the interval holds 0.
        """
        if self.units == 0:
            return "n/a (no shared units)"
        text = (
            f"{self.difference:+.{digits}f} [{self.ci_low:+.{digits}f}, {self.ci_high:+.{digits}f}]"
        )
        return text if self.significant else f"{text} (n.s.)"


def _check_settings(resamples: int, confidence: float) -> None:
    if not 0 < confidence < 1:
        raise ValueError(
            f"confidence must lie strictly between 0 and 1 (e.g. 0.95 for a 95% interval), "
            f"got {confidence}"
        )
    if resamples < 1:
        raise ValueError(f"resamples must be a positive count (e.g. 2000), got {resamples}")


def _bootstrap_differences(
    a: np.ndarray,
    b: np.ndarray,
    weights: tuple[np.ndarray, np.ndarray] | None,
    resamples: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """The statistic of `resamples` resamples of the units (with replacement): the mean of b - a,
    or with weights the weighted mean of b minus that of a. Drawn in chunks of rows so the index
    matrix never exceeds `_CHUNK_ELEMENTS`; when all rows fit in one chunk the draws are those of
    `scipy.stats.bootstrap` (paired when weighted) with the same generator.
    """
    n = a.size
    rows = max(1, _CHUNK_ELEMENTS // n)
    statistics = np.empty(resamples)
    differences = b - a
    if weights is not None:
        weights_a, weights_b = weights
        # Gathered and summed one at a time: a chunk holds the index and one gathered matrix.
        parts = (weights_a * a, weights_a, weights_b * b, weights_b)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        index = rng.integers(0, n, size=(stop - start, n))
        if weights is None:
            statistics[start:stop] = differences[index].mean(axis=1)
        else:
            sum_a, total_a, sum_b, total_b = (part[index].sum(axis=1) for part in parts)
            statistics[start:stop] = sum_b / total_b - sum_a / total_a
    return statistics


def _as_weights(
    weights_a: Sequence[float] | None, weights_b: Sequence[float] | None, n: int
) -> tuple[np.ndarray, np.ndarray] | None:
    if weights_a is None and weights_b is None:
        return None
    if weights_a is None or weights_b is None:
        raise ValueError(
            "pass both weights_a and weights_b (each variant's weight per unit, e.g. the tokens "
            "each model scored in a reference), or neither"
        )
    arrays = tuple(np.asarray(w, dtype=float) for w in (weights_a, weights_b))
    if any(w.ndim != 1 or w.size != n for w in arrays):
        raise ValueError(
            f"weights must give one weight per unit ({n}); got shapes "
            f"{arrays[0].shape} and {arrays[1].shape}"
        )
    if not all(np.isfinite(w).all() and (w > 0).all() for w in arrays):
        raise ValueError(
            "weights must be finite and positive (a reference with no scored tokens carries no "
            "loss: leave it out of both, as paired_frame does)"
        )
    return arrays[0], arrays[1]


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    weights_a: Sequence[float] | None = None,
    weights_b: Sequence[float] | None = None,
) -> PairedDifference:
    """Mean of b - a over units that `a` and `b` both score, in the same order, with a percentile
    bootstrap interval (numpy `Generator(PCG64(seed))`: the same seed gives the same interval).

    `a` is the baseline, so a positive difference means b scores higher. Pass per-unit values:
    one pass@k or select@k estimate per problem, or one mean loss per token per reference solution
    with its tokens as `weights_a` / `weights_b` (each variant's own count: two tokenizers split a
    reference differently). With weights, `mean_a` and `mean_b` are the weighted means
    (sum(w * x) / sum(w)), the difference is theirs, and each resample draws whole units and
    recomputes both weighted means.
    """
    _check_settings(resamples, confidence)
    a_arr = np.asarray(a, dtype=float)
    b_arr = np.asarray(b, dtype=float)
    if a_arr.ndim != 1 or b_arr.ndim != 1 or a_arr.size != b_arr.size:
        raise ValueError(
            f"a and b must be flat sequences of one value per unit, over the same units in the same "
            f"order; got shapes {a_arr.shape} and {b_arr.shape}"
        )
    if not (np.isfinite(a_arr).all() and np.isfinite(b_arr).all()):
        raise ValueError(
            "a and b must hold finite values; drop the units a variant has no value for from both "
            "before pairing (paired_frame does this)"
        )
    n = int(a_arr.size)
    weights = _as_weights(weights_a, weights_b, n)
    if n == 0:
        nan = float("nan")
        return PairedDifference(nan, nan, nan, nan, nan, 0, confidence, False)
    differences = b_arr - a_arr
    if weights is None:
        mean_a, mean_b = float(a_arr.mean()), float(b_arr.mean())
        difference = float(differences.mean())
    else:
        mean_a = float(np.sum(weights[0] * a_arr) / np.sum(weights[0]))
        mean_b = float(np.sum(weights[1] * b_arr) / np.sum(weights[1]))
        difference = mean_b - mean_a
    same_weights = weights is None or np.array_equal(weights[0], weights[1])
    if n < 2 or (same_weights and np.ptp(differences) == 0):
        # Every resample is the same (one unit, or the same shift in every unit under the same
        # weights): the interval is the difference itself, exactly, without the rounding of a
        # mean of n copies; and one unit says nothing about the spread.
        d = float(differences[0])
        return PairedDifference(mean_a, mean_b, d, d, d, n, confidence, n >= 2 and d != 0)
    statistics = _bootstrap_differences(
        a_arr, b_arr, weights, resamples, np.random.Generator(np.random.PCG64(seed))
    )
    alpha = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(statistics, [alpha, 1 - alpha]))
    return PairedDifference(
        mean_a,
        mean_b,
        difference,
        low,
        high,
        n,
        confidence,
        low > 0 or high < 0,
    )


def paired_frame(
    frame: pl.DataFrame,
    *,
    unit: list[str],
    variant: str,
    value: str,
    baseline: str,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
    weight: str | None = None,
) -> pl.DataFrame:
    """Each non-baseline variant against `baseline`, from a long frame with one row per unit and
    variant: one row per variant (in order of first appearance) with the `PairedDifference` fields
    and its label, schema `variant` + `PAIRED_FIELDS`.

    Units are paired on the `unit` columns (an inner join): a unit counts only when both variants
    have a non-null, non-NaN value for it (and, with `weight`, a positive weight: a reference with
    no scored tokens holds no loss), and `units` says how many did; a variant with none gets a row
    with 0 units and NaNs. `weight` names a column of per-unit weights, each variant's own (see
    `paired_difference`). Every comparison uses the same `seed`; the paired units are sorted by
    `unit` so the interval does not depend on row order.
    """
    _check_settings(resamples, confidence)
    if not unit:
        raise ValueError("unit must name the column(s) that identify a unit, e.g. ['question_id']")
    if variant in PAIRED_FIELDS:
        raise ValueError(f"rename the variant column {variant!r}: the output uses that name")
    measured = [value] if weight is None else [value, weight]
    missing = [c for c in [*unit, variant, *measured] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the columns {missing}; it has {frame.columns}")
    if variant in unit or any(c in unit for c in measured):
        raise ValueError(f"unit {unit} must not include the variant, value or weight column")
    variants = frame.get_column(variant).cast(pl.String).unique(maintain_order=True).to_list()
    if baseline not in variants:
        raise ValueError(
            f"baseline {baseline!r} is not in column {variant!r}; pass one of {variants}"
        )
    valid = pl.col(value).is_not_null() & pl.col(value).is_not_nan()
    if weight is not None:
        valid &= pl.col(weight).is_not_null() & pl.col(weight).is_not_nan() & (pl.col(weight) > 0)
    long = frame.select(
        *unit,
        pl.col(variant).cast(pl.String),
        *(pl.col(c).cast(pl.Float64) for c in measured),
    ).filter(valid)
    duplicated = long.select(*unit, variant).is_duplicated()
    if duplicated.any():
        raise ValueError(
            f"frame has several rows for one unit and variant (e.g. "
            f"{long.filter(duplicated).row(0, named=True)}); pass one value per {unit} and "
            f"{variant!r}, e.g. aggregate samples to per-problem estimates first"
        )

    def side(name: str, suffix: str) -> pl.DataFrame:
        columns = [pl.col(value).alias(f"_{suffix}")]
        if weight is not None:
            columns.append(pl.col(weight).alias(f"_w{suffix}"))
        return long.filter(pl.col(variant) == name).select(*unit, *columns)

    base = side(baseline, "a")
    rows = []
    for name in variants:
        if name == baseline:
            continue
        shared = base.join(side(name, "b"), on=unit, how="inner").sort(unit)
        weights = (
            {}
            if weight is None
            else {
                "weights_a": shared.get_column("_wa").to_numpy(),
                "weights_b": shared.get_column("_wb").to_numpy(),
            }
        )
        result = paired_difference(
            shared.get_column("_a").to_numpy(),
            shared.get_column("_b").to_numpy(),
            resamples=resamples,
            seed=seed,
            confidence=confidence,
            **weights,
        )
        rows.append(
            {
                variant: name,
                "baseline": baseline,
                "units": result.units,
                "mean_a": result.mean_a,
                "mean_b": result.mean_b,
                "difference": result.difference,
                "ci_low": result.ci_low,
                "ci_high": result.ci_high,
                "confidence": result.confidence,
                "significant": result.significant,
                "label": result.label(),
            }
        )
    return pl.DataFrame(rows, schema=pl.Schema({variant: pl.String, **PAIRED_FIELDS}))


def comparison_pairs(names: Sequence[str], *, previous: bool) -> list[tuple[str, str]]:
    """(variant, baseline) pairs in `names`' order: every name against the first, and with
    `previous` also against the one before it where that is not the first (base -> stage1 ->
    stage2 gives stage1 vs base, stage2 vs base, stage2 vs stage1)."""
    names = list(names)
    if len(set(names)) != len(names):
        raise ValueError(f"names must be distinct, got {names}")
    pairs = [(name, names[0]) for name in names[1:]]
    if previous:
        pairs += [(name, before) for before, name in zip(names[1:], names[2:], strict=False)]
    return pairs


def _long_problems(problem_results: Mapping[str, pl.DataFrame]) -> tuple[pl.DataFrame, list[str]]:
    """One row per variant, problem, language and temperature with every per-problem metric."""
    frames = {name: frame for name, frame in problem_results.items() if not frame.is_empty()}
    metrics = list(dict.fromkeys(c for frame in frames.values() for c in metric_columns(frame)))
    if not frames or not metrics:
        return pl.DataFrame(), []
    long = pl.concat(
        [
            frame.select(
                "question_id",
                "language",
                pl.col("temperature").cast(pl.Float64),
                *(c for c in metrics if c in frame.columns),
            ).with_columns(pl.lit(name).alias("variant"))
            for name, frame in frames.items()
        ],
        how="diagonal_relaxed",
    )
    return long, metrics


def _long_reference_losses(reference_losses: Mapping[str, pl.DataFrame]) -> pl.DataFrame:
    """One row per variant and reference solution: its loss per token and its tokens."""
    frames = [
        frame.select(
            "question_id",
            "language",
            "reference_idx",
            (pl.col("nll") / pl.col("tokens")).alias(REFERENCE_LOSS_METRIC),
            pl.col("tokens").cast(pl.Float64),
        ).with_columns(pl.lit(name).alias("variant"))
        for name, frame in reference_losses.items()
        if not frame.is_empty()
    ]
    return pl.concat(frames) if frames else pl.DataFrame()


def _languages(long: pl.DataFrame) -> list[str]:
    return [*sorted(long.get_column("language").unique().to_list()), ALL_LANGUAGES]


def paired_comparison(
    problem_results: Mapping[str, pl.DataFrame],
    reference_losses: Mapping[str, pl.DataFrame],
    pairs: Sequence[tuple[str, str]],
    *,
    resamples: int,
    seed: int,
    confidence: float,
) -> pl.DataFrame:
    """Paired differences (schema `DIFFERENCES`) of each (variant, baseline) in `pairs`, for
    every per-problem metric the variants' problem results hold (pass@k, pass@1|select@k, random
    selection, critique@k) and for the reference loss.

    `problem_results`: per variant (keyed by its name, whatever its `model` column says), one row
    per problem, language and temperature with the per-problem metrics; units are the problems of a
    language at a temperature, or every (problem, language) for "all". `reference_losses`: per
    variant, one row per reference solution scored (`REFERENCE_TOKEN_LOSS`: question_id, language,
    reference_idx, nll summed over its tokens, tokens); the loss is the token-weighted mean over the
    references both scored, resampled by reference (clusters of tokens), never by token. A comparison
    where either side has nothing to pair gets a row with 0 units and NaNs, never no row.
    """
    _check_settings(resamples, confidence)
    unknown = (
        {name for pair in pairs for name in pair} - set(problem_results) - set(reference_losses)
    )
    if unknown:
        raise ValueError(
            f"pairs name {sorted(unknown)}, which have no tables; the tables are for "
            f"{sorted(set(problem_results) | set(reference_losses))}"
        )
    problems, metrics = _long_problems(problem_results)
    references = _long_reference_losses(reference_losses)
    rows: list[dict] = []

    def add(long: pl.DataFrame, variant: str, baseline: str, metric: str, **group) -> None:
        keys = {"metric": metric, **group}
        language, temperature = group["language"], group["temperature"]
        subset = long.filter(pl.col("variant").is_in([variant, baseline]))
        if language != ALL_LANGUAGES:
            subset = subset.filter(pl.col("language") == language)
        if temperature is not None:
            subset = subset.filter(pl.col("temperature") == temperature)
        present = set(subset.get_column("variant"))
        weighted = metric == REFERENCE_LOSS_METRIC
        if {variant, baseline} <= present:
            [row] = paired_frame(
                subset,
                # A reference solution, or a problem in a language.
                unit=["question_id", "language", "reference_idx"]
                if weighted
                else ["question_id", "language"],
                variant="variant",
                value=metric,
                baseline=baseline,
                resamples=resamples,
                seed=seed,
                confidence=confidence,
                weight="tokens" if weighted else None,
            ).iter_rows(named=True)
        else:
            nothing = paired_difference(
                [], [], resamples=resamples, seed=seed, confidence=confidence
            )
            row = {"label": nothing.label(), **asdict(nothing)}
        rows.append(
            {
                "comparison": f"{variant}_vs_{baseline}",
                "variant": variant,
                "baseline": baseline,
                **keys,
                "units": row["units"],
                "baseline_mean": row["mean_a"],
                "variant_mean": row["mean_b"],
                **{
                    field: row[field]
                    for field in ("difference", "ci_low", "ci_high", "confidence", "significant")
                },
                "label": row["label"],
            }
        )

    for variant, baseline in pairs:
        if metrics:
            pair = problems.filter(pl.col("variant").is_in([variant, baseline]))
            temperatures = sorted(set(pair.get_column("temperature").drop_nulls()))
            for metric in metrics:
                for temperature in temperatures:
                    for language in _languages(problems):
                        add(
                            problems,
                            variant,
                            baseline,
                            metric,
                            language=language,
                            temperature=temperature,
                            unit="problem",
                        )
        if not references.is_empty():
            for language in _languages(references):
                add(
                    references,
                    variant,
                    baseline,
                    REFERENCE_LOSS_METRIC,
                    language=language,
                    temperature=None,
                    unit="reference",
                )
    return pl.DataFrame(rows, schema=DIFFERENCES)


__all__ = [
    "ALL_LANGUAGES",
    "CONFIDENCE",
    "DIFFERENCES",
    "PAIRED_FIELDS",
    "REFERENCE_LOSS_METRIC",
    "PairedDifference",
    "comparison_pairs",
    "paired_comparison",
    "paired_difference",
    "paired_frame",
]
