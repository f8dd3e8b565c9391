"""Preference pairs (chosen, rejected) from the OCR-2 export, in TRL's conversational layout.

Per (question, language): `chosen` is a sample that passed every test (pass rate 1.0), `rejected` one
that did not (pass rate < 1.0), both with the critic's judgements kept as columns. A question with no
execution label on any sample (no tests, sandbox fault, not verified) gives critique-only pairs when
`critique_pairs` is on: chosen judged "right" by the critic, rejected judged "wrong"; with
`critique_pairs_when_all_fail` too, so does a question whose samples all failed a test (execution
pairs where any sample passes, critique pairs otherwise). Every (question, language) that yields no
pair gets a rejects row with the reason.

The prompt and the assistant messages are built by the SFT stage-1 example builder
(`examples.make_example` with `GENERATION_KIND`): a pair asks exactly what a stage-1 example asks, and
its answers are what stage 1 would have trained on (reasoning + solution as the teacher wrote them).

Bounded memory: pairs are chosen from narrow columns only (ids, question, language, pass rate,
verdict, judgement, difficulty, a hash of the assistant text). The texts are then fetched for the
chosen pairs: the needed export rows are split by question into buckets of `bucket_megabytes`
(spilled to disk when more than one), and each bucket's pairs are joined with its texts in batches of
`batch_pairs`, so one bucket of texts and one batch of pairs are in memory at a time.

Selection is deterministic given `seed`: every random choice is a rank by a hash of (seed, ids),
independent of the export's row order.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow as pa

from ocr2_kedro.tables import bucket_count
from ocr2_kedro.tables.partitioned import BUCKET_COLUMN, spill
from ocr2_kedro.training.examples import GENERATION_KIND, make_example, skip_reason_expr

logger = logging.getLogger(__name__)

MODES = ("all", "best_vs_worst")
EXECUTION = "execution"
CRITIQUE = "critique"

MESSAGES = pl.List(pl.Struct({"role": pl.String, "content": pl.String}))
PAIR_SCHEMA = pl.Schema(
    {
        "prompt": MESSAGES,
        "chosen": MESSAGES,
        "rejected": MESSAGES,
        "pair_id": pl.String,
        "question_id": pl.String,
        "language": pl.String,
        "chosen_id": pl.String,
        "rejected_id": pl.String,
        "chosen_pass_rate": pl.Float64,
        "rejected_pass_rate": pl.Float64,
        "chosen_judgement": pl.String,
        "rejected_judgement": pl.String,
        "difficulty": pl.String,
        "pair_source": pl.String,  # "execution" | "critique"
    }
)
# One row per (question, language) without a pair. The counts are over its samples: usable ones
# (a question, a reasoning text, a known language), their execution labels and critic judgements.
PREFERENCE_REJECT_SCHEMA = pl.Schema(
    {
        "question_id": pl.String,
        "language": pl.String,
        "reason": pl.String,
        "detail": pl.String,
        "samples": pl.Int64,
        "usable": pl.Int64,
        "passing": pl.Int64,
        "failing": pl.Int64,
        "judged_right": pl.Int64,
        "judged_wrong": pl.Int64,
        "identical_pairs": pl.Int64,
    }
)
REASONS = {
    "no_usable_sample": "no sample has a question, a reasoning text and a known language",
    "single_sample": "one usable sample: nothing to compare it with",
    "all_pass": "every sample with an execution label passed all tests",
    "all_fail": "no sample passed all tests",
    "critique_pairs_off": "no execution label and critique pairs are off",
    "no_label": "paired by the critic (no execution label, or none passed); "
    "no sample has a critic judgement",
    "all_judged_right": "paired by the critic (no execution label, or none passed); "
    "the critic judged every sample right",
    "all_judged_wrong": "paired by the critic (no execution label, or none passed); "
    "the critic judged every sample wrong",
    "identical_texts": "every chosen/rejected candidate has the same assistant text",
    "balanced_out": "its pairs were dropped to balance the difficulty buckets",
}
# Export columns read; absent optional ones read as null (an export from elsewhere may lack them).
REQUIRED_COLUMNS = ("id", "question_id", "language", "question", "r1_generation")
OPTIONAL_COLUMNS = {
    "pass_rate": pl.Float64,
    "verdict": pl.String,
    "judgement": pl.String,
    "difficulty": pl.String,
    "test_type": pl.String,
    "starter_code": pl.String,
    "fn_name": pl.String,
}
TEXT_COLUMNS = (
    "id",
    "question_id",
    "language",
    "question",
    "test_type",
    "starter_code",
    "fn_name",
    "r1_generation",
)
GROUP = ["question_id", "language"]
# Pairs are written in the export's order: language, question, then ids (within a bucket).
PAIR_ORDER = ["language", "question_id", "chosen_id", "rejected_id"]
UNKNOWN_DIFFICULTY = "unknown"


@dataclass(frozen=True)
class PairingSettings:
    """How pairs are chosen (parameters_dataset.yml, dataset.preferences; the values are checked
    by `ocr2_kedro.parameters.dataset.PreferenceSettings`).

    mode: "all" (every passing x failing sample of a question) or "best_vs_worst" (one pair: the
        highest pass rate against the lowest; ties go to the critic's agreeing verdict, "right" for
        chosen and "wrong" for rejected, then to a hash of (seed, id)).
    max_pairs_per_question: keep at most this many pairs per (question, language), a seeded sample.
    balance_by_difficulty: within each language, cap every difficulty bucket (null difficulty is
        its own bucket, "unknown") to `pairs_per_difficulty`, or when that is null to the size of the
        smallest non-empty bucket; a seeded sample of each bucket is kept.
    critique_pairs: make critique-only pairs for questions with no execution label.
    critique_pairs_when_all_fail: with critique_pairs, also pair by the critic within a question
        whose labelled samples all failed a test (no passing sample to choose): both sides failed,
        so such a pair teaches the critic's preference, not correctness (`pair_source: critique`,
        the pass rates kept as columns). For small teachers that rarely pass any test.
    seed: fixes every sampled choice.
    batch_pairs: pairs per output batch; bucket_megabytes / work_dir: how the texts are bucketed.
    """

    mode: str = "all"
    max_pairs_per_question: int | None = None
    balance_by_difficulty: bool = False
    pairs_per_difficulty: int | None = None
    critique_pairs: bool = True
    critique_pairs_when_all_fail: bool = False
    seed: int = 0
    batch_pairs: int = 500
    bucket_megabytes: float = 256
    work_dir: str | None = None

    @classmethod
    def from_dict(cls, values: Mapping[str, Any] | None) -> PairingSettings:
        values = dict(values or {})
        unknown = set(values) - {f.name for f in fields(cls)}
        if unknown:
            raise ValueError(f"unknown preference settings: {sorted(unknown)}")
        return cls(**values)


@dataclass
class PreferencePairs:
    """The pairs as a one-shot generator of PAIR_SCHEMA batches (texts are read as it is iterated),
    the rejects (PREFERENCE_REJECT_SCHEMA) and the counts for the dataset card."""

    pairs: Iterator[pl.DataFrame]
    rejects: pl.DataFrame
    statistics: dict[str, Any]


# ------------------------------------------------------------------------------- stable hashing

_GOLDEN = 0x9E3779B97F4A7C15
_MIX1 = 0xBF58476D1CE4E5B9
_MIX2 = 0x94D049BB133111EB


def _sample_key(seed: int, row_id: str) -> int:
    """A 64-bit number fixed by (seed, row id), the same on every machine and library version."""
    return int.from_bytes(
        hashlib.blake2b(f"{seed}\0{row_id}".encode(), digest_size=8).digest(), "big"
    )


def _u64(value: int) -> pl.Expr:
    return pl.lit(value, pl.UInt64)


def _mixed(chosen: pl.Expr, rejected: pl.Expr) -> pl.Expr:
    """splitmix64's finalizer over (chosen key, rejected key): a per-pair random rank in plain
    wrapping u64 arithmetic (polars' own `hash` may change between versions)."""
    z = chosen.xor(rejected * _u64(_GOLDEN))
    z = z.xor(z // _u64(1 << 30)) * _u64(_MIX1)
    z = z.xor(z // _u64(1 << 27)) * _u64(_MIX2)
    return z.xor(z // _u64(1 << 31))


def too_few_pairs(pairs: int, min_pairs: int, where: str = "preference_pairs") -> str | None:
    """Why a DPO stage cannot train on `pairs` preference pairs, with what to change (None: they
    are enough). `where` names the table (and its version) in the message."""
    if pairs >= min_pairs:
        return None
    return (
        f"DPO needs at least training.dpo.min_pairs={min_pairs} preference pairs and {where} "
        f"holds {pairs} (why each question yielded none is in preference_rejects). Get more: more "
        "samples per question (generation.samples_per_question), so that questions have several "
        "exported solutions to compare; critique pairs (dataset.preferences.critique_pairs: true, "
        "and critique_pairs_when_all_fail: true where no sample passes); no cap "
        "(dataset.preferences.mode: all, max_pairs_per_question: null). Or train without DPO: "
        "training.stages without dpo."
    )


def pair_id(chosen_id: str, rejected_id: str) -> str:
    """Stable id of a pair: the same two samples give the same id in every run."""
    return hashlib.blake2b(f"{chosen_id}\0{rejected_id}".encode(), digest_size=8).hexdigest()


# ------------------------------------------------------------------------------ choosing pairs


def _conformed(export: pl.LazyFrame | pl.DataFrame) -> pl.LazyFrame:
    lazy = export.lazy()
    present = lazy.collect_schema()
    missing = [name for name in REQUIRED_COLUMNS if name not in present]
    if missing:
        raise ValueError(f"the export lacks the columns {missing} that pairs are built from")
    return lazy.with_columns(
        pl.lit(None, dtype).alias(name)
        for name, dtype in OPTIONAL_COLUMNS.items()
        if name not in present
    ).with_columns(
        *(pl.col(name).cast(pl.String) for name in REQUIRED_COLUMNS),
        *(pl.col(name).cast(dtype) for name, dtype in OPTIONAL_COLUMNS.items()),
    )


def _narrow_samples(export: pl.LazyFrame, seed: int) -> pl.DataFrame:
    """One narrow row per export row: what choosing pairs needs, and nothing wide."""
    pass_rate, verdict = pl.col("pass_rate"), pl.col("verdict")
    samples = export.select(
        "id",
        *GROUP,
        # An execution label is a pass rate from a run that judged the solution: a sandbox fault
        # (SE; also what a question without tests gets) or a value outside [0, 1] is no label.
        pl.when(pass_rate.is_between(0.0, 1.0) & (verdict != "SE").fill_null(True))
        .then(pass_rate)
        .alias("label"),
        "pass_rate",
        "judgement",
        pl.col("difficulty").fill_null(UNKNOWN_DIFFICULTY).alias("bucket"),
        "difficulty",
        skip_reason_expr(GENERATION_KIND).is_null().alias("usable"),
        # Equal assistant texts (what GENERATION_KIND's target strips) never make a pair.
        pl.col("r1_generation").str.strip_chars().hash(seed=0).alias("text_hash"),
    ).collect(engine="streaming")
    duplicated = samples.filter(pl.col("id").is_duplicated() | pl.col("id").is_null())
    if duplicated.height:
        raise ValueError(
            "export ids must be unique and not null to pair samples; "
            f"{duplicated.height} rows are not, e.g. {duplicated['id'].head(3).to_list()}"
        )
    keys = pl.Series("key", [_sample_key(seed, i) for i in samples["id"]], pl.UInt64)
    return samples.with_columns(keys)


def _group_counts(samples: pl.DataFrame) -> pl.DataFrame:
    usable, label, judgement = pl.col("usable"), pl.col("label"), pl.col("judgement")
    return samples.group_by(GROUP).agg(
        pl.len().cast(pl.Int64).alias("samples"),
        usable.sum().cast(pl.Int64).alias("usable"),
        (usable & label.is_not_null()).sum().cast(pl.Int64).alias("labelled"),
        (usable & (label == 1.0)).sum().cast(pl.Int64).alias("passing"),
        (usable & (label < 1.0)).sum().cast(pl.Int64).alias("failing"),
        (usable & (judgement == "right")).sum().cast(pl.Int64).alias("judged_right"),
        (usable & (judgement == "wrong")).sum().cast(pl.Int64).alias("judged_wrong"),
    )


def _by_critique(settings: PairingSettings) -> pl.Expr:
    """Whether a group (of `_group_counts`) pairs by the critic's verdicts: no execution label, or,
    with critique_pairs_when_all_fail, labels and no passing sample."""
    labelled, passing = pl.col("labelled") > 0, pl.col("passing") > 0
    return ~labelled | (labelled & ~passing & pl.lit(settings.critique_pairs_when_all_fail))


def _candidates(
    samples: pl.DataFrame, groups: pl.DataFrame, settings: PairingSettings
) -> pl.DataFrame:
    """Every (chosen, rejected) candidate of a group, identical texts included (counted later).

    A group with a passing sample pairs by execution; one with no execution label (or, with
    critique_pairs_when_all_fail, none passing), by the critic's verdicts."""
    usable = samples.filter(pl.col("usable"))
    by_critique = _by_critique(settings)
    execution_groups = groups.filter(~by_critique).select(GROUP)
    critique_groups = groups.filter(by_critique).select(GROUP)

    def cross(chosen: pl.DataFrame, rejected: pl.DataFrame, source: str) -> pl.DataFrame:
        def side(frame: pl.DataFrame, prefix: str) -> pl.DataFrame:
            return frame.select(
                *GROUP,
                *(
                    pl.col(c).alias(f"{prefix}_{c}")
                    for c in ("id", "label", "pass_rate", "judgement", "text_hash", "key")
                ),
                *(["bucket", "difficulty"] if prefix == "chosen" else []),
            )

        return (
            side(chosen, "chosen")
            .join(side(rejected, "rejected"), on=GROUP)
            .with_columns(pl.lit(source).alias("pair_source"))
        )

    parts = [
        cross(
            usable.join(execution_groups, on=GROUP).filter(pl.col("label") == 1.0),
            usable.join(execution_groups, on=GROUP).filter(pl.col("label") < 1.0),
            EXECUTION,
        )
    ]
    if settings.critique_pairs:
        judged = usable.join(critique_groups, on=GROUP)
        parts.append(
            cross(
                judged.filter(pl.col("judgement") == "right"),
                judged.filter(pl.col("judgement") == "wrong"),
                CRITIQUE,
            )
        )
    return pl.concat(parts).with_columns(
        _mixed(pl.col("chosen_key"), pl.col("rejected_key")).alias("pair_key"),
        (pl.col("chosen_text_hash") == pl.col("rejected_text_hash")).alias("identical"),
    )


def _first_per_group(frame: pl.DataFrame, by: list[str], order: list[pl.Expr]) -> pl.DataFrame:
    return frame.sort([*by, *order], nulls_last=True).group_by(by, maintain_order=True).head(1)


def _select(candidates: pl.DataFrame, settings: PairingSettings) -> pl.DataFrame:
    """The pairs the settings keep, from the non-identical candidates."""
    pairs = candidates.filter(~pl.col("identical")).sort(
        [*GROUP, "pair_key", "chosen_id", "rejected_id"], nulls_last=True
    )
    if settings.mode == "best_vs_worst":
        pairs = _first_per_group(
            pairs,
            GROUP,
            [
                -pl.col("chosen_label").fill_null(0.0),  # highest pass rate first
                pl.col("chosen_judgement") != "right",  # False sorts first: agreeing critic
                pl.col("chosen_key"),
                pl.col("rejected_label").fill_null(1.0),  # lowest pass rate
                pl.col("rejected_judgement") != "wrong",
                pl.col("rejected_key"),
            ],
        )
    elif settings.max_pairs_per_question is not None:
        # Already sorted by pair_key within a group: the first n are a seeded sample.
        pairs = pairs.group_by(GROUP, maintain_order=True).head(settings.max_pairs_per_question)
    if settings.balance_by_difficulty and pairs.height:
        sizes = pairs.group_by("language", "bucket").len()
        quota = pl.col("len").min().over("language")
        if settings.pairs_per_difficulty is not None:
            quota = pl.lit(settings.pairs_per_difficulty, pl.UInt32)
        pairs = (
            pairs.join(sizes.with_columns(quota.alias("quota")), on=["language", "bucket"])
            .sort(["language", "bucket", "pair_key", "chosen_id", "rejected_id"])
            .filter(pl.int_range(pl.len()).over("language", "bucket") < pl.col("quota"))
            .drop("len", "quota")
        )
    return pairs.sort(PAIR_ORDER, nulls_last=True)


def _rejects(
    groups: pl.DataFrame, candidates: pl.DataFrame, pairs: pl.DataFrame, settings: PairingSettings
) -> pl.DataFrame:
    identical = candidates.group_by(GROUP).agg(
        pl.col("identical").sum().cast(pl.Int64).alias("identical_pairs"),
        (~pl.col("identical")).sum().alias("distinct_pairs"),
    )
    without = (
        groups.join(pairs.select(GROUP).unique(), on=GROUP, how="anti", nulls_equal=True)
        .join(identical, on=GROUP, how="left", nulls_equal=True)
        .with_columns(pl.col("identical_pairs", "distinct_pairs").fill_null(0))
    )
    c = pl.col
    labelled = c("labelled") > 0
    # Paired by the critic: a group with no execution label (critique_pairs_off when off), or with
    # critique_pairs_when_all_fail one where nothing passed (all_fail when critique pairs are off).
    by_critique = _by_critique(settings) & pl.lit(settings.critique_pairs)
    reason = (
        pl.when(c("usable") == 0)
        .then(pl.lit("no_usable_sample"))
        .when(c("usable") == 1)
        .then(pl.lit("single_sample"))
        .when(labelled & (c("passing") == 0) & ~by_critique)
        .then(pl.lit("all_fail"))
        .when(labelled & (c("failing") == 0))
        .then(pl.lit("all_pass"))
        .when(~labelled & pl.lit(not settings.critique_pairs))
        .then(pl.lit("critique_pairs_off"))
        .when(by_critique & (c("judged_right") == 0) & (c("judged_wrong") == 0))
        .then(pl.lit("no_label"))
        .when(by_critique & (c("judged_wrong") == 0))
        .then(pl.lit("all_judged_right"))
        .when(by_critique & (c("judged_right") == 0))
        .then(pl.lit("all_judged_wrong"))
        .when(c("distinct_pairs") == 0)
        .then(pl.lit("identical_texts"))
        .otherwise(pl.lit("balanced_out"))
    )
    return (
        without.with_columns(reason.alias("reason"))
        .with_columns(c("reason").replace_strict(REASONS, return_dtype=pl.String).alias("detail"))
        .select(PREFERENCE_REJECT_SCHEMA.names())
        .cast(dict(PREFERENCE_REJECT_SCHEMA))
        .sort("language", "question_id", nulls_last=True)
    )


def _statistics(
    settings: PairingSettings,
    samples: pl.DataFrame,
    groups: pl.DataFrame,
    candidates: pl.DataFrame,
    pairs: pl.DataFrame,
    rejects: pl.DataFrame,
) -> dict[str, Any]:
    def counts(frame: pl.DataFrame, column: str) -> dict[str, int]:
        rows = frame.group_by(column).len().sort(column, nulls_last=True).rows()
        return {str(key): int(n) for key, n in rows}

    return {
        "mode": settings.mode,
        "max_pairs_per_question": settings.max_pairs_per_question,
        "balance_by_difficulty": settings.balance_by_difficulty,
        "pairs_per_difficulty": settings.pairs_per_difficulty,
        "critique_pairs": settings.critique_pairs,
        "critique_pairs_when_all_fail": settings.critique_pairs_when_all_fail,
        "seed": settings.seed,
        "pairs": pairs.height,
        "by_source": {EXECUTION: 0, CRITIQUE: 0, **counts(pairs, "pair_source")},
        "by_language": counts(pairs, "language"),
        "by_difficulty": counts(pairs, "bucket"),
        "by_mode": {settings.mode: pairs.height},
        "candidate_pairs": int((~candidates["identical"]).sum()),
        "identical_pairs_dropped": int(candidates["identical"].sum()),
        "unusable_samples": int((~samples["usable"]).sum()),
        "questions": groups.height,  # (question, language) groups
        "questions_with_pairs": pairs.select(GROUP).unique().height,
        "questions_without_pairs": rejects.height,
        "rejects_by_reason": counts(rejects, "reason"),
    }


# ------------------------------------------------------------------------------ fetching texts


def _texts(export: pl.LazyFrame, ids: pl.Series) -> pl.LazyFrame:
    return export.select(TEXT_COLUMNS).filter(pl.col("id").is_in(ids.implode()))


def _buckets(
    pairs: pl.DataFrame, texts: pl.LazyFrame, settings: PairingSettings
) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """(pairs, texts) of the same questions, one bucket at a time; more than one bucket is spilled
    to disk by question (ocr2_kedro.tables' spill), so a bucket's texts are read once."""
    buckets = bucket_count([texts], int(settings.bucket_megabytes * 2**20))
    if buckets == 1:
        yield pairs, texts.collect(engine="streaming")
        return
    if settings.work_dir is not None:
        Path(settings.work_dir).mkdir(parents=True, exist_ok=True)
    root = Path(tempfile.mkdtemp(prefix="preference-texts-", dir=settings.work_dir))
    try:
        spill(pairs.lazy(), "question_id", buckets, root / "pairs")
        spill(texts, "question_id", buckets, root / "texts")
        for bucket in range(buckets):
            part = f"{BUCKET_COLUMN}={bucket}"
            if not (root / "pairs" / part).is_dir():
                continue
            bucket_pairs = pl.read_parquet(root / "pairs" / part / "*.parquet").sort(
                PAIR_ORDER, nulls_last=True
            )
            yield bucket_pairs, pl.read_parquet(root / "texts" / part / "*.parquet")
    finally:
        shutil.rmtree(root, ignore_errors=True)


_ARROW_MESSAGES = pa.list_(pa.struct([("role", pa.large_string()), ("content", pa.large_string())]))


def _text_sides(texts: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """A bucket's texts keyed for the chosen side (question fields + text) and the rejected side
    (text only), prepared once per bucket."""
    by_id = texts.drop("question_id", "language")
    chosen = by_id.rename({c: f"c_{c}" for c in by_id.columns})
    rejected = by_id.select(pl.col("id").alias("r_id"), pl.col("r1_generation").alias("r_text"))
    return chosen, rejected


def _pair_frame(
    batch: pl.DataFrame, sides: tuple[pl.DataFrame, pl.DataFrame], system_prompt: str | None
) -> pl.DataFrame:
    """One batch of chosen pairs with their messages (PAIR_SCHEMA)."""
    chosen_texts, rejected_texts = sides
    joined = batch.join(
        chosen_texts, left_on="chosen_id", right_on="c_id", maintain_order="left"
    ).join(rejected_texts, left_on="rejected_id", right_on="r_id", maintain_order="left")
    fields = [c.removeprefix("c_") for c in chosen_texts.columns if c != "c_id"]
    if len(joined) != len(batch):
        raise RuntimeError("a chosen or rejected sample's text was not found in the export")
    messages: dict[str, list] = {"prompt": [], "chosen": [], "rejected": []}
    kept = []
    for row in joined.iter_rows(named=True):
        chosen_row = {
            **{c: row[f"c_{c}"] for c in fields},
            "id": row["chosen_id"],
            "language": row["language"],
        }
        rejected_row = {
            **chosen_row,
            "id": row["rejected_id"],
            "r1_generation": row["r_text"],
        }
        chosen = make_example(chosen_row, GENERATION_KIND, system_prompt)
        rejected = make_example(rejected_row, GENERATION_KIND, system_prompt)
        keep = chosen["completion"] != rejected["completion"]
        kept.append(keep)
        if not keep:  # a text-hash collision: never a pair
            logger.warning(
                "dropped pair %s/%s: identical texts", row["chosen_id"], row["rejected_id"]
            )
            continue
        messages["prompt"].append(chosen["prompt"])
        messages["chosen"].append(chosen["completion"])
        messages["rejected"].append(rejected["completion"])
    rest = joined.filter(pl.Series(kept, dtype=pl.Boolean))
    # Nested messages through arrow: polars' own conversion of lists of dicts is ~10x slower.
    nested = pl.from_arrow(
        pa.table({name: pa.array(values, _ARROW_MESSAGES) for name, values in messages.items()})
    )
    ids = pl.Series(
        "pair_id",
        [pair_id(c, r) for c, r in zip(rest["chosen_id"], rest["rejected_id"], strict=True)],
        pl.String,
    )
    return (
        pl.concat([nested, rest.with_columns(ids)], how="horizontal")
        .select(PAIR_SCHEMA.names())
        .cast(dict(PAIR_SCHEMA))
    )


def _pair_batches(
    export: pl.LazyFrame,
    pairs: pl.DataFrame,
    settings: PairingSettings,
    system_prompt: str | None,
) -> Iterator[pl.DataFrame]:
    columns = pairs.select(
        *GROUP,
        "chosen_id",
        "rejected_id",
        pl.col("chosen_pass_rate"),
        pl.col("rejected_pass_rate"),
        "chosen_judgement",
        "rejected_judgement",
        "difficulty",
        "pair_source",
    )
    written = 0
    if columns.height:
        ids = pl.concat([columns["chosen_id"], columns["rejected_id"]]).unique()
        for bucket_pairs, texts in _buckets(columns, _texts(export, ids), settings):
            sides = _text_sides(texts)
            del texts
            for batch in bucket_pairs.iter_slices(settings.batch_pairs):
                frame = _pair_frame(batch, sides, system_prompt)
                if frame.height:
                    written += frame.height
                    yield frame
    if not written:
        yield pl.DataFrame(schema=PAIR_SCHEMA)  # the table keeps its columns
    logger.info("preference pairs: %d written", written)


def build_preference_pairs(
    export: pl.LazyFrame | pl.DataFrame,
    settings: PairingSettings | Mapping[str, Any] | None = None,
    system_prompt: str | None = None,
) -> PreferencePairs:
    """Preference pairs, rejects and counts from an OCR-2 export (a lazy scan or a DataFrame).

    The pairs are chosen now, from narrow columns; their texts are read as `pairs` is iterated.
    `system_prompt` is the one the SFT examples get (training.system_prompt), so a pair's prompt is
    a stage-1 example's prompt.
    """
    if not isinstance(settings, PairingSettings):
        settings = PairingSettings.from_dict(settings)
    export = _conformed(export)
    samples = _narrow_samples(export, settings.seed)
    groups = _group_counts(samples)
    candidates = _candidates(samples, groups, settings)
    pairs = _select(candidates, settings)
    rejects = _rejects(groups, candidates, pairs, settings)
    statistics = _statistics(settings, samples, groups, candidates, pairs, rejects)
    logger.info(
        "preference pairs: %d chosen (%s) from %d (question, language) groups; %d without a pair %s",
        statistics["pairs"],
        statistics["by_source"],
        statistics["questions"],
        statistics["questions_without_pairs"],
        statistics["rejects_by_reason"],
    )
    return PreferencePairs(
        pairs=_pair_batches(export, pairs, settings, system_prompt),
        rejects=rejects,
        statistics=statistics,
    )
