"""Selectors side by side on the same samples: GenSelect (the model reads k of its candidates and
names one, `generation.genselect`) beside the self-critique selector (the candidate judged right
with the shortest critique), a random pick and the oracle (any candidate right), all on the same
seeded k-subsets of a unit's samples (a unit: one problem in one language at one temperature).

Per unit, each selector's value is its mean over the unit's drawn subsets (`subset_metrics`):

    pass_at_1_genselect_at_{k}      the candidate GenSelect named passed (unparsed: the fallback)
    pass_at_1_select_at_{k}_drawn   the self-critique selector's pick passed (its exact expectation
                                    within each subset: ties and its fallback as in
                                    `passk.select_at_k`); `pass_at_1_select_at_{k}` beside it is
                                    the exact expectation over all C(n, k) subsets
    random_select_at_{k}_drawn      the mean pass of the subset (a uniform pick; pass@1 in
                                    expectation)
    oracle_select_at_{k}_drawn      any candidate of the subset passed (pass@k on these subsets)

A subset holding a sample the sandbox could not judge (SE) says nothing about its pick and is
left out (counted). Over units, the mean with a percentile bootstrap interval that resamples
problems, with all of a problem's units together (its languages), through `metrics.paired`'s
bootstrap (`clustered_mean`); and the paired difference GenSelect minus self-critique on the same
subsets. Kedro-free.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import polars as pl

from ocr2_kedro.metrics.paired import paired_difference
from ocr2_kedro.metrics.passk import select_at_k

# What GenSelect falls back to when its answer names no candidate: the first candidate shown, a
# uniform pick (its exact expectation: the subset's mean pass) or a failure.
GENSELECT_FALLBACKS = ("first", "random", "fail")

# One row per drawn subset: what GenSelect was shown and what it picked.
GENSELECT = pl.Schema(
    {
        "model": pl.String,
        "question_id": pl.String,
        "language": pl.String,
        "temperature": pl.Float64,
        "k": pl.Int64,
        "subset_idx": pl.Int64,
        # The candidates in the order shown (numbered 1..k in the prompt).
        "sample_idxs": pl.List(pl.Int64),
        "sample_ids": pl.List(pl.String),
        # generation.genselect.STATUSES: parsed | unparsed | single_candidate (no request sent).
        "status": pl.String,
        "choice": pl.Int64,  # 0-based position of the named candidate; null: unparsed
        "chosen_number": pl.Int64,  # the number as written (null: none), even out of range
        "chosen_sample_idx": pl.Int64,
        "output": pl.String,
        "finish_reason": pl.String,
        "num_output_tokens": pl.Int64,  # 0 when no request was sent
        "request_fingerprint": pl.String,
    }
)

UNIT = ("model", "question_id", "language", "temperature")
METHODS = ("genselect", "self_critique", "random", "oracle")
ALL_LANGUAGES = "all"


def metric_names(k: int) -> dict[str, str]:
    """Selector -> its per-unit metric column at k (MLflow-safe: no "@")."""
    return {
        "genselect": f"pass_at_1_genselect_at_{k}",
        "self_critique": f"pass_at_1_select_at_{k}_drawn",
        "random": f"random_select_at_{k}_drawn",
        "oracle": f"oracle_select_at_{k}_drawn",
    }


def genselect_pick(passed: Sequence[bool], choice: int | None, fallback: str) -> tuple[float, bool]:
    """(value of GenSelect's pick from one subset's candidates, whether the fallback decided)."""
    if fallback not in GENSELECT_FALLBACKS:
        raise ValueError(f"unknown fallback {fallback!r}: expected one of {GENSELECT_FALLBACKS}")
    if choice is not None:
        if not 0 <= choice < len(passed):
            raise ValueError(f"choice {choice} is outside the {len(passed)} candidates")
        return float(passed[choice]), False
    if fallback == "first":
        return float(passed[0]), True
    if fallback == "random":
        return sum(passed) / len(passed), True
    return 0.0, True


def subset_metrics(
    passed: Sequence[bool | None],
    judged_right: Sequence[bool | None],
    critique_lengths: Sequence[float],
    subsets: Sequence[Sequence[int]],
    choices: Sequence[int | None],
    *,
    fallback: str,
    critique_fallback: str,
) -> dict[str, float | int | None]:
    """One unit's selectors on its drawn subsets. `passed[i]` is sample i's pass (None: SE, no
    verdict), `judged_right` / `critique_lengths` its self-critique (inf: none), `subsets` the
    drawn subsets as sample indices in the order shown, `choices` GenSelect's pick in each
    (position in the subset, None: unparsed or nothing to pick). Returns the per-unit means
    (`metric_names`, None when no subset was usable), `subsets` (used), `se_subsets` (left out:
    they hold an SE sample) and `fallbacks` (used subsets GenSelect's fallback decided)."""
    if len(subsets) != len(choices):
        raise ValueError(f"{len(subsets)} subsets but {len(choices)} choices")
    values: dict[str, list[float]] = {method: [] for method in METHODS}
    se = fallbacks = 0
    for subset, choice in zip(subsets, choices, strict=True):
        outcome = [passed[i] for i in subset]
        if any(o is None for o in outcome):
            se += 1
            continue
        ok = [bool(o) for o in outcome]
        picked, fell_back = genselect_pick(ok, choice, fallback)
        fallbacks += fell_back
        values["genselect"].append(picked)
        values["self_critique"].append(
            select_at_k(
                ok,
                [judged_right[i] for i in subset],
                [critique_lengths[i] for i in subset],
                len(subset),
                fallback=critique_fallback,
            )
        )
        values["random"].append(sum(ok) / len(ok))
        values["oracle"].append(float(any(ok)))
    k = len(subsets[0]) if subsets else 0
    names = metric_names(k)
    return {
        **{names[m]: (float(np.mean(v)) if v else None) for m, v in values.items()},
        "subsets": len(subsets) - se,
        "se_subsets": se,
        "fallbacks": fallbacks,
    }


def unit_metrics(
    sample_results: pl.DataFrame,
    genselect: pl.DataFrame,
    *,
    fallback: str,
    critique_fallback: str,
) -> pl.DataFrame:
    """Per unit and k: the selectors' means over the unit's drawn subsets and their counts, wide:
    one row per unit with `metric_names(k)` columns and `genselect_subsets_at_{k}`,
    `genselect_se_subsets_at_{k}`, `genselect_unparsed_at_{k}`,
    `genselect_requests_at_{k}` and `genselect_tokens_at_{k}` (GenSelect's generated tokens).
    `genselect_unparsed_at_{k}` counts GenSelect's answers that named no candidate (status
    unparsed), whose pick the fallback made."""
    if genselect.is_empty():
        return pl.DataFrame(schema={c: sample_results.schema[c] for c in UNIT})
    samples = {
        key: group.sort("sample_idx")
        for key, group in sample_results.partition_by(
            list(UNIT), as_dict=True, maintain_order=True
        ).items()
    }
    rows: dict[tuple, dict] = {}
    for (*unit, k), group in genselect.partition_by(
        [*UNIT, "k"], as_dict=True, maintain_order=True
    ).items():
        unit = tuple(unit)
        found = samples.get(unit)
        if found is None:
            raise ValueError(f"GenSelect rows for {unit} have no sample results")
        by_idx = {row["sample_idx"]: row for row in found.iter_rows(named=True)}
        n = max(by_idx) + 1
        missing = sorted({i for idxs in group["sample_idxs"] for i in idxs} - set(by_idx))
        if missing:
            raise ValueError(f"GenSelect of {unit} names samples {missing} with no result")
        # A sample without a result (not sampled) or with SE has no verdict.
        passed = [
            None if i not in by_idx or by_idx[i]["system_error"] else bool(by_idx[i]["passed"])
            for i in range(n)
        ]
        right = [bool(by_idx[i]["judged_right"]) if i in by_idx else False for i in range(n)]
        lengths = [
            math.inf
            if i not in by_idx or by_idx[i]["critique_length"] is None
            else by_idx[i]["critique_length"]
            for i in range(n)
        ]
        group = group.sort("subset_idx")
        metrics = subset_metrics(
            passed,
            right,
            lengths,
            group["sample_idxs"].to_list(),
            group["choice"].to_list(),
            fallback=fallback,
            critique_fallback=critique_fallback,
        )
        row = rows.setdefault(unit, dict(zip(UNIT, unit, strict=True)))
        row.update({name: metrics[name] for name in metric_names(k).values()})
        row[f"genselect_subsets_at_{k}"] = metrics["subsets"]
        row[f"genselect_se_subsets_at_{k}"] = metrics["se_subsets"]
        # Answers that named no candidate (a subset without two candidates with code asks nothing).
        row[f"genselect_unparsed_at_{k}"] = int((group["status"] == "unparsed").sum())
        row[f"genselect_requests_at_{k}"] = int((group["status"] != "single_candidate").sum())
        row[f"genselect_tokens_at_{k}"] = int(group["num_output_tokens"].fill_null(0).sum())
    return pl.DataFrame(list(rows.values()), infer_schema_length=None).with_columns(
        pl.col("temperature").cast(pl.Float64)
    )


def clustered_mean(
    values: Sequence[float],
    clusters: Sequence[object],
    *,
    resamples: int,
    seed: int,
    confidence: float,
) -> tuple[float, float, float, int]:
    """(mean over units, ci_low, ci_high, clusters) with a percentile bootstrap that resamples
    whole clusters (problems: a problem's languages together). The mean of the units is the
    cluster-size-weighted mean of the cluster means, which is what `paired.paired_difference`
    resamples with per-unit weights; the mean is its difference from a baseline of zeros."""
    frame = (
        pl.DataFrame({"cluster": [str(c) for c in clusters], "value": list(values)})
        .group_by("cluster")
        .agg(pl.col("value").mean(), pl.len().cast(pl.Float64).alias("units"))
        .sort("cluster")
    )
    if frame.is_empty():
        nan = float("nan")
        return nan, nan, nan, 0
    weights = frame["units"].to_numpy()
    result = paired_difference(
        np.zeros(frame.height),
        frame["value"].to_numpy(),
        resamples=resamples,
        seed=seed,
        confidence=confidence,
        weights_a=weights,
        weights_b=weights,
    )
    return result.difference, result.ci_low, result.ci_high, frame.height


def paired_selector_difference(
    genselect: Sequence[float],
    critique: Sequence[float],
    clusters: Sequence[object],
    *,
    resamples: int,
    seed: int,
    confidence: float,
):
    """GenSelect minus the self-critique selector on the same subsets, paired per unit and
    resampled by problem (`paired.paired_difference` with cluster weights)."""
    frame = (
        pl.DataFrame(
            {"cluster": [str(c) for c in clusters], "a": list(critique), "b": list(genselect)}
        )
        .group_by("cluster")
        .agg(pl.col("a").mean(), pl.col("b").mean(), pl.len().cast(pl.Float64).alias("units"))
        .sort("cluster")
    )
    weights = frame["units"].to_numpy()
    return paired_difference(
        frame["a"].to_numpy(),
        frame["b"].to_numpy(),
        resamples=resamples,
        seed=seed,
        confidence=confidence,
        weights_a=weights if frame.height else None,
        weights_b=weights if frame.height else None,
    )


# One row per model, language ("all": pooled), temperature, k and selector.
SELECTOR_TABLE = pl.Schema(
    {
        "model": pl.String,
        "language": pl.String,
        "temperature": pl.Float64,
        "k": pl.Int64,
        "method": pl.String,  # genselect | self_critique | random | oracle | genselect_minus_self_critique
        "metric": pl.String,  # the per-unit column (MLflow name part)
        "value": pl.Float64,
        "ci_low": pl.Float64,
        "ci_high": pl.Float64,
        "problems": pl.Int64,  # clusters resampled
        "units": pl.Int64,  # problem-language units
        "subsets": pl.Int64,  # drawn subsets used
        "unparsed": pl.Int64,  # GenSelect: subsets its fallback decided
        "requests": pl.Int64,  # generation requests the selector sent
        "extra_tokens": pl.Int64,  # tokens the selector generated
        "tokens_per_request": pl.Float64,
    }
)


def selector_table(
    units: pl.DataFrame,
    critique_tokens: pl.DataFrame,
    ks: Sequence[int],
    *,
    resamples: int,
    seed: int,
    confidence: float = 0.95,
) -> pl.DataFrame:
    """The selectors side by side (`SELECTOR_TABLE`), per language and pooled ("all"), from the
    per-unit frame of `unit_metrics` (or problem results holding its columns).
    `critique_tokens`: one row per self-critique (model, question_id, language, temperature,
    num_output_tokens): the self-critique selector's generated tokens are those of the critiques
    of every sample of the table's units (it judges each sample once, whatever the subsets)."""
    rows: list[dict] = []
    if units.is_empty():
        return pl.DataFrame(schema=SELECTOR_TABLE)
    # "all" pools the languages; each row keeps its own language as `unit_language`.
    units = units.with_columns(pl.col("language").alias("unit_language"))
    framed = pl.concat([units, units.with_columns(pl.lit(ALL_LANGUAGES).alias("language"))])
    for (model, language, temperature), group in framed.group_by(
        ["model", "language", "temperature"], maintain_order=True
    ):
        # The self-critiques of the samples of the units in the table (the critique selector's
        # cost on the problems GenSelect was asked about).
        judged = critique_tokens.join(
            group.select(
                "model", "question_id", pl.col("unit_language").alias("language"), "temperature"
            ),
            on=["model", "question_id", "language", "temperature"],
            how="semi",
        )
        critiques = judged.height
        # Null when the critiques carry no token counts (tables written before they were kept).
        counted = judged["num_output_tokens"].drop_nulls()
        critique_total = int(counted.sum()) if counted.len() else None
        for k in ks:
            names = metric_names(k)
            if names["genselect"] not in group.columns:
                continue
            usable = group.filter(pl.col(names["genselect"]).is_not_null())
            if usable.is_empty():
                continue
            clusters = usable["question_id"].to_list()
            base = {
                "model": model,
                "language": language,
                "temperature": temperature,
                "k": k,
                "units": usable.height,
                "subsets": int(usable[f"genselect_subsets_at_{k}"].sum()),
            }
            requests = int(usable[f"genselect_requests_at_{k}"].sum())
            spent = int(usable[f"genselect_tokens_at_{k}"].sum())
            cost = {
                "genselect": (requests, spent),
                "self_critique": (critiques, critique_total if critiques else 0),
                "random": (0, 0),
                "oracle": (0, 0),
            }
            for method, column in names.items():
                mean, low, high, problems = clustered_mean(
                    usable[column].to_list(),
                    clusters,
                    resamples=resamples,
                    seed=seed,
                    confidence=confidence,
                )
                sent, generated = cost[method]
                rows.append(
                    {
                        **base,
                        "method": method,
                        "metric": column,
                        "value": mean,
                        "ci_low": low,
                        "ci_high": high,
                        "problems": problems,
                        "unparsed": int(usable[f"genselect_unparsed_at_{k}"].sum())
                        if method == "genselect"
                        else None,
                        "requests": sent,
                        "extra_tokens": generated,
                        "tokens_per_request": generated / sent
                        if sent and generated is not None
                        else None,
                    }
                )
            difference = paired_selector_difference(
                usable[names["genselect"]].to_list(),
                usable[names["self_critique"]].to_list(),
                clusters,
                resamples=resamples,
                seed=seed,
                confidence=confidence,
            )
            rows.append(
                {
                    **base,
                    "method": "genselect_minus_self_critique",
                    "metric": f"genselect_minus_select_at_{k}",
                    "value": difference.difference,
                    "ci_low": difference.ci_low,
                    "ci_high": difference.ci_high,
                    "problems": difference.units,
                }
            )
    return pl.DataFrame(rows, schema=SELECTOR_TABLE).sort(
        "model", "language", "temperature", "k", maintain_order=True
    )


def selector_metrics(table: pl.DataFrame) -> dict[str, dict[str, float]]:
    """MLflow metrics of the selector table: `selection.<language>.t<temperature>.<metric>` with
    `.ci_low` / `.ci_high`, and per k `genselect_tokens_at_{k}`, `genselect_tokens_per_request_at_
    {k}`, `genselect_unparsed_at_{k}` and `self_critique_tokens` (the catalog prefixes the model's
    namespace)."""
    logged: dict[str, dict[str, float]] = {}

    def put(name: str, value) -> None:
        if value is not None and not (isinstance(value, float) and math.isnan(value)):
            logged[name] = {"value": float(value), "step": 0}

    for row in table.iter_rows(named=True):
        prefix = f"selection.{row['language']}.t{float(row['temperature']):g}"
        put(f"{prefix}.{row['metric']}", row["value"])
        put(f"{prefix}.{row['metric']}.ci_low", row["ci_low"])
        put(f"{prefix}.{row['metric']}.ci_high", row["ci_high"])
        k = row["k"]
        if row["method"] == "genselect":
            put(f"{prefix}.genselect_tokens_at_{k}", row["extra_tokens"])
            put(f"{prefix}.genselect_tokens_per_request_at_{k}", row["tokens_per_request"])
            put(f"{prefix}.genselect_unparsed_at_{k}", row["unparsed"])
        elif row["method"] == "self_critique":
            put(f"{prefix}.self_critique_tokens", row["extra_tokens"])
    return logged


def selector_markdown(table: pl.DataFrame, model: str) -> str:
    """The selector table as markdown (one block per language, temperature and k)."""
    title = f"# Selectors of {model}: GenSelect beside self-critique, on the same k-subsets\n"
    if table.is_empty():
        return title + "\nNo GenSelect subsets (genselect disabled, or no unit has k samples).\n"
    lines = [
        title,
        "Each value is the mean over problem-language units of the mean over the unit's seeded "
        "k-subsets, with a 95% percentile bootstrap interval resampling problems; "
        "extra tokens are what the selector generated.",
        "",
        "| language | t | k | method | value | 95% CI | problems | subsets | unparsed | requests "
        "| extra tokens | tokens/request |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def number(value, digits: int = 3) -> str:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return ""
        return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

    for row in table.iter_rows(named=True):
        lines.append(
            f"| {row['language']} | {row['temperature']:g} | {row['k']} | {row['method']} "
            f"| {number(row['value'])} | [{number(row['ci_low'])}, {number(row['ci_high'])}] "
            f"| {row['problems']} | {row['subsets']} | {number(row['unparsed'])} "
            f"| {number(row['requests'])} | {number(row['extra_tokens'])} "
            f"| {number(row['tokens_per_request'], 1)} |"
        )
    return "\n".join(lines) + "\n"


__all__ = [
    "GENSELECT",
    "GENSELECT_FALLBACKS",
    "METHODS",
    "SELECTOR_TABLE",
    "clustered_mean",
    "genselect_pick",
    "metric_names",
    "paired_selector_difference",
    "selector_markdown",
    "selector_metrics",
    "selector_table",
    "subset_metrics",
    "unit_metrics",
]
