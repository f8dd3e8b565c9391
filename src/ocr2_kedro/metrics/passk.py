"""Per-problem sampling metrics: pass@k, self-critique selection (pass@1|select@k), critique@k and
how well the model's own "right"/"wrong" judgements agree with the tests.

Every estimate is an exact expectation over the k-subsets of one problem's n samples (no Monte
Carlo), so runs with the same samples always report the same numbers.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from fractions import Fraction
from numbers import Integral, Real

import numpy as np

FALLBACKS = ("random", "shortest", "fail")


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k = 1 - C(n-c, k)/C(n, k) for n samples of which c passed.

    Computed in the product form of the Codex paper (Chen et al., 2021) so large n never
    overflows or loses precision in a ratio of huge binomials.
    """
    if k < 1:
        raise ValueError(f"pass@k needs k >= 1, got k={k}")
    if k > n:
        raise ValueError(f"pass@k needs at least k samples: k={k} > n={n}")
    if not 0 <= c <= n:
        raise ValueError(f"pass@k needs 0 <= c <= n, got c={c}, n={n}")
    if n - c < k:
        return 1.0
    return float(1.0 - np.prod(1.0 - k / np.arange(n - c + 1, n + 1)))


def select_at_k(
    passed: Sequence[bool],
    judged_right: Sequence[bool | None],
    critique_lengths: Sequence[float],
    k: int,
    fallback: str = "random",
) -> float:
    """pass@1|select@k for one problem: the expected pass of the sample the model itself picks.

    From a k-subset S of the n samples the model picks the sample it judged "right" with the
    shortest critique reasoning (ties picked uniformly). When no sample of S is judged right,
    ``fallback`` decides: "random" picks uniformly from S, "shortest" picks the shortest critique
    in S whatever its judgement (ties uniform), "fail" counts a failure. Returns the exact
    expectation over all C(n, k) subsets. An unparseable judgement (None) counts as not right.
    """
    if fallback not in FALLBACKS:
        raise ValueError(f"unknown fallback {fallback!r}: expected one of {FALLBACKS}")
    ok = _as_bools(passed, "passed")
    right = _as_bools(judged_right, "judged_right", allow_none=True)
    lengths = _as_lengths(critique_lengths)
    n = len(ok)
    if not len(right) == len(lengths) == n:
        raise ValueError(
            "passed, judged_right and critique_lengths must have one entry per sample, got "
            f"{n}, {len(right)} and {len(lengths)}"
        )
    if k < 1:
        raise ValueError(f"select@k needs k >= 1, got k={k}")
    if k > n:
        raise ValueError(f"select@k needs at least k samples: k={k} > n={n}")

    chosen = [i for i in range(n) if right[i]]
    others = [i for i in range(n) if not right[i]]
    # Subsets of all n samples that pick from the judged-right ones.
    total = _shortest_first([ok[i] for i in chosen], [lengths[i] for i in chosen], universe=n, k=k)
    # Subsets drawn wholly from the W samples not judged right go to the fallback.
    w = len(others)
    if fallback == "random" and w:
        total += Fraction(sum(ok[i] for i in others), w) * math.comb(w, k)
    elif fallback == "shortest":
        total += _shortest_first(
            [ok[i] for i in others], [lengths[i] for i in others], universe=w, k=k
        )
    return float(total / math.comb(n, k))


def self_critique_order(
    judged_right: Sequence[bool | None],
    critique_lengths: Sequence[float],
    fallback: str,
    rng: random.Random,
) -> list[int]:
    """The samples in the order the self-critique selector prefers them (select_at_k's rule, as a
    ranking): those judged "right", shortest critique reasoning first; then, by ``fallback``, the
    others in a random order ("random"), shortest critique first ("shortest"), or not at all
    ("fail": the selector never picks them). Ties are ordered by ``rng``, as select_at_k picks
    among them uniformly. The first index is the selector's pick among all the samples."""
    if fallback not in FALLBACKS:
        raise ValueError(f"unknown fallback {fallback!r}: expected one of {FALLBACKS}")
    right = _as_bools(judged_right, "judged_right", allow_none=True)
    lengths = _as_lengths(critique_lengths)
    if len(right) != len(lengths):
        raise ValueError(
            f"judged_right and critique_lengths differ in length: {len(right)} != {len(lengths)}"
        )
    ties = [rng.random() for _ in right]
    chosen = sorted((i for i in range(len(right)) if right[i]), key=lambda i: (lengths[i], ties[i]))
    others = [i for i in range(len(right)) if not right[i]]
    if fallback == "random":
        others = sorted(others, key=lambda i: ties[i])
    elif fallback == "shortest":
        others = sorted(others, key=lambda i: (lengths[i], ties[i]))
    else:
        others = []
    return chosen + others


def _shortest_first(ok: list[bool], lengths: list[float], universe: int, k: int) -> Fraction:
    """Sum over k-subsets of ``universe`` items of the pass of the shortest pool member in them.

    The pool (``ok``/``lengths``) is part of the universe. Pool members of equal length form a
    group; a subset picks from group g when it avoids the m shorter members and hits g, which
    C(U-m, k) - C(U-m-s, k) subsets do; by symmetry their expected pick passes with p/s.
    """
    total = Fraction(0)
    before = 0
    for length in sorted(set(lengths)):
        members = [o for o, ln in zip(ok, lengths, strict=True) if ln == length]
        s, p = len(members), sum(members)
        hits = math.comb(universe - before, k) - math.comb(universe - before - s, k)
        total += Fraction(p, s) * hits
        before += s
    return total


def critique_at_k(passed: Sequence[bool], judged_right: Sequence[bool | None], k: int) -> float:
    """critique@k: probability that a k-subset holds a sample that passed AND was judged right.

    Equals pass_at_k(n, c_both, k) with c_both the samples that passed and that the model's own
    critique called "right" (None, unparseable, is not right). It is the ceiling of any selector
    that only ever picks self-approved samples.
    """
    ok = _as_bools(passed, "passed")
    right = _as_bools(judged_right, "judged_right", allow_none=True)
    if len(ok) != len(right):
        raise ValueError(f"passed and judged_right differ in length: {len(ok)} != {len(right)}")
    both = sum(o and r for o, r in zip(ok, right, strict=True))
    return pass_at_k(len(ok), both, k)


def critic_agreement(
    passed: Sequence[bool], judged_right: Sequence[bool | None]
) -> dict[str, float]:
    """Confusion counts of the judgement "right" against the tests passing, with accuracy,
    precision (of "right") and recall (of passing samples).

    Precision is NaN when nothing was judged right and recall is NaN when nothing passed (and
    accuracy is NaN when there are no samples): undefined, not zero, so means over problems can
    drop them instead of being dragged down.
    """
    ok = _as_bools(passed, "passed")
    right = _as_bools(judged_right, "judged_right", allow_none=True)
    if len(ok) != len(right):
        raise ValueError(f"passed and judged_right differ in length: {len(ok)} != {len(right)}")
    pairs = list(zip(ok, right, strict=True))
    tp = sum(o and r for o, r in pairs)
    fp = sum(r and not o for o, r in pairs)
    fn = sum(o and not r for o, r in pairs)
    tn = sum(not o and not r for o, r in pairs)
    n = len(pairs)
    return {
        "accuracy": _ratio(tp + tn, n),
        "precision": _ratio(tp, tp + fp),
        "recall": _ratio(tp, tp + fn),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "n": n,
    }


def problem_metrics(
    passed: Sequence[bool],
    judged_right: Sequence[bool | None],
    critique_lengths: Sequence[float],
    ks: Iterable[int],
    fallback: str = "random",
) -> dict[str, float]:
    """All sampling metrics of one problem's n samples, keyed by MLflow-safe names (no "@").

    ``pass_at_1`` always; then, for each k in ``ks`` with k <= n (larger k are skipped, not
    estimated), ``pass_at_{k}``, ``pass_at_1_select_at_{k}``, ``random_select_at_{k}`` (a random
    pick among k, which is pass@1, named to sit beside select) and ``critique_at_{k}``.
    """
    ok = _as_bools(passed, "passed")
    n = len(ok)
    if n == 0:
        raise ValueError("problem_metrics needs at least one sample")
    c = sum(ok)
    metrics = {"pass_at_1": c / n}
    for k in sorted(set(ks)):
        if k > n:
            continue
        metrics[f"pass_at_{k}"] = pass_at_k(n, c, k)
        metrics[f"pass_at_1_select_at_{k}"] = select_at_k(
            ok, judged_right, critique_lengths, k, fallback=fallback
        )
        metrics[f"random_select_at_{k}"] = c / n
        metrics[f"critique_at_{k}"] = critique_at_k(ok, judged_right, k)
    return metrics


def _ratio(num: int, den: int) -> float:
    return num / den if den else float("nan")


def _as_bools(values: Iterable, name: str, allow_none: bool = False) -> list[bool]:
    """Plain bools; refuses strings and other truthy objects (``"wrong"`` is truthy)."""
    out = []
    for v in values:
        if v is None and allow_none:
            out.append(False)
        elif isinstance(v, bool | np.bool_) or (isinstance(v, Integral) and v in (0, 1)):
            out.append(bool(v))
        else:
            raise ValueError(f"{name} must hold booleans, got {v!r}")
    return out


def _as_lengths(values: Iterable) -> list[float]:
    out = []
    for v in values:
        if not isinstance(v, Real) or math.isnan(v):
            raise ValueError(f"critique_lengths must hold numbers, got {v!r}")
        out.append(v)
    return out
