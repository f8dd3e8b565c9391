"""Reasoning patterns of teacher traces: which behaviours a trace shows, by two methods, and how
their frequency differs between traces whose solutions passed every test and those that failed.

The OCR paper (arXiv 2503.01943) found self-evaluation and subgoal generation markedly more frequent
in correct traces; the behaviours here are those of Gandhi et al. ("cognitive behaviours that enable
self-improving reasoners": verification, backtracking, subgoal setting, backward chaining) plus
restating the problem.

- lexical: a cheap baseline, per behaviour a documented list of regular expressions (`Behaviour.
  markers`, case-insensitive) searched in the whole trace: presence, and matches per 1,000 words;
- llm: a classifier model (the critic) reads the trace, cut to `max_chars` (head + tail), and
  answers one strict `name: yes|no` line per behaviour (`generation.prompts.pattern_prompt`);
  an answer line that is missing or unreadable is *unparsed*: counted and reported, never a "no".

Statistics: per behaviour and method, the frequency in passed vs failed traces, Fisher's exact test
on the 2x2 table, Benjamini-Hochberg across behaviours (per method), Cohen's kappa between the two
methods, and, when the generations carry it, the mean per-token entropy of passed vs failed traces
with a Mann-Whitney U test. Kedro-free: the `patterns` pipeline is a thin adapter over this module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass

import polars as pl

from ocr2_kedro.generation.base import ChatRequest, GenerationBackend, SamplingConfig
from ocr2_kedro.generation.prompts import pattern_prompt
from ocr2_kedro.generation.resumable import (
    Completions,
    LazyBackend,
    ShardReport,
    ShardStore,
    read_completions,
    run_shards,
)
from ocr2_kedro.parsing import split_reasoning
from ocr2_kedro.schemas import stable_id


@dataclass(frozen=True)
class Behaviour:
    """One reasoning behaviour: its name (a column suffix and the classifier's answer key), the
    definition the classifier is given, and the lexical baseline's markers (regexes)."""

    name: str
    definition: str
    markers: tuple[str, ...]

    @property
    def pattern(self) -> re.Pattern:
        # One alternation, so overlapping markers ("let me verify" and "verify") count once.
        return re.compile("|".join(f"(?:{marker})" for marker in self.markers), re.IGNORECASE)


BEHAVIOURS: tuple[Behaviour, ...] = (
    Behaviour(
        "subgoal_setting",
        "breaks the problem into smaller intermediate goals or lays out a plan of steps "
        "(e.g. 'first ..., then ...', 'step 1').",
        (
            r"\bfirst(?:ly)?,?\s+(?:i|we|let's|let me|let us)\b",
            r"\b(?:then|next|after that),?\s+(?:i|we)\s+(?:need|should|can|will|have)\b",
            r"\bstep\s+\d+\b",
            r"\bsub-?(?:goal|problem|task)s?\b",
            r"\b(?:break|split|divide)\s+(?:this|it|the problem)\s+(?:down|into)\b",
            r"\bthe (?:plan|steps) (?:is|are|would be)\b",
        ),
    ),
    Behaviour(
        "self_evaluation",
        "checks its own intermediate results or solution, e.g. runs it by hand on the sample "
        "input or verifies a step (e.g. 'let me check this against the example').",
        (
            r"\blet(?:'s| me| us)\s+(?:check|verify|double[- ]check|test|confirm|validate)\b",
            r"\b(?:double[- ]check|sanity[- ]check)",
            r"\bverif(?:y|ying|ied|ication)\b",
            r"\b(?:this|that|which|it) (?:matches|gives the (?:expected|correct|right))\b",
            r"\bis (?:this|that|it) (?:correct|right)\?",
        ),
    ),
    Behaviour(
        "backtracking",
        "notices a mistake or a dead end and abandons that approach for another "
        "(e.g. 'wait, that is wrong, let me try ...').",
        (
            r"\bwait\b",
            r"\b(?:that|this)(?:'s| is) (?:not (?:right|correct)|wrong|incorrect)\b",
            r"\b(?:i|we) made a mistake\b",
            r"\blet(?:'s| me| us)\s+(?:try|think)\s+(?:again|another|a different|differently)\b",
            r"\breconsider\b",
            r"\b(?:on second thought|scratch that)\b",
            r"\b(?:that|this) (?:doesn't|does not|won't|will not) work\b",
        ),
    ),
    Behaviour(
        "restating_problem",
        "restates or paraphrases the problem, its input or its goal in its own words "
        "(e.g. 'so the problem asks for ...').",
        (
            r"\bthe (?:problem|task|question) (?:asks|says|states|wants|requires|is asking)\b",
            r"\b(?:we|i)(?:'re| are|'m| am) (?:given|asked)\b",
            r"\bso,? the (?:problem|task|question|goal) is\b",
            r"\bthe goal is\b",
            r"\bin other words\b",
        ),
    ),
    Behaviour(
        "backward_chaining",
        "reasons backward from the goal or the required answer to what is needed to reach it.",
        (
            r"\bwork(?:ing)? backwards?\b",
            r"\bstart(?:ing)? from the (?:end|goal|answer|result)\b",
            r"\bto (?:get|reach|obtain|achieve) (?:this|that|the (?:answer|result|goal)),?\s+"
            r"(?:we|i) (?:need|must|have to)\b",
            r"\bwhat (?:do|would) (?:we|i) need\b",
        ),
    ),
)
METHODS = ("lexical", "llm")
GROUPS = ("passed", "failed")
# What verification says about a solution: "passed" every test (AC), or "failed" one. SE (a fault
# of the sandbox) and unverified samples belong to neither group.
FAILED_VERDICTS = ("WA", "TLE", "MLE", "RE", "CE", "OLE")
ENTROPY_OFF = "entropy: not available (generation.sampling.logprobs was off)"


def behaviours_named(names: Sequence[str] | None) -> tuple[Behaviour, ...]:
    """The behaviours to analyse (all when `names` is empty), in the order given."""
    if not names:
        return BEHAVIOURS
    known = {b.name: b for b in BEHAVIOURS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown behaviours {unknown}; known: {sorted(known)}")
    return tuple(known[n] for n in names)


def labels_schema(behaviours: Sequence[Behaviour] = BEHAVIOURS) -> pl.Schema:
    """Columns of one labelled trace (`label_traces`)."""
    columns: dict[str, pl.DataType] = {
        "generation_id": pl.String,
        "trace_field": pl.String,  # "reasoning", or "output" when the sample has no reasoning
        "trace_chars": pl.Int64,
        "trace_words": pl.Int64,
        "truncated_chars": pl.Int64,  # characters cut from the middle of the classifier's copy
    }
    for b in behaviours:
        columns[f"lexical_{b.name}"] = pl.Boolean
        columns[f"lexical_{b.name}_per_1k"] = pl.Float64
    for b in behaviours:
        columns[f"llm_{b.name}"] = pl.Boolean  # null: the classifier's answer did not say
    columns |= {
        "llm_unparsed": pl.Int64,
        "llm_answer": pl.String,
        "llm_finish_reason": pl.String,
        "llm_error": pl.String,
    }
    return pl.Schema(columns)


# ------------------------------------------------------------------------------------------ lexical


def word_count(text: str) -> int:
    return len(text.split())


def lexical_counts(text: str, behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict[str, int]:
    """Marker matches per behaviour (non-overlapping, case-insensitive)."""
    return {b.name: sum(1 for _ in b.pattern.finditer(text or "")) for b in behaviours}


def lexical_labels(text: str, behaviours: Sequence[Behaviour] = BEHAVIOURS) -> dict[str, object]:
    """`lexical_<name>` (any marker present) and `lexical_<name>_per_1k` (matches per 1,000 words;
    0 for an empty trace)."""
    words = word_count(text)
    labels: dict[str, object] = {}
    for name, count in lexical_counts(text, behaviours).items():
        labels[f"lexical_{name}"] = count > 0
        labels[f"lexical_{name}_per_1k"] = 1000.0 * count / words if words else 0.0
    return labels


# ---------------------------------------------------------------------------------------------- llm


def truncate_middle(text: str, max_chars: int | None) -> tuple[str, int]:
    """(text, characters omitted): a text over `max_chars` keeps its first and last halves with a
    marker between them (a trace's plan is at its start, its checks and answer at its end)."""
    if max_chars is None or len(text) <= max_chars:
        return text, 0
    if max_chars < 2:
        raise ValueError(f"max_chars must be at least 2, got {max_chars}")
    head = max_chars // 2
    tail = max_chars - head
    omitted = len(text) - max_chars
    return f"{text[:head]}\n[... {omitted} characters omitted ...]\n{text[-tail:]}", omitted


def _key(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


_ANSWER_LINE = re.compile(
    r"^[\s\-*>#`+\d.)]*(?P<name>[a-z][a-z _\-]*?)[\s*`_\"']*[:=][\s*`_\"']*"
    r"(?P<value>yes|no|true|false)\b",
    re.IGNORECASE | re.MULTILINE,
)
_VALUES = {"yes": True, "true": True, "no": False, "false": False}


def parse_pattern_answer(
    text: str, behaviours: Sequence[Behaviour] = BEHAVIOURS
) -> dict[str, bool | None]:
    """Each behaviour's answer: True (yes), False (no) or None (unparsed: no line names it).

    A reasoning classifier's `<think>` part is skipped (it deliberates there); a cut-off answer with
    no closing tag parses as nothing. Lines may carry list marks, emphasis or `=`; the behaviour may
    be written with spaces or hyphens; the last line naming a behaviour wins (a model that corrects
    itself)."""
    _, answer, _ = split_reasoning(text or "")
    found: dict[str, bool] = {}
    for match in _ANSWER_LINE.finditer(answer):
        found[_key(match["name"])] = _VALUES[match["value"].lower()]
    return {b.name: found.get(b.name) for b in behaviours}


def classification_request(
    generation_id: str,
    trace: str,
    *,
    max_chars: int | None,
    seed: int,
    system_prompt: str | None = None,
    behaviours: Sequence[Behaviour] = BEHAVIOURS,
) -> tuple[ChatRequest, int]:
    """The classifier's request for one trace, and how many characters were cut from it. The
    request id fingerprints the trace as sent, so a changed trace is classified again."""
    shown, omitted = truncate_middle(trace, max_chars)
    prompt = pattern_prompt(shown, [(b.name, b.definition) for b in behaviours])
    system = ({"role": "system", "content": system_prompt},) if system_prompt else ()
    messages = (*system, {"role": "user", "content": prompt})
    return ChatRequest(stable_id(generation_id, shown), messages, seed), omitted


def prompt_fingerprint(behaviours: Sequence[Behaviour], max_chars: int | None) -> str:
    """What shapes a classification besides the model and sampling (a shard directory key part)."""
    return stable_id(
        pattern_prompt("{trace}", [(b.name, b.definition) for b in behaviours]), max_chars
    )


BackendFactory = Callable[[], GenerationBackend | AbstractContextManager[GenerationBackend]]


def label_traces(
    chunks: Iterable[pl.DataFrame],
    sampling: SamplingConfig,
    backend: BackendFactory,
    *,
    shard_dir: str,
    chunk_size: int,
    max_chars: int | None,
    system_prompt: str | None = None,
    behaviours: Sequence[Behaviour] = BEHAVIOURS,
    total: int | None = None,
) -> tuple[pl.DataFrame, ShardReport]:
    """Label each trace of `chunks` (frames with generation_id, trace_field, trace; at most
    `chunk_size` rows each, the same chunks on every run) by both methods.

    The classifier's answers are stored shard by shard under `shard_dir` (`generation.resumable`):
    a rerun sends only the requests whose answers are missing, and the backend is opened only then.
    The traces pass through once; only the narrow labels are kept."""
    rows: list[dict] = []
    request_ids: list[list[str]] = []

    def requests() -> Iterator[list[ChatRequest]]:
        for chunk in chunks:
            batch = []
            for record in chunk.iter_rows(named=True):
                trace = record["trace"] or ""
                request, omitted = classification_request(
                    record["generation_id"],
                    trace,
                    max_chars=max_chars,
                    seed=sampling.seed,
                    system_prompt=system_prompt,
                    behaviours=behaviours,
                )
                batch.append(request)
                rows.append(
                    {
                        "generation_id": record["generation_id"],
                        "trace_field": record["trace_field"],
                        "trace_chars": len(trace),
                        "trace_words": word_count(trace),
                        "truncated_chars": omitted,
                        **lexical_labels(trace, behaviours),
                    }
                )
            request_ids.append([r.request_id for r in batch])
            yield batch

    with ExitStack() as stack:
        report = run_shards(
            requests(),
            Completions(ShardStore(shard_dir), sampling, LazyBackend(stack, backend)),
            shard_dir=shard_dir,
            chunk_size=chunk_size,
            total_requests=total,
            description="patterns",
        )
    store = ShardStore(shard_dir)
    answers = [
        completion
        for index, ids in enumerate(request_ids)
        for completion in read_completions(store, index, ids)
    ]
    for row, completion in zip(rows, answers, strict=True):
        failed = completion.finish_reason == "error"
        parsed = (
            dict.fromkeys((b.name for b in behaviours), None)
            if failed
            else parse_pattern_answer(completion.text, behaviours)
        )
        row.update({f"llm_{name}": value for name, value in parsed.items()})
        row["llm_unparsed"] = sum(value is None for value in parsed.values())
        row["llm_answer"] = completion.text
        row["llm_finish_reason"] = completion.finish_reason
        row["llm_error"] = completion.error
    return pl.DataFrame(rows, schema=labels_schema(behaviours)), report


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


# ---------------------------------------------------------------------------------------- reports


def _percent(entry: dict) -> str:
    if not entry["n"]:
        return "–"
    return f"{100 * entry['freq']:.0f}% ({entry['k']}/{entry['n']})"


def _number(value: float | None, digits: int = 2) -> str:
    if value is None:
        return "–"
    return f"{value:.{digits}g}" if abs(value) < 0.01 else f"{value:.{digits}f}"


def is_plumbing(summary: dict) -> bool:
    """Whether the numbers only show that the machinery runs: the embedded default classified
    them, or a group is under the minimum size for a test."""
    sample = summary.get("sample", {})
    smallest = min((sample.get(g, 0) for g in GROUPS), default=0)
    return bool(summary.get("run", {}).get("embedded")) or smallest < summary.get("run", {}).get(
        "min_group_size", 1
    )


def card_section(summary: dict) -> str:
    """The dataset card's "Reasoning patterns" section (markdown) from the patterns summary."""
    run, sample = summary.get("run", {}), summary.get("sample", {})
    lines = ["## Reasoning patterns", ""]
    if not sample.get("traces"):
        lines.append(
            "No trace to analyse: no verified sample passed or failed its tests "
            f"({summary.get('population', {})})."
        )
        return "\n".join(lines) + "\n"
    lines += [
        f"{sample['traces']} teacher traces ({sample.get('passed', 0)} whose solution passed every "
        f"test, {sample.get('failed', 0)} that failed one; stratified sample of "
        f"{summary['population']['passed']} passed and {summary['population']['failed']} failed "
        f"verified samples, seed {run.get('seed')}). Methods: `lexical` (regex markers, "
        f"`ocr2_kedro.metrics.patterns`) and `llm` (classifier `{run.get('critic_model')}`, traces "
        f"cut to {run.get('max_chars')} characters; {sample.get('truncated', 0)} were cut). "
        "p: Fisher's exact test, Benjamini-Hochberg adjusted across behaviours per method; "
        "kappa: Cohen's, LLM vs lexical.",
        "",
        "| behaviour | method | passed | failed | difference | p (BH) | kappa |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, entry in summary.get("behaviours", {}).items():
        for method in METHODS:
            stats = entry[method]
            diff = "–" if stats["diff"] is None else f"{100 * stats['diff']:+.0f} pp"
            p = _number(stats["p_adj"]) + (" (n too small)" if stats["too_small"] else "")
            kappa = _number(entry["agreement"]["kappa"]) if method == "llm" else ""
            lines.append(
                f"| {name} | {method} | {_percent(stats['passed'])} | "
                f"{_percent(stats['failed'])} | {diff} | {p} | {kappa} |"
            )
    llm = summary.get("llm", {})
    lines += [
        "",
        f"LLM answers: {llm.get('answers', 0)}, of which {llm.get('errors', 0)} failed requests; "
        f"{llm.get('unparsed_labels', 0)} behaviour labels unparsed (left out of that behaviour's "
        "counts, never read as no).",
    ]
    entropy = summary.get("entropy", {})
    if entropy.get("available"):
        lines.append(
            f"Mean per-token entropy (nats): passed {_number(entropy['passed']['mean'], 3)} "
            f"(n={entropy['passed']['n']}), failed {_number(entropy['failed']['mean'], 3)} "
            f"(n={entropy['failed']['n']}); Mann-Whitney U p = {_number(entropy['p'])}"
            + (" (n too small)." if entropy.get("too_small") else ".")
        )
    else:
        lines.append(entropy.get("note", ENTROPY_OFF) + ".")
    if is_plumbing(summary):
        lines += [
            "",
            "On the embedded default (a 135M-parameter model as teacher and classifier, a handful "
            "of traces) these numbers are plumbing: they show the analysis runs, not how correct "
            "and wrong traces differ.",
        ]
    return "\n".join(lines) + "\n"


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
