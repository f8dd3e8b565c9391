"""Paired differences between two variants with a bootstrap interval, so a comparison says whether
its difference is real.

Two variants scored on the same units (problems for pass@k and select@k, reference tokens for the
reference loss) share every unit's difficulty, so their per-unit differences vary far less than
either variant's values: the interval of the mean difference is much narrower than the two
per-variant intervals side by side would suggest, and overlapping per-variant intervals say nothing
about whether the difference is real. The interval here is a percentile bootstrap of the mean of
the per-unit differences, resampling units with replacement; a difference whose interval holds 0 is
marked not significant. Kedro-free: sequences and polars frames in, a dataclass or a frame out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import polars as pl

# Resampled values held at once by the bootstrap: the index matrix (int64) and the values it
# gathers (float64), 16 bytes each, so about 128 MB at most however many units there are (100k
# reference tokens x 2000 resamples is drawn in chunks of 80 resamples).
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


@dataclass(frozen=True, slots=True)
class PairedDifference:
    """Mean of b - a over shared units with its percentile bootstrap interval.

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


def _bootstrap_means(
    differences: np.ndarray, resamples: int, rng: np.random.Generator
) -> np.ndarray:
    """Means of `resamples` resamples of the units (with replacement), drawn in chunks of rows so
    the index matrix never exceeds `_CHUNK_ELEMENTS`. When all rows fit in one chunk the draws are
    those of `scipy.stats.bootstrap` with the same generator.
    """
    n = differences.size
    rows = max(1, _CHUNK_ELEMENTS // n)
    means = np.empty(resamples)
    for start in range(0, resamples, rows):
        stop = min(resamples, start + rows)
        index = rng.integers(0, n, size=(stop - start, n))
        means[start:stop] = differences[index].mean(axis=1)
    return means


def paired_difference(
    a: Sequence[float],
    b: Sequence[float],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> PairedDifference:
    """Mean of b - a over units that `a` and `b` both score, in the same order, with a percentile
    bootstrap interval (numpy `Generator(PCG64(seed))`: the same seed gives the same interval).

    `a` is the baseline, so a positive difference means b scores higher. Pass per-unit values:
    one pass@k or select@k estimate per problem, or one loss per reference token.
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
    if n == 0:
        nan = float("nan")
        return PairedDifference(nan, nan, nan, nan, nan, 0, confidence, False)
    differences = b_arr - a_arr
    mean_a, mean_b = float(a_arr.mean()), float(b_arr.mean())
    if n < 2 or np.ptp(differences) == 0:
        # Every resample is the same: the interval is the difference itself (exactly, without the
        # rounding of a mean of n copies), and one unit says nothing about the spread.
        d = float(differences[0])
        return PairedDifference(mean_a, mean_b, d, d, d, n, confidence, n >= 2 and d != 0)
    means = _bootstrap_means(differences, resamples, np.random.Generator(np.random.PCG64(seed)))
    alpha = (1 - confidence) / 2
    low, high = (float(q) for q in np.quantile(means, [alpha, 1 - alpha]))
    return PairedDifference(
        mean_a,
        mean_b,
        float(differences.mean()),
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
) -> pl.DataFrame:
    """Each non-baseline variant against `baseline`, from a long frame with one row per unit and
    variant: one row per variant (in order of first appearance) with the `PairedDifference` fields
    and its label, schema `variant` + `PAIRED_FIELDS`.

    Units are paired on the `unit` columns (an inner join): a unit counts only when both variants
    have a non-null, non-NaN value for it, and `units` says how many did. Every comparison uses the
    same `seed`; the paired units are sorted by `unit` so the interval does not depend on row order.
    """
    _check_settings(resamples, confidence)
    if not unit:
        raise ValueError("unit must name the column(s) that identify a unit, e.g. ['question_id']")
    if variant in PAIRED_FIELDS:
        raise ValueError(f"rename the variant column {variant!r}: the output uses that name")
    missing = [c for c in [*unit, variant, value] if c not in frame.columns]
    if missing:
        raise ValueError(f"frame lacks the columns {missing}; it has {frame.columns}")
    if variant in unit or value in unit:
        raise ValueError(f"unit {unit} must not include the variant or value column")
    long = frame.select(
        *unit, pl.col(variant).cast(pl.String), pl.col(value).cast(pl.Float64)
    ).filter(pl.col(value).is_not_null() & pl.col(value).is_not_nan())
    duplicated = long.select(*unit, variant).is_duplicated()
    if duplicated.any():
        raise ValueError(
            f"frame has several rows for one unit and variant (e.g. "
            f"{long.filter(duplicated).row(0, named=True)}); pass one value per {unit} and "
            f"{variant!r}, e.g. aggregate samples to per-problem estimates first"
        )
    variants = long.get_column(variant).unique(maintain_order=True).to_list()
    if baseline not in variants:
        raise ValueError(
            f"baseline {baseline!r} has no values in column {variant!r}; pass one of {variants}"
        )
    base = long.filter(pl.col(variant) == baseline).select(*unit, pl.col(value).alias("_a"))
    rows = []
    for name in variants:
        if name == baseline:
            continue
        other = long.filter(pl.col(variant) == name).select(*unit, pl.col(value).alias("_b"))
        shared = base.join(other, on=unit, how="inner").sort(unit)
        result = paired_difference(
            shared.get_column("_a").to_numpy(),
            shared.get_column("_b").to_numpy(),
            resamples=resamples,
            seed=seed,
            confidence=confidence,
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


__all__ = ["PAIRED_FIELDS", "PairedDifference", "paired_difference", "paired_frame"]
