"""Paper scale in bounded memory: the dataset and SFT-data steps on synthetic OCR-2-sized tables,
wall time, rows/s and peak memory per size, the fitted growth, and the eager implementation
(git commit 930d882) measured in the same run.

    .venv/bin/python benchmarks/scale.py                                  # 20K, 100K, 400K rows
    .venv/bin/python benchmarks/scale.py --sizes 5000 20000 --eager-sizes 5000 20000
    .venv/bin/python benchmarks/scale.py --write-docs    # also writes the section
                                                         # `## Paper scale in bounded memory`
                                                         # of docs/benchmarks.md

Inputs. Per size N: N generations (half Python, half C++; reasoning ~20 KB inside `<think>`, a
~1.5 KB solution in a code block, the prompt the teacher was given), a critique (~8 KB, judgement
right/wrong, 2% unparseable) and a verification (verdict, pass_rate, ten per-test results) per
accepted generation, ~4% flagged generations with their reject rows, and N/72 questions of
~1.5 KB (OCR-2: ~2.5M samples over 34,799 questions). Text is drawn from seeded pools of words and
code tokens taken from the bundled questions and solutions (realistic bytes per token, and
different text in every row: one repeated string would compress away), generated and written in
batches of 2,000 rows (one row group each), so writing 400K rows takes bounded memory too.

Operations, each in a fresh child process so that its peak memory is its own:
- export: `build_export` (questions + accepted generations + critiques + verdicts -> OCR-2 export);
- split: the per-language split, written as parquet and JSONL;
- card: the dataset statistics, the dataset card and the MLflow metrics;
- plot: the overview plot (token lengths and verdicts per language), written as plotly JSON;
- sft: SFT example building (stage 1 and stage 2) and tokenization with the embedded tokenizer
  (SmolLM2-135M-Instruct) at the paper's max_length (32,768).
The new implementation runs the project's own pipelines (`ocr2_kedro.pipelines.<name>`: the node
functions) on a catalog built from conf/base (the datasets the pipelines use), with file paths
moved into the benchmark's work directory, through Kedro's SequentialRunner. The eager baseline
runs the functions of commit 930d882 (vendored below in `eager_baseline`, since the package's own
code has changed since) on that commit's catalog entries (whole-file polars reads and writes),
through the same runner. Its memory grows linearly with N, so it runs only at `--eager-sizes`
(default 20K and 100K), and a size whose peak, extrapolated from the smaller ones, would exceed
`--eager-max-gb` is skipped; both are said in the output.

Peak memory: the larger of the child's own high-water mark (VmHWM, and `ru_maxrss` of the
workers it waited for) and the peak of the summed proportional set size (PSS, shared
pages split between sharers) of the child's whole process tree, sampled every 0.2 s: a step that
forks tokenization workers is charged for all of them. Wall time is measured inside the child
around the pipeline run (imports and interpreter start-up excluded; they are the same at every
size). The fit is least squares of time and of peak memory against N, extrapolated to 2.5M rows.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import platform
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "data" / "06_models" / "embedded" / "SmolLM2-135M-Instruct"
DOCS_SECTION = "Paper scale in bounded memory"
BASELINE_COMMIT = "930d882"
PAPER_ROWS = 2_500_000
PAPER_MAX_LENGTH = 32_768  # conf/paper/parameters_training.yml
SAMPLES_PER_QUESTION = 72  # OCR-2: ~2.5M samples over 34,799 questions
BATCH_ROWS = 2_000
MEMORY_TARGET_BYTES = 4 * 2**30
FLAT_TARGET = 1.5
OPERATIONS = ("export", "split", "card", "plot", "sft")
IMPLEMENTATIONS = ("new", "eager")
INPUT_TABLES = ("problems_dedup", "generations", "critiques", "verifications", "generation_rejects")


# =============================================================================== synthetic inputs

# Words a reasoning trace or a critique is made of, beside those of the bundled questions.
REASONING_TEXT = (
    "so we need to find the answer wait let me check this again hmm but what if the input is "
    "empty then the loop never runs and we print zero which is correct because the sum of nothing "
    "is zero okay now the complexity is O(n log n) since we sort first then scan once and n is up "
    "to 2e5 so that fits in time let me trace the example first element is 3 then 5 then the "
    "maximum becomes 5 and the answer is 8 yes that matches the expected output alternatively we "
    "could use a prefix sum array or binary search on the answer but the greedy approach should "
    "work here because choosing the smallest available value never hurts the later choices edge "
    "case when all values are equal the solution is correct the candidate reads the input with "
    "split and converts to int overflow is not a problem in Python but in C++ we need long long "
    "the code handles the modulo 1000000007 correctly therefore the solution is right"
)


def _corpus() -> tuple[list[str], dict[str, list[str]]]:
    """Prose words and per-language code tokens from the bundled questions and their solutions."""
    prose, code = REASONING_TEXT.split(), {"python": [], "cpp": []}
    with (REPO / "data" / "01_raw" / "bundled" / "problems.jsonl").open() as handle:
        for line in handle:
            record = json.loads(line)
            prose += record["question"].split()
            for language, solution in (record.get("solutions") or {}).items():
                if language in code:
                    code[language] += [
                        token for row in solution.splitlines() for token in (*row.split(), "\n")
                    ]
    return prose, code


class TextPools:
    """Long seeded strings of words (drawn with the corpus' own frequencies); a text is a slice at a
    random offset, so rows differ while generating them costs a slice, not a join per row."""

    def __init__(self, seed: int, prose_mb: int = 48, code_mb: int = 4) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        prose, code = _corpus()

        def pool(words: list[str], megabytes: int, newline_every: int) -> str:
            vocabulary = np.array(words, dtype=object)
            count = megabytes * 2**20 // (sum(map(len, words)) // len(words) + 1)
            drawn = vocabulary[rng.integers(0, len(vocabulary), count)].tolist()
            if newline_every:
                drawn[newline_every::newline_every] = ["\n"] * len(
                    drawn[newline_every::newline_every]
                )
            return " ".join(drawn)

        self.prose = pool(prose, prose_mb, 40)
        self.code = {language: pool(tokens, code_mb, 0) for language, tokens in code.items()}

    @staticmethod
    def take(pool: str, rng, mean_bytes: int, count: int) -> list[str]:
        lengths = (mean_bytes * rng.uniform(0.5, 1.5, count)).astype(int)
        starts = rng.integers(0, len(pool) - int(mean_bytes * 1.5) - 1, count)
        return [pool[s : s + n] for s, n in zip(starts.tolist(), lengths.tolist(), strict=True)]


def _problems_frame(pools: TextPools, count: int, seed: int):
    import numpy as np
    import polars as pl

    from ocr2_kedro.schemas import PROBLEM, conform, stable_id

    rng = np.random.default_rng([seed, 0])
    questions = TextPools.take(pools.prose, rng, 1_500, count)
    sources = ("taco", "apps", "code_contests", "open-r1/codeforces")
    difficulties = ("easy", "medium", "hard", None)
    rows = [
        {
            "question_id": stable_id("question", index),
            "source": sources[index % len(sources)],
            "source_id": f"q{index}",
            "split": "train",
            "question": question,
            "starter_code": "",
            "test_type": "stdin",
            "fn_name": None,
            "tests": [{"input": f"{index} {k}\n", "output": f"{index + k}\n"} for k in range(5)],
            "time_limit_s": 2.0,
            "memory_limit_mb": 256,
            "difficulty": difficulties[index % len(difficulties)],
            "contest_date": None,
            "license": "cc-by-4.0",
            "platform": None,
        }
        for index, question in enumerate(questions)
    ]
    return conform(pl.DataFrame(rows, infer_schema_length=None), PROBLEM)


def _sample_batch(pools: TextPools, problems, start: int, stop: int, seed: int) -> dict[str, Any]:
    """Generations, critiques, verifications and rejects of generation rows [start, stop)."""
    import numpy as np
    import polars as pl

    from ocr2_kedro.generation.prompts import solution_prompt
    from ocr2_kedro.schemas import CRITIQUE, GENERATION, REJECT, VERDICTS, VERIFICATION, stable_id

    rng = np.random.default_rng([seed, 1 + start // BATCH_ROWS])
    count = stop - start
    questions = problems["question"]
    question_ids = problems["question_id"]
    languages = np.where(rng.random(count) < 0.55, "python", "cpp").tolist()
    reasoning = TextPools.take(pools.prose, rng, 20_000, count)
    tails = TextPools.take(pools.prose, rng, 400, count)
    solutions = {
        language: TextPools.take(pools.code[language], rng, 1_500, count)
        for language in ("python", "cpp")
    }
    flagged = (rng.random(count) < 0.04).tolist()
    generations, critiques, verifications, rejects = [], [], [], []
    critique_reasoning = TextPools.take(pools.prose, rng, 6_500, count)
    critique_summary = TextPools.take(pools.prose, rng, 1_500, count)
    judgement_draw = rng.random(count).tolist()
    passed_draw = rng.integers(0, 11, count).tolist()
    for offset in range(count):
        index = start + offset
        # Samples of one question are contiguous, as the generation pipeline writes them.
        question = min(index // SAMPLES_PER_QUESTION, problems.height - 1)
        language = languages[offset]
        generation_id = stable_id("generation", index)
        solution = solutions[language][offset]
        output = (
            f"<think>\n{reasoning[offset]}\n</think>\n\n{tails[offset]}\n\n"
            f"```{language}\n{solution}\n```\n"
        )
        generations.append(
            {
                "generation_id": generation_id,
                "question_id": question_ids[question],
                "language": language,
                "sample_idx": index % SAMPLES_PER_QUESTION,
                "seed": index,
                "model": "deepseek-ai/DeepSeek-R1",
                "prompt": solution_prompt(questions[question], language, "stdin"),
                "output": output,
                "reasoning": reasoning[offset],
                "solution": None if flagged[offset] else solution,
                "finish_reason": "length" if flagged[offset] else "stop",
                "num_output_tokens": len(output) // 4,
                "flags": ["no_code_block"] if flagged[offset] else [],
            }
        )
        if flagged[offset]:
            rejects.append(
                {
                    "stage": "generation",
                    "source": "generation",
                    "record_id": generation_id,
                    "reason": "no_code_block",
                    "detail": "no fenced code block after </think>",
                }
            )
            continue
        draw = judgement_draw[offset]
        judgement = "right" if draw < 0.6 else "wrong" if draw < 0.98 else None
        critiques.append(
            {
                "generation_id": generation_id,
                "critic_model": "Qwen/QwQ-32B",
                "critique": f"<think>\n{critique_reasoning[offset]}\n</think>\n\n"
                f"{critique_summary[offset]}"
                + (f"\n\nJudgement: {judgement}" if judgement else ""),
                "critique_reasoning": critique_reasoning[offset],
                "judgement": judgement,
                "judgement_source": "critique" if judgement else None,
            }
        )
        passed = passed_draw[offset]
        verdict = "AC" if passed == 10 else VERDICTS[1 + index % 4]
        verifications.append(
            {
                "generation_id": generation_id,
                "verdict": verdict,
                "passed": passed,
                "total": 10,
                "pass_rate": passed / 10,
                "tests": [
                    {"verdict": "AC" if k < passed else verdict, "time_s": 0.01 * (k + 1)}
                    for k in range(10)
                ],
                "error": None,
                "isolation": ["namespaces", "cgroup", "rlimits"],
            }
        )
    return {
        "generations": pl.DataFrame(generations, schema=GENERATION),
        "critiques": pl.DataFrame(critiques, schema=CRITIQUE),
        "verifications": pl.DataFrame(verifications, schema=VERIFICATION),
        "generation_rejects": pl.DataFrame(rejects, schema=REJECT),
    }


def write_inputs(size: int, directory: Path, seed: int) -> dict[str, Path]:
    """The five input tables of `size` generation rows as parquet files in `directory`, written
    batch by batch in row groups of BATCH_ROWS rows; reused when a complete set is already there."""
    import pyarrow.parquet as pq

    paths = {name: directory / f"{name}.parquet" for name in INPUT_TABLES}
    done = directory / "complete.json"
    expected = {"size": size, "seed": seed, "batch_rows": BATCH_ROWS}
    if done.is_file() and json.loads(done.read_text()) == expected:
        return paths
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    # The same pools at every size, so that a row compresses alike (same bytes per row on disk).
    pools = TextPools(seed)
    problems = _problems_frame(pools, max(1, math.ceil(size / SAMPLES_PER_QUESTION)), seed)
    problems.write_parquet(paths["problems_dedup"], row_group_size=BATCH_ROWS)
    writers: dict[str, pq.ParquetWriter] = {}
    try:
        for start in range(0, size, BATCH_ROWS):
            batch = _sample_batch(pools, problems, start, min(size, start + BATCH_ROWS), seed)
            for name, frame in batch.items():
                table = frame.to_arrow()
                if name not in writers:
                    writers[name] = pq.ParquetWriter(
                        str(paths[name]), table.schema, compression="zstd"
                    )
                writers[name].write_table(table.cast(writers[name].schema), BATCH_ROWS)
    finally:
        for writer in writers.values():
            writer.close()
    done.write_text(json.dumps(expected))
    return paths


# ================================================================================= eager_baseline
#
# The implementation as it was at git commit 930d882, vendored verbatim (functions of
# src/ocr2_kedro/pipelines/dataset/nodes.py, src/ocr2_kedro/pipelines/training/nodes.py,
# src/ocr2_kedro/training/tokenize.py, src/ocr2_kedro/training/examples.py and the JSONL hand-off of
# src/ocr2_kedro/training/launcher.py), with that commit's catalog entries: every table an
# EagerPolarsDataset (one whole parquet or JSONL file read into / written from one DataFrame).
# Only the engines they call that have not changed (schemas, prompts) are imported from the package.


def _eager_catalog_entries() -> dict[str, dict[str, Any]]:
    def table(filepath: str, file_format: str = "parquet") -> dict[str, Any]:
        return {
            "type": "polars.EagerPolarsDataset",
            "file_format": file_format,
            "filepath": filepath,
            "versioned": True,
        }

    return {
        "ocr2_export": table("data/03_primary/ocr2/all.parquet"),
        "ocr2_export_jsonl_{language}": table("data/08_reporting/ocr2/{language}.jsonl", "ndjson"),
        "ocr2_export_{language}": table("data/03_primary/ocr2/{language}.parquet"),
        "dataset_card": {
            "type": "text.TextDataset",
            "filepath": "data/08_reporting/dataset_card.md",
            "versioned": True,
        },
        "dataset_overview_plot": {
            "type": "plotly.JSONDataset",
            "filepath": "data/08_reporting/dataset_overview.json",
            "versioned": True,
        },
        "sft_stage1_examples": table("data/05_model_input/sft/stage1_examples.parquet"),
        "sft_stage2_examples": table("data/05_model_input/sft/stage2_examples.parquet"),
        "training_rejects": table("data/05_model_input/sft/rejects.parquet"),
    }


def eager_pipelines() -> dict[str, Any]:
    """The 930d882 wiring of each operation (pipelines/dataset/pipeline.py and
    pipelines/training/pipeline.py of that commit), with the vendored functions."""
    from kedro.pipeline import Node, Pipeline

    return {
        "export": Pipeline(
            [
                Node(
                    eager_build_export,
                    inputs=["problems_dedup", "generations", "critiques", "verifications"],
                    outputs="ocr2_export",
                    name="build_export",
                )
            ]
        ),
        "split": Pipeline(
            [
                Node(
                    eager_split_by_language,
                    inputs="ocr2_export",
                    outputs=[
                        "ocr2_export_python",
                        "ocr2_export_cpp",
                        "ocr2_export_jsonl_python",
                        "ocr2_export_jsonl_cpp",
                    ],
                    name="split_export_by_language",
                )
            ]
        ),
        "card": Pipeline(
            [
                Node(
                    eager_dataset_statistics,
                    inputs=[
                        "problems_dedup",
                        "generations",
                        "critiques",
                        "verifications",
                        "generation_rejects",
                        "ocr2_export",
                    ],
                    outputs="dataset_statistics",
                    name="dataset_statistics",
                ),
                Node(
                    eager_render_dataset_card,
                    inputs=[
                        "dataset_statistics",
                        "params:dataset",
                        "params:generation.model",
                        "params:critique.model",
                    ],
                    outputs=["dataset_card", "dataset_card_mlflow"],
                    name="render_dataset_card",
                ),
                Node(
                    eager_summarize_dataset,
                    inputs="dataset_statistics",
                    outputs="dataset_metrics",
                    name="summarize_dataset",
                ),
            ]
        ),
        "plot": Pipeline(
            [
                Node(
                    eager_plot_dataset_overview,
                    inputs=["generations", "verifications"],
                    outputs=["dataset_overview_plot", "dataset_overview_plot_mlflow"],
                    name="plot_dataset_overview",
                )
            ]
        ),
        "sft": Pipeline(
            [
                Node(
                    eager_build_sft_examples,
                    inputs=["ocr2_export", "training_plan"],
                    outputs=["sft_stage1_examples", "sft_stage2_examples", "training_rejects"],
                    name="build_sft_examples",
                ),
                Node(
                    eager_prepare_stage1,
                    inputs=["sft_stage1_examples", "training_plan"],
                    outputs="sft_stage1_train_rows",
                    name="tokenize_stage1",
                ),
                Node(
                    eager_prepare_stage2,
                    inputs=["sft_stage2_examples", "training_plan"],
                    outputs="sft_stage2_train_rows",
                    name="tokenize_stage2",
                ),
            ]
        ),
    }


def eager_training_plan(student: str, max_length: int, work_dir: str) -> dict[str, Any]:
    """The parts of 930d882's `validate_training_config` plan the data steps read (conf/base
    settings, the paper's max_length)."""
    return {
        "student": student,
        "system_prompt": None,
        "work_dir": work_dir,
        "seed": 42,
        "filters": {},
        "critique_ratio": None,
        "stage1": {"max_length": max_length},
        "stage2": {"max_length": max_length},
        "distributed": {},
    }


# ---- 930d882:src/ocr2_kedro/pipelines/dataset/nodes.py


def _eager_accepted(generations):
    import polars as pl

    return generations.filter((pl.col("flags").list.len() == 0) & pl.col("solution").is_not_null())


def eager_build_export(problems, generations, critiques, verifications):
    """One row per accepted generation in the public OCR-2 column layout."""
    import polars as pl

    joined = (
        _eager_accepted(generations)
        .join(
            critiques.select("generation_id", "critique", "judgement"),
            on="generation_id",
            how="left",
        )
        .join(
            verifications.select("generation_id", "verdict", "pass_rate"),
            on="generation_id",
            how="left",
        )
        .join(
            problems.select(
                "question_id",
                "question",
                "source",
                "source_id",
                "license",
                "split",
                "difficulty",
                "test_type",
                "starter_code",
                "fn_name",
            ),
            on="question_id",
            how="left",
        )
    )
    return joined.select(
        pl.col("generation_id").alias("id"),
        "question_id",
        "question",
        pl.col("output").alias("r1_generation"),
        pl.col("critique").alias("qwq_critique"),
        "solution",
        "judgement",
        "pass_rate",
        "verdict",
        "source",
        "license",
        pl.col("source").alias("dataset"),
        "split",
        "difficulty",
        pl.col("source_id").alias("index"),
        "language",
        "test_type",
        "starter_code",
        "fn_name",
    ).sort("language", "question_id", "id")


def eager_split_by_language(export):
    """(python parquet, cpp parquet, python JSONL, cpp JSONL): the same tables in both formats."""
    import polars as pl

    python = export.filter(pl.col("language") == "python")
    cpp = export.filter(pl.col("language") == "cpp")
    return python, cpp, python, cpp


def _eager_token_stats(frame) -> dict[str, float]:
    tokens = frame["num_output_tokens"].drop_nulls()
    if tokens.is_empty():
        return {"n": 0}
    return {
        "n": tokens.len(),
        "mean": float(tokens.mean()),
        "p50": float(tokens.quantile(0.5, "nearest")),
        "p90": float(tokens.quantile(0.9, "nearest")),
        "max": float(tokens.max()),
    }


def _eager_agreement(critiques, verifications) -> dict:
    import polars as pl

    both = critiques.select("generation_id", "judgement").join(
        verifications.filter(pl.col("total") > 0).select("generation_id", "pass_rate"),
        on="generation_id",
        how="inner",
    )
    passed = both["pass_rate"] == 1.0
    matrix = {}
    for judgement in ("right", "wrong", None):
        is_j = both["judgement"].is_null() if judgement is None else both["judgement"] == judgement
        matrix[judgement or "null"] = {
            "passed": int((is_j & passed).sum()),
            "failed": int((is_j & ~passed).sum()),
        }
    tp = matrix["right"]["passed"]
    predicted = matrix["right"]["passed"] + matrix["right"]["failed"]
    actual = int(passed.sum())
    judged = both.filter(pl.col("judgement").is_not_null())
    agree = (
        ((judged["judgement"] == "right") == (judged["pass_rate"] == 1.0)).mean()
        if judged.height
        else None
    )
    return {
        "pairs": both.height,
        "matrix": matrix,
        "precision_right": tp / predicted if predicted else None,
        "recall_right": tp / actual if actual else None,
        "accuracy_judged": float(agree) if agree is not None else None,
    }


def eager_dataset_statistics(
    problems, generations, critiques, verifications, generation_rejects, export
) -> dict:
    """Everything the card and the MLflow metrics report, as plain Python values."""
    import polars as pl

    from ocr2_kedro.schemas import LANGUAGES

    accepted = _eager_accepted(generations)
    reasons = (
        generation_rejects.group_by("stage", "reason").len().sort("len", descending=True).rows()
    )
    by_language = {}
    for language in LANGUAGES:
        part = generations.filter(pl.col("language") == language)
        crit = critiques.join(part.select("generation_id"), on="generation_id", how="semi")
        by_language[language] = {
            "generated": part.height,
            "accepted": accepted.filter(pl.col("language") == language).height,
            "exported": export.filter(pl.col("language") == language).height,
            "tokens_all": _eager_token_stats(part),
            "tokens_accepted": _eager_token_stats(accepted.filter(pl.col("language") == language)),
            "critiques": crit.height,
            "judgements": {
                "right": int((crit["judgement"] == "right").sum()),
                "wrong": int((crit["judgement"] == "wrong").sum()),
                "null": int(crit["judgement"].null_count()),
            },
            "agreement": _eager_agreement(crit, verifications),
        }

    def counts(column: str) -> list[tuple]:
        return (
            export.with_columns(pl.col(column).fill_null("unknown"))
            .group_by(column, "language")
            .len()
            .sort(column, "language")
            .rows()
        )

    return {
        "questions": problems.height,
        "questions_generated": generations["question_id"].n_unique(),
        "questions_exported": export["question_id"].n_unique(),
        "generations": generations.height,
        "exported": export.height,
        "by_language": by_language,
        "by_source": counts("source"),
        "by_difficulty": counts("difficulty"),
        "rejections": reasons,
        "critiques": critiques.height,
        "judgement_parse_rate": (
            1 - critiques["judgement"].null_count() / critiques.height if critiques.height else None
        ),
        "judgements_from_follow_up": int((critiques["judgement_source"] == "follow_up").sum()),
        "agreement": _eager_agreement(critiques, verifications),
        "verified": verifications.height,
        "accepted_by_execution": int((verifications["verdict"] == "AC").sum()),
    }


def _eager_table(headers: list[str], rows: list[list]) -> str:
    def cell(value) -> str:
        if value is None:
            return "–"
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value).replace("|", "\\|")

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def _eager_table_value(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def _eager_agreement_section(title: str, agreement: dict) -> str:
    matrix = agreement["matrix"]
    return (
        f"\n### {title} ({agreement['pairs']} pairs)\n\n"
        + _eager_table(
            ["judgement \\ execution", "pass_rate == 1", "pass_rate < 1"],
            [[j, m["passed"], m["failed"]] for j, m in matrix.items()],
        )
        + f"\n\nprecision(right) = {_eager_table_value(agreement['precision_right'])} · "
        f"recall(right) = {_eager_table_value(agreement['recall_right'])} · "
        f"accuracy over parsed judgements = {_eager_table_value(agreement['accuracy_judged'])}\n"
    )


def eager_render_dataset_card(stats: dict, params: dict, teacher: str, critic: str):
    """The dataset card (markdown), returned twice (versioned copy, MLflow copy)."""
    name = params.get("name", "ocr2_kedro distilled dataset")
    lang = stats["by_language"]
    sections = [
        f"# {name}\n",
        "Reasoning traces and solutions distilled from a teacher model, each judged by an LLM critic "
        "and by execution against unit tests, in the OpenCodeReasoning-II column layout "
        "(`question, r1_generation, qwq_critique, solution, judgement, pass_rate, source, license, "
        "dataset, split, difficulty, index, id, question_id`), one table per language.\n",
        f"Teacher: `{teacher}` · critic: `{critic}`\n",
        "## Counts\n",
        _eager_table(
            ["", "value"],
            [
                ["questions (after dedup)", stats["questions"]],
                ["questions with generations", stats["questions_generated"]],
                ["questions in the export", stats["questions_exported"]],
                ["generations", stats["generations"]],
                ["exported samples", stats["exported"]],
                ["critiques", stats["critiques"]],
                ["verified samples", stats["verified"]],
                ["accepted by execution (AC)", stats["accepted_by_execution"]],
            ],
        ),
        "\n### Per language\n",
        _eager_table(
            ["language", "generated", "accepted", "exported", "critiques"],
            [
                [language, v["generated"], v["accepted"], v["exported"], v["critiques"]]
                for language, v in lang.items()
            ],
        ),
        "\n### Exported samples per source\n",
        _eager_table(["source", "language", "samples"], [list(r) for r in stats["by_source"]]),
        "\n### Exported samples per difficulty\n",
        _eager_table(
            ["difficulty", "language", "samples"], [list(r) for r in stats["by_difficulty"]]
        ),
        "\n## Output token lengths\n",
        _eager_table(
            ["language", "set", "n", "mean", "p50", "p90", "max"],
            [
                [language, which, *(t.get(k) for k in ("n", "mean", "p50", "p90", "max"))]
                for language, v in lang.items()
                for which, t in (("all", v["tokens_all"]), ("accepted", v["tokens_accepted"]))
            ],
        ),
        "\n## Rejection reasons\n",
        "A question dropped before generation (over the prompt token budget) or a sample flagged "
        "after it (cut by the length limit, unclosed `<think>`, no code block, syntax error, "
        "placeholder code, code in the reasoning when configured, backend error). A sample may have "
        "several reasons; flagged samples stay in `generations` and `generation_rejects`.\n",
        _eager_table(["stage", "reason", "count"], [list(r) for r in stats["rejections"]])
        if stats["rejections"]
        else "None.",
        "\n## Critic judgements\n",
        f"Judgement parse rate: {_eager_table_value(stats['judgement_parse_rate'])} "
        "(unparseable critiques are kept with a null judgement); "
        f"{stats['judgements_from_follow_up']} judgements were asked for in a second turn because "
        "the critique ended without one.\n",
        _eager_table(
            ["language", "right", "wrong", "null"],
            [[language, *v["judgements"].values()] for language, v in lang.items()],
        ),
        "\n## Critic vs execution\n",
        "Where the question has tests: positive = pass_rate == 1. Precision and recall of "
        '"right"; a null judgement counts as not "right".\n',
        _eager_agreement_section("all", stats["agreement"]),
        *[_eager_agreement_section(language, v["agreement"]) for language, v in lang.items()],
    ]
    card = "\n".join(sections) + "\n"
    return card, card


def eager_summarize_dataset(stats: dict) -> dict[str, dict[str, float]]:
    """Run metrics for MLflow (MlflowMetricsHistoryDataset)."""
    metrics: dict[str, float | None] = {
        "samples": stats["exported"],
        "generations": stats["generations"],
        "critiques": stats["critiques"],
        "judgement_parse_rate": stats["judgement_parse_rate"],
        "judgements_from_follow_up": stats["judgements_from_follow_up"],
        "critic.precision_right": stats["agreement"]["precision_right"],
        "critic.recall_right": stats["agreement"]["recall_right"],
        "critic.accuracy_judged": stats["agreement"]["accuracy_judged"],
        "accepted_by_execution": stats["accepted_by_execution"],
    }
    for language, values in stats["by_language"].items():
        metrics[f"{language}.samples"] = values["exported"]
        metrics[f"{language}.generated"] = values["generated"]
        metrics[f"{language}.accept_rate"] = (
            values["accepted"] / values["generated"] if values["generated"] else None
        )
        metrics[f"{language}.mean_output_tokens"] = values["tokens_all"].get("mean")
        for judgement, count in values["judgements"].items():
            metrics[f"{language}.judgement.{judgement}"] = count
    for stage, reason, count in stats["rejections"]:
        metrics[f"rejected.{stage}.{reason}"] = count
    return {
        name: {"value": float(value), "step": 0}
        for name, value in metrics.items()
        if value is not None
    }


def eager_plot_dataset_overview(generations, verifications):
    """Output-token lengths and execution verdicts per language, one figure (returned twice)."""
    import plotly.graph_objects as go
    import polars as pl
    from plotly.subplots import make_subplots

    from ocr2_kedro.schemas import LANGUAGES, VERDICTS

    figure = make_subplots(
        rows=1, cols=2, subplot_titles=("output tokens per sample", "execution verdicts")
    )
    verdicts = generations.select("generation_id", "language").join(
        verifications.select("generation_id", "verdict"), on="generation_id", how="inner"
    )
    for language in LANGUAGES:
        tokens = generations.filter(pl.col("language") == language)["num_output_tokens"]
        figure.add_trace(
            go.Histogram(x=tokens.to_list(), name=language, opacity=0.6, legendgroup=language),
            row=1,
            col=1,
        )
        counts = dict(
            verdicts.filter(pl.col("language") == language).group_by("verdict").len().rows()
        )
        figure.add_trace(
            go.Bar(
                x=list(VERDICTS),
                y=[counts.get(verdict, 0) for verdict in VERDICTS],
                name=language,
                legendgroup=language,
                showlegend=False,
            ),
            row=1,
            col=2,
        )
    figure.update_layout(barmode="overlay", title="Distilled dataset overview")
    figure.update_xaxes(title_text="tokens", row=1, col=1)
    figure.update_yaxes(title_text="samples", row=1, col=1)
    figure.update_yaxes(title_text="solutions", row=1, col=2)
    return figure, figure


# ---- 930d882:src/ocr2_kedro/training/examples.py

_EAGER_GENERATION = "generation"
_EAGER_CRITIQUE = "critique"


def _eager_rejection(filters: dict[str, Any], row) -> str | None:
    # ExampleFilters.rejection of 930d882; the plan's filters are empty (keep everything).
    languages, judgements = filters.get("languages"), filters.get("judgements")
    min_pass_rate = filters.get("min_pass_rate")
    if languages is not None and row.get("language") not in languages:
        return f"language {row.get('language')!r} not in {list(languages)}"
    if judgements is not None:
        judgement = row.get("judgement") or "none"
        if judgement not in judgements:
            return f"judgement {judgement!r} not in {list(judgements)}"
    if min_pass_rate is not None:
        pass_rate = row.get("pass_rate")
        if pass_rate is None:
            if not filters.get("keep_unverified", True):
                return "no pass_rate (unverified)"
        elif pass_rate < min_pass_rate:
            return f"pass_rate {pass_rate} < {min_pass_rate}"
    return None


def _eager_generation_prompt_of(row) -> str:
    from ocr2_kedro.generation.prompts import solution_prompt

    return solution_prompt(
        row["question"],
        row["language"],
        row.get("test_type") or "stdin",
        row.get("starter_code") or "",
        row.get("fn_name"),
    )


def _eager_messages(system_prompt: str | None, user: str) -> list[dict[str, str]]:
    system = [{"role": "system", "content": system_prompt}] if system_prompt else []
    return [*system, {"role": "user", "content": user}]


def _eager_critique_target(critique: str, judgement: str | None) -> str:
    text = critique.rstrip()
    if judgement in ("right", "wrong") and f"judgement: {judgement}" not in text[-200:].lower():
        text += f"\n\nJudgement: {judgement}"
    return text


def _eager_build_examples(rows, kind, required, prompt, target, filters, system_prompt):
    from ocr2_kedro.generation.prompts import LANGUAGE_NAMES

    examples, skipped = [], []
    for row in rows:
        row_id = str(row.get("id"))
        reason = _eager_rejection(filters, row) or next(
            (why for column, why in required.items() if not (row.get(column) or "").strip()), None
        )
        if reason is None and row.get("language") not in LANGUAGE_NAMES:
            reason = f"unknown language {row.get('language')!r}"
        if reason is not None:
            skipped.append({"id": row_id, "kind": kind, "reason": reason})
            continue
        examples.append(
            {
                "id": row_id,
                "kind": kind,
                "language": row["language"],
                "prompt": _eager_messages(system_prompt, prompt(row)),
                "completion": [{"role": "assistant", "content": target(row)}],
            }
        )
    return examples, skipped


def _eager_build_generation_examples(rows, filters, system_prompt):
    return _eager_build_examples(
        rows,
        _EAGER_GENERATION,
        {"question": "empty question", "r1_generation": "empty r1_generation"},
        _eager_generation_prompt_of,
        lambda row: row["r1_generation"].strip(),
        filters,
        system_prompt,
    )


def _eager_build_critique_examples(rows, filters, system_prompt):
    from ocr2_kedro.generation.prompts import critique_prompt

    return _eager_build_examples(
        rows,
        _EAGER_CRITIQUE,
        {"qwq_critique": "no critique", "solution": "no solution to critique"},
        lambda row: critique_prompt(row["question"], row["language"], row["solution"]),
        lambda row: _eager_critique_target(row["qwq_critique"], row.get("judgement")),
        filters,
        system_prompt,
    )


def _eager_mix_stage2(generation_examples, critique_examples, critique_ratio, seed=0):
    import random

    rng = random.Random(seed)
    critiques = list(critique_examples)
    if critique_ratio is not None and critiques:
        wanted = round(critique_ratio * len(generation_examples))
        if wanted <= len(critiques):
            critiques = rng.sample(critiques, wanted)
        else:
            repeats, rest = divmod(wanted, len(critiques))
            critiques = critiques * repeats + rng.sample(critiques, rest)
    mixed = list(generation_examples) + critiques
    rng.shuffle(mixed)
    return mixed


# ---- 930d882:src/ocr2_kedro/pipelines/training/nodes.py


def _eager_examples_frame(examples):
    import polars as pl

    from ocr2_kedro.schemas import conform

    schema = pl.Schema(
        {
            "id": pl.String,
            "kind": pl.String,
            "language": pl.String,
            "prompt": pl.String,
            "completion": pl.String,
        }
    )
    return conform(
        [
            {
                "id": e["id"],
                "kind": e["kind"],
                "language": e["language"],
                "prompt": json.dumps(e["prompt"], ensure_ascii=False),
                "completion": json.dumps(e["completion"], ensure_ascii=False),
            }
            for e in examples
        ],
        schema,
    )


def eager_build_sft_examples(export, plan):
    """Stage-1 examples, stage-2 examples (stage 1 + critiques at the configured ratio), rejects."""
    from ocr2_kedro.schemas import REJECT, conform

    rows = export.to_dicts()
    filters = plan["filters"]
    generation, generation_skipped = _eager_build_generation_examples(
        rows, filters, plan["system_prompt"]
    )
    critique, critique_skipped = _eager_build_critique_examples(
        rows, filters, plan["system_prompt"]
    )
    stage2 = _eager_mix_stage2(generation, critique, plan["critique_ratio"], seed=plan["seed"])
    rejects = conform(
        [
            {
                "stage": "training",
                "source": skipped["kind"],
                "record_id": skipped["id"],
                "reason": skipped["reason"].split(" ", 1)[0],
                "detail": skipped["reason"],
            }
            for skipped in generation_skipped + critique_skipped
        ],
        REJECT,
    )
    return _eager_examples_frame(generation), _eager_examples_frame(stage2), rejects


def _eager_examples_from_frame(frame):
    return [
        {**row, "prompt": json.loads(row["prompt"]), "completion": json.loads(row["completion"])}
        for row in frame.to_dicts()
    ]


def _eager_prepare_stage(stage: str, examples, plan) -> str:
    """`_train_stage` of 930d882 up to the launch: tokenize every example, fingerprint the token
    ids, and hand them to the launched ranks as `train_rows.jsonl` (launcher.launch_stage)."""
    from transformers import AutoTokenizer

    from ocr2_kedro.schemas import stable_id

    tokenizer = AutoTokenizer.from_pretrained(plan["student"])
    rows, _skipped = eager_tokenize_examples(
        tokenizer, _eager_examples_from_frame(examples), plan[stage]["max_length"]
    )
    fingerprint = stable_id(
        plan["student"], plan[stage], [r["input_ids"] for r in rows], plan["distributed"]
    )
    output_dir = Path(plan["work_dir"]) / f"{stage}-{fingerprint}"
    output_dir.mkdir(parents=True, exist_ok=True)
    data_path = output_dir / "train_rows.jsonl"
    with data_path.open("w") as handle:
        for row in rows:
            handle.write(
                json.dumps({"input_ids": row["input_ids"], "labels": row["labels"]}) + "\n"
            )
    return str(data_path)


def eager_prepare_stage1(examples, plan) -> str:
    return _eager_prepare_stage("stage1", examples, plan)


def eager_prepare_stage2(examples, plan) -> str:
    return _eager_prepare_stage("stage2", examples, plan)


# ---- 930d882:src/ocr2_kedro/training/tokenize.py

_EAGER_IGNORE_INDEX = -100


def eager_tokenize_example(tokenizer, example, max_length: int) -> dict[str, Any]:
    prompt_text = tokenizer.apply_chat_template(
        example["prompt"], tokenize=False, add_generation_prompt=True
    )
    full_text = tokenizer.apply_chat_template(
        example["prompt"] + example["completion"], tokenize=False
    )
    if not full_text.startswith(prompt_text):
        raise ValueError(
            "the chat template renders the prompt differently alone and with its completion; "
            "cannot tell assistant tokens apart"
        )
    prompt_ids = tokenizer(prompt_text, add_special_tokens=False)["input_ids"]
    completion_ids = tokenizer(full_text[len(prompt_text) :], add_special_tokens=False)["input_ids"]
    input_ids = (prompt_ids + completion_ids)[:max_length]
    labels = ([_EAGER_IGNORE_INDEX] * len(prompt_ids) + completion_ids)[:max_length]
    return {"input_ids": input_ids, "labels": labels, "prompt_tokens": len(prompt_ids)}


def eager_tokenize_examples(tokenizer, examples, max_length: int):
    rows, skipped = [], []
    for example in examples:
        tokens = eager_tokenize_example(tokenizer, example, max_length)
        if all(label == _EAGER_IGNORE_INDEX for label in tokens["labels"]):
            skipped.append(
                {
                    "id": str(example.get("id")),
                    "kind": str(example.get("kind")),
                    "reason": f"prompt ({tokens['prompt_tokens']} tokens) fills max_length {max_length}",
                }
            )
            continue
        rows.append(
            {
                "id": str(example.get("id")),
                "kind": str(example.get("kind")),
                "input_ids": tokens["input_ids"],
                "labels": tokens["labels"],
            }
        )
    return rows, skipped


# ============================================================================ the new implementation

# Which nodes of the project's pipelines make up each operation. Upstream inputs not produced by
# these nodes are loaded from the catalog (the inputs, or what an earlier operation wrote).
NEW_NODES = {
    "export": ("dataset", ["build_export"]),
    "split": ("dataset", ["split_export_by_language"]),
    "card": ("dataset", ["dataset_statistics", "render_dataset_card", "summarize_dataset"]),
    "plot": ("dataset", ["plot_dataset_overview"]),
    "sft": ("training", None),  # every node of the training template up to the trainer launch
}
SFT_TRAIN_NODES = ("train_stage1", "train_stage2", "train_dpo")
# The DPO pair check passes the export on to the SFT examples; it reads the preference pairs, which
# the sft operation has none of, so the examples read the export directly.
PAIR_CHECK_NODE = "check_preference_pairs"
# Optional sections of the dataset card made by other nodes (preference pairs, reasoning patterns):
# the card operation renders without them, as a card given no such report does.
OPTIONAL_CARD_REPORTS = ("preference_statistics", "reasoning_patterns_summary")


def new_tokenize_stage(stage: str, examples, settings) -> dict[str, Any]:
    """The data half of a training stage (`ocr2_kedro.pipelines.training.nodes.tokenize_stage`,
    with the run's TrainingSettings); the trainer launch that follows is left out (as in the eager
    baseline)."""
    from ocr2_kedro.models import resolve_model_path
    from ocr2_kedro.pipelines.training.nodes import tokenize_stage

    student = resolve_model_path(settings.student)
    tokenized = tokenize_stage(stage, examples, student, settings)
    return {
        "path": str(tokenized.path),
        "examples": tokenized.examples,
        "train_tokens": tokenized.train_tokens,
        "num_proc": tokenized.num_proc,
        "reused": tokenized.reused,
        "lent_rows": tokenized.lent_rows,
    }


def _new_sft_tokenize_nodes():
    from functools import partial, update_wrapper

    from kedro.pipeline import Node, Pipeline

    nodes = []
    for stage in ("stage1", "stage2"):
        function = update_wrapper(partial(new_tokenize_stage, stage), new_tokenize_stage)
        nodes.append(
            Node(
                function,
                inputs=[f"sft_{stage}_examples", "params:training"],
                outputs=f"sft_{stage}_tokenized",
                name=f"tokenize_{stage}",
            )
        )
    return Pipeline(nodes)


def _config_loader():
    from kedro.config import OmegaConfigLoader

    from ocr2_kedro.settings import CONFIG_LOADER_ARGS

    args = {**CONFIG_LOADER_ARGS, "default_run_env": "base"}
    return OmegaConfigLoader(conf_source=str(REPO / "conf"), env="base", **args)


def _flatten_params(prefix: str, value: Any, into: dict[str, Any]) -> None:
    into[prefix] = value
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten_params(f"{prefix}.{key}", inner, into)


def no_report():
    """A catalog entry that loads None (kedro's MemoryDataset cannot hold None)."""
    from kedro.io import AbstractDataset

    class NoReport(AbstractDataset):
        def load(self) -> None:
            return None

        def save(self, data) -> None:
            raise NotImplementedError("a report the benchmark does not build")

        def _describe(self) -> dict:
            return {}

    return NoReport()


def build_catalog(
    entries: dict[str, dict[str, Any]], work: Path, inputs: Path, params: dict, settings=None
):
    """A DataCatalog of `entries` with every file moved under `work`, the input tables read from
    `inputs` (unversioned), MLflow datasets left out (they become memory datasets) and the
    parameters added as `params:` entries, as a Kedro session would: with `settings` (the
    validated ocr2_kedro.parameters.project.ProjectSettings), as the project's hook hands them to
    the nodes; without, as plain data (the eager baseline's nodes)."""
    from kedro.io import DataCatalog, MemoryDataset

    config = {}
    for name, entry in entries.items():
        entry = dict(entry)
        entry.pop("metadata", None)
        if "mlflow" in str(entry.get("type", "")).lower():
            continue
        if name in INPUT_TABLES:
            entry["filepath"] = str(inputs / f"{name}.parquet")
            entry["versioned"] = False
        elif "filepath" in entry and not os.path.isabs(entry["filepath"]):
            entry["filepath"] = str(work / entry["filepath"])
        config[name] = entry
    catalog = DataCatalog.from_config(config)
    flat: dict[str, Any] = {}
    for key, value in params.items():
        _flatten_params(f"params:{key}", value, flat)
    for key, value in flat.items():
        if settings is not None:
            value = settings.at(key.removeprefix("params:"))
        catalog[key] = MemoryDataset(value, copy_mode="assign")
    return catalog


def _new_pipeline(operation: str):
    import importlib

    package, names = NEW_NODES[operation]
    module = importlib.import_module(f"ocr2_kedro.pipelines.{package}.pipeline")
    pipeline = module.create_pipeline()
    if names is None:
        from kedro.pipeline import Pipeline

        skipped = (*SFT_TRAIN_NODES, PAIR_CHECK_NODE)
        names = [node.name for node in pipeline.nodes if node.name not in skipped]
        examples = Pipeline(
            pipeline.filter(node_names=names), inputs={"training_export": "ocr2_export"}
        )
        return examples + _new_sft_tokenize_nodes()
    return pipeline.filter(node_names=names)


def run_operation(operation: str, implementation: str, work: Path, inputs: Path, size: int):
    """Run one operation in this process; returns what the child reports."""
    from kedro.runner import SequentialRunner

    loader = _config_loader()
    params = loader["parameters"]
    params["training"]["trainer"]["max_length"] = PAPER_MAX_LENGTH
    params["training"]["work_dir"] = str(work / "data" / "06_models" / "sft_runs")
    params["training"]["student"] = str(EMBEDDED)
    export_params = params["dataset"].get("export")
    if isinstance(export_params, dict) and export_params.get("work_dir"):
        export_params["work_dir"] = str(work / export_params["work_dir"])
    if implementation == "new":
        entries = dict(loader["catalog"])
        pipeline = _new_pipeline(operation)
    else:
        inputs_entries = {
            name: {"type": "polars.EagerPolarsDataset", "file_format": "parquet", "filepath": ""}
            for name in INPUT_TABLES
        }
        entries = {**inputs_entries, **_eager_catalog_entries()}
        pipeline = eager_pipelines()[operation]
    settings = None
    if implementation == "new":
        from ocr2_kedro.parameters.project import validate_parameters

        settings = validate_parameters(params)
    catalog = build_catalog(entries, work, inputs, params, settings)
    if implementation == "new":
        for name in OPTIONAL_CARD_REPORTS:
            catalog[name] = no_report()
    if implementation == "eager":
        from kedro.io import MemoryDataset

        plan = eager_training_plan(str(EMBEDDED), PAPER_MAX_LENGTH, params["training"]["work_dir"])
        catalog["training_plan"] = MemoryDataset(plan, copy_mode="assign")
    started = time.perf_counter()
    SequentialRunner().run(pipeline, catalog)
    wall = time.perf_counter() - started
    return {"wall_s": wall, "nodes": [node.name for node in pipeline.nodes]}


# ======================================================================================= measuring


def _children(pid: int) -> list[int]:
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    found = []
    for task in tasks:
        try:
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                found += [int(child) for child in handle.read().split()]
        except OSError:
            continue
    return found


def _pss_bytes(pid: int) -> tuple[int, int]:
    """(PSS, private PSS) of a process: all its resident pages, and those that are not pages of a
    file (anonymous and shared memory: what the kernel cannot drop and read back from disk)."""
    total = private = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as handle:
            for line in handle:
                key, _, value = line.partition(":")
                if key == "Pss":
                    total = int(value.split()[0]) * 1024
                elif key in ("Pss_Anon", "Pss_Shmem"):
                    private += int(value.split()[0]) * 1024
    except OSError:
        pass
    return total, private


class TreeMemorySampler(threading.Thread):
    """Peaks of the summed PSS and private PSS of a process and all its descendants, sampled."""

    def __init__(self, pid: int, interval_s: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval_s, self.processes = pid, interval_s, 1
        self.peak = self.private_peak = 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        while not self._stop_event.is_set():
            tree, pending = [], [self.pid]
            while pending:
                pid = pending.pop()
                tree.append(pid)
                pending += _children(pid)
            sizes = [_pss_bytes(pid) for pid in tree]
            self.peak = max(self.peak, sum(total for total, _ in sizes))
            self.private_peak = max(self.private_peak, sum(private for _, private in sizes))
            self.processes = max(self.processes, len(tree))
            self._stop_event.wait(self.interval_s)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


class MemoryLimit:
    """A hard memory limit for one child process tree: a memory cgroup (v2, or v1 where v2 has no
    memory controller) whose limit counts anonymous memory and page cache alike; the kernel reclaims
    clean file pages (memory-mapped Arrow, parquet reads) before it kills. Needs write access to
    the cgroup filesystem (root in a container)."""

    V2_ROOT = Path("/sys/fs/cgroup")
    V1_ROOT = Path("/sys/fs/cgroup/memory")

    def __init__(self, limit_bytes: int, name: str) -> None:
        self.limit_bytes = limit_bytes
        if (self.V2_ROOT / "cgroup.controllers").is_file() and "memory" in (
            self.V2_ROOT / "cgroup.subtree_control"
        ).read_text().split():
            self.path, self.limit_file, self.peak_file = self.V2_ROOT / name, "memory.max", None
        elif (self.V1_ROOT / "memory.limit_in_bytes").is_file():
            self.path = self.V1_ROOT / name
            self.limit_file, self.peak_file = "memory.limit_in_bytes", "memory.max_usage_in_bytes"
        else:
            raise RuntimeError("--memory-limit-gb needs a writable memory cgroup; none found")

    def __enter__(self) -> MemoryLimit:
        self.path.mkdir(exist_ok=True)
        (self.path / self.limit_file).write_text(str(self.limit_bytes))
        return self

    def add(self, pid: int) -> None:
        (self.path / "cgroup.procs").write_text(str(pid))

    def peak(self) -> int | None:
        """The cgroup's high-water usage (v1; v2 kernels before 5.19 have none)."""
        for name in (self.peak_file, "memory.peak"):
            if name and (self.path / name).is_file():
                return int((self.path / name).read_text())
        return None

    def __exit__(self, *exc_info) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()


# Parquet outputs whose row counts must agree between the implementations (catalog file paths).
CHECKED_OUTPUTS = {
    "export": ("data/03_primary/ocr2/all.parquet",),
    "split": ("data/03_primary/ocr2/python.parquet", "data/03_primary/ocr2/cpp.parquet"),
}


def output_rows(operation: str, work: Path) -> int | None:
    """Rows of the operation's parquet outputs, from the files' metadata (None: not checked)."""
    import pyarrow.parquet as pq

    if operation not in CHECKED_OUTPUTS:
        return None
    rows = 0
    for relative in CHECKED_OUTPUTS[operation]:
        path = work / relative
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*.parquet"))
        if not files:
            return None
        # A versioned dataset keeps one folder per save: count the latest only.
        rows += pq.ParquetFile(files[-1]).metadata.num_rows
    return rows


def measure(
    operation: str,
    implementation: str,
    size: int,
    work: Path,
    inputs: Path,
    memory_limit_bytes: int | None = None,
) -> dict:
    """Run one operation in a fresh child process; wall time, peak memory, process count. With
    `memory_limit_bytes` the child's process tree runs under that hard limit (`MemoryLimit`)."""
    result_path = work / f"result-{operation}-{implementation}.json"
    log_path = work / f"log-{operation}-{implementation}.txt"
    result_path.unlink(missing_ok=True)
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        operation,
        implementation,
        str(work),
        str(inputs),
        str(size),
        str(result_path),
    ]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "DO_NOT_TRACK": "1", "KEDRO_DISABLE_TELEMETRY": "1"}
    limit = (
        MemoryLimit(memory_limit_bytes, f"ocr2-scale-{os.getpid()}")
        if memory_limit_bytes
        else contextlib.nullcontext()
    )
    with log_path.open("w") as log, limit:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=REPO,
            env=env,
            # Joins the cgroup before exec, so every page of the child and its workers counts.
            preexec_fn=(lambda: limit.add(os.getpid())) if memory_limit_bytes else None,
        )
        sampler = TreeMemorySampler(process.pid)
        sampler.start()
        _, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
        sampler.stop()
        cgroup_peak = limit.peak() if memory_limit_bytes else None
    if process.returncode != 0 or not result_path.is_file():
        tail = log_path.read_text()[-3000:]
        killed = (
            f" - killed under the {_gb(memory_limit_bytes)} GB memory limit"
            if memory_limit_bytes and process.returncode == -9
            else ""
        )
        raise RuntimeError(
            f"{operation}/{implementation} at {size:,} rows failed "
            f"(exit {process.returncode}{killed}); log {log_path}:\n{tail}"
        )
    child = json.loads(result_path.read_text())
    maxrss = child["maxrss_bytes"]
    return {
        "operation": operation,
        "implementation": implementation,
        "size": size,
        "wall_s": child["wall_s"],
        # CPU seconds of the child and the processes it waited for: on a shared box this is less
        # sensitive than wall time to what else runs (it includes start-up and imports, ~5 s).
        "cpu_s": usage.ru_utime + usage.ru_stime,
        "rows_per_s": size / child["wall_s"] if child["wall_s"] > 0 else float("inf"),
        "peak_bytes": max(maxrss, sampler.peak),
        "private_bytes": sampler.private_peak,
        "maxrss_bytes": maxrss,
        "tree_pss_bytes": sampler.peak,
        "memory_limit_bytes": memory_limit_bytes,
        "cgroup_peak_bytes": cgroup_peak,
        "processes": sampler.processes,
        "nodes": child["nodes"],
        "output_rows": output_rows(operation, work),
    }


def child_main(argv: list[str]) -> None:
    operation, implementation, work, inputs, size, result_path = argv
    logging.basicConfig(level=logging.WARNING)
    for name in ("kedro", "ocr2_kedro"):
        logging.getLogger(name).setLevel(logging.WARNING)
    result = run_operation(operation, implementation, Path(work), Path(inputs), int(size))
    # VmHWM is this process's own high-water mark since exec; `ru_maxrss` from the parent's wait4
    # would also count the parent's pages at fork time. Forked workers report through
    # RUSAGE_CHILDREN.
    with open("/proc/self/status") as handle:
        hwm_kb = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:"))
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    result["maxrss_bytes"] = max(hwm_kb, children_kb) * 1024
    Path(result_path).write_text(json.dumps(result))


# ======================================================================================= reporting


def fit_line(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Least-squares intercept, slope and R^2 of ys against xs (slope 0 with one point)."""
    if len(xs) < 2:
        return (ys[0] if ys else 0.0), 0.0, 1.0
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = mean_y - slope * mean_x
    total = sum((y - mean_y) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return intercept, slope, (1 - residual / total) if total else 1.0


def _gb(value: float) -> str:
    return f"{value / 2**30:.2f}"


def _gb_or_dash(value: float | None) -> str:
    return _gb(value) if value else "-"


def _rows(size: int) -> str:
    return f"{size // 1000}K" if size >= 1000 and size % 1000 == 0 else f"{size:,}"


def growth(results: list[dict], operation: str, implementation: str) -> dict | None:
    points = sorted(
        (
            r
            for r in results
            if r["operation"] == operation and r["implementation"] == implementation
        ),
        key=lambda r: r["size"],
    )
    if not points:
        return None
    sizes = [float(r["size"]) for r in points]
    time_a, time_b, time_r2 = fit_line(sizes, [r["wall_s"] for r in points])
    memory_a, memory_b, _ = fit_line(sizes, [float(r["peak_bytes"]) for r in points])
    private_a, private_b, _ = fit_line(sizes, [float(r.get("private_bytes") or 0) for r in points])
    cpu_a, cpu_b, cpu_r2 = fit_line(sizes, [r.get("cpu_s", 0.0) for r in points])
    per_row = [r["wall_s"] / r["size"] for r in points]
    return {
        "sizes": [r["size"] for r in points],
        "time_per_1k_rows_s": time_b * 1000,
        "time_r2": time_r2,
        "time_per_row_ratio": per_row[-1] / per_row[0],
        "cpu_per_1k_rows_s": cpu_b * 1000,
        "cpu_r2": cpu_r2,
        "paper_cpu_s": cpu_a + cpu_b * PAPER_ROWS,
        "memory_mb_per_1k_rows": memory_b * 1000 / 2**20,
        "peak_ratio": points[-1]["peak_bytes"] / points[0]["peak_bytes"],
        "max_peak_bytes": max(r["peak_bytes"] for r in points),
        "private_ratio": (
            points[-1]["private_bytes"] / points[0]["private_bytes"]
            if all(r.get("private_bytes") for r in points)
            else None
        ),
        "max_private_bytes": max(r.get("private_bytes") or 0 for r in points),
        "paper_time_s": time_a + time_b * PAPER_ROWS,
        "paper_peak_bytes": memory_a + memory_b * PAPER_ROWS,
        "paper_private_bytes": private_a + private_b * PAPER_ROWS,
    }


def _target(g: dict) -> str:
    """Whether the flat-memory target is met at the sizes run: by the whole peak, or only by the
    private memory."""
    if g["peak_ratio"] <= FLAT_TARGET and g["max_peak_bytes"] < MEMORY_TARGET_BYTES:
        return "met"
    private = g["private_ratio"]
    if (
        private is not None
        and private <= FLAT_TARGET
        and g["max_private_bytes"] < MEMORY_TARGET_BYTES
    ):
        return "met (private)"
    return "missed"


def report(results: list[dict], args, notes: list[str]) -> str:
    results = [r for r in results if not r.get("prerequisite")]
    by_key = {(r["operation"], r["implementation"], r["size"]): r for r in results}
    operations = [op for op in OPERATIONS if any(r["operation"] == op for r in results)]
    lines = [
        f"## {DOCS_SECTION}",
        "",
        f"Command: `{args.command}` ({datetime.now(UTC):%Y-%m-%d}, "
        f"{platform.machine()}, {os.cpu_count()} cores, "
        f"{os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30:.0f} GiB; "
        f"load average at the end {os.getloadavg()[0]:.1f}).",
        "",
        "Synthetic OCR-2-sized rows (question ~1.5 KB, reasoning ~20 KB in `<think>`, solution "
        "~1.5 KB, critique ~8 KB; 55% Python, 45% C++; 4% flagged), each operation in a fresh "
        "process; `new` = the project's pipelines on the conf/base catalog, `eager` = commit "
        f"{BASELINE_COMMIT} (whole-file reads, `to_dicts()`, token lists in Python, JSONL hand-off). "
        "Peak = the larger of the process's own high-water RSS (VmHWM) and the sampled PSS of its "
        "process tree; private = the sampled peak of the tree's anonymous and shared-memory PSS, "
        "i.e. without pages of files (memory-mapped Arrow and parquet), which the kernel drops "
        "and reads back under pressure; CPU s = user + system time of the process and its "
        "workers, start-up and imports included (~6 s).",
        "",
        "| operation | impl | rows | wall s | CPU s | rows/s | peak GB | private GB | "
        "limit peak GB | processes |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for operation in operations:
        for implementation in IMPLEMENTATIONS:
            for size in args.all_sizes:
                r = by_key.get((operation, implementation, size))
                if r is None:
                    continue
                lines.append(
                    f"| {operation} | {implementation} | {_rows(size)} | {r['wall_s']:.1f} | "
                    f"{r.get('cpu_s', float('nan')):.1f} | {r['rows_per_s']:,.0f} | "
                    f"{_gb(r['peak_bytes'])} | {_gb_or_dash(r.get('private_bytes'))} | "
                    f"{_gb_or_dash(r.get('cgroup_peak_bytes'))} | {r['processes']} |"
                )
    lines += [
        "",
        "Growth (least squares over the sizes run) and the extrapolation to "
        f"{PAPER_ROWS / 1e6:.1f}M rows; peak ratio = peak at the largest / smallest size "
        f"(target for `new`: <= {FLAT_TARGET}x and < {MEMORY_TARGET_BYTES / 2**30:.0f} GB at every "
        "size, time linear: R^2 of the linear fit, s/row largest / smallest size). "
        "`met (private)`: met by private memory only; the pages of memory-mapped files grow.",
        "",
        "| operation | impl | sizes | s per 1K rows | R^2 | s/row ratio | CPU s per 1K rows | "
        "CPU R^2 | MB per 1K rows | peak ratio | private ratio | max peak GB | 2.5M rows: time | "
        "2.5M rows: CPU | 2.5M rows: peak GB | 2.5M rows: private GB | target at the sizes run |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for operation in operations:
        for implementation in IMPLEMENTATIONS:
            g = growth(results, operation, implementation)
            if g is None:
                continue
            if len(g["sizes"]) < 2:
                notes = [
                    *notes,
                    f"{operation} ({implementation}) ran at one size only: no growth fit.",
                ]
                continue
            target = "-"
            if implementation == "new":
                target = _target(g)
            lines.append(
                f"| {operation} | {implementation} | "
                f"{', '.join(_rows(s) for s in g['sizes'])} | {g['time_per_1k_rows_s']:.2f} | "
                f"{g['time_r2']:.3f} | {g['time_per_row_ratio']:.2f} | "
                f"{g['cpu_per_1k_rows_s']:.2f} | {g['cpu_r2']:.3f} | "
                f"{g['memory_mb_per_1k_rows']:.1f} | {g['peak_ratio']:.2f} | "
                f"{'-' if g['private_ratio'] is None else format(g['private_ratio'], '.2f')} | "
                f"{_gb(g['max_peak_bytes'])} | {g['paper_time_s'] / 3600:.1f} h | "
                f"{g['paper_cpu_s'] / 3600:.1f} h | "
                f"{_gb(max(g['paper_peak_bytes'], 0))} | "
                f"{_gb(max(g['paper_private_bytes'], 0))} | {target} |"
            )
    common = [
        (operation, size)
        for operation in operations
        for size in args.all_sizes
        if (operation, "new", size) in by_key and (operation, "eager", size) in by_key
    ]
    if common:
        lines += [
            "",
            "New against eager at the sizes both ran (eager / new: > 1 means the new one is faster "
            "or smaller):",
            "",
            "| operation | rows | time eager/new | CPU eager/new | peak eager/new |",
            "|---|---|---|---|---|",
        ]
        for operation, size in common:
            new, eager = by_key[(operation, "new", size)], by_key[(operation, "eager", size)]
            lines.append(
                f"| {operation} | {_rows(size)} | {eager['wall_s'] / new['wall_s']:.2f} | "
                f"{eager.get('cpu_s', 0.0) / max(new.get('cpu_s', 0.0), 1e-9):.2f} | "
                f"{eager['peak_bytes'] / new['peak_bytes']:.2f} |"
            )
    if notes:
        lines += ["", *[f"- {note}" for note in notes]]
    return "\n".join(lines) + "\n"


def write_docs(section: str, path: Path) -> None:
    """Replace the section in `path`, or append it at the end; no other section is touched."""
    text = path.read_text() if path.exists() else "# Benchmarks\n\n"
    pattern = re.compile(
        rf"^## {re.escape(DOCS_SECTION)}\n.*?(?=^## |\Z)", re.DOTALL | re.MULTILINE
    )
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text)
    else:
        text = text.rstrip() + "\n\n" + section
    path.write_text(text.rstrip() + "\n")


# ============================================================================================ main


def _eager_would_exceed(results: list[dict], operation: str, size: int, limit_gb: float) -> float:
    """The eager peak extrapolated to `size` from the sizes it ran at (0 when unknown)."""
    points = sorted(
        (r for r in results if r["operation"] == operation and r["implementation"] == "eager"),
        key=lambda r: r["size"],
    )
    if not points:
        return 0.0
    if len(points) == 1:
        estimate = points[0]["peak_bytes"] * size / points[0]["size"]
    else:
        a, b, _ = fit_line([r["size"] for r in points], [r["peak_bytes"] for r in points])
        estimate = a + b * size
    return estimate if estimate > limit_gb * 2**30 else 0.0


def save_json(args, results: list[dict], notes: list[str]) -> None:
    """The measurements so far (rewritten after each one, so a stopped run keeps what it did)."""
    if args.json:
        Path(args.json).write_text(
            json.dumps({"command": args.command, "results": results, "notes": notes}, indent=2)
        )


def run(args) -> tuple[list[dict], list[str]]:
    results, notes = [], []
    work_root = Path(args.work_dir) if args.work_dir else Path(tempfile.mkdtemp(prefix="scale-"))
    work_root.mkdir(parents=True, exist_ok=True)
    eager_sizes = [size for size in args.all_sizes if size in set(args.eager_sizes)]
    skipped_eager = [size for size in args.all_sizes if size not in eager_sizes]
    if skipped_eager and "eager" in args.implementations:
        notes.append(
            f"The eager baseline ran at {', '.join(_rows(s) for s in eager_sizes) or 'no size'} "
            f"only (`--eager-sizes`): its time and memory grow linearly with N, so it is not run at "
            f"{', '.join(_rows(s) for s in skipped_eager)}; its 2.5M figures are extrapolated "
            "(from two sizes or more)."
        )
    if args.memory_limit_gb:
        notes.append(
            f"Every `new` run ran under a hard {args.memory_limit_gb:g} GB memory limit (a memory "
            "cgroup, `--memory-limit-gb`: page cache counts, and the kernel reclaims clean file "
            "pages before it kills) and finished; `limit peak GB` is the cgroup's high-water usage."
        )
    if "sft" in args.operations and args.sizes and args.sft_sizes != args.sizes:
        notes.append(
            f"SFT example building + tokenization ran at {', '.join(map(_rows, args.sft_sizes))} "
            "rows (`--sft-sizes`), the other operations at "
            f"{', '.join(map(_rows, args.sizes))}; the export also runs at every SFT size, "
            "since the SFT step reads it."
        )
    try:
        for size in args.all_sizes:
            operations = [
                operation
                for operation in args.operations
                if (size in args.sft_sizes if operation == "sft" else size in args.sizes)
                or (operation == "export" and size in args.sft_sizes and "sft" in args.operations)
            ]
            inputs = work_root / f"inputs-{size}"
            started = time.perf_counter()
            paths = write_inputs(size, inputs, args.seed)
            megabytes = sum(p.stat().st_size for p in paths.values()) / 2**20
            print(
                f"[{_rows(size)}] inputs: {megabytes:,.0f} MB of parquet in "
                f"{time.perf_counter() - started:.0f} s ({inputs})",
                flush=True,
            )
            for implementation in args.implementations:
                if implementation == "eager" and size not in eager_sizes:
                    continue
                work = work_root / f"{implementation}-{size}"
                shutil.rmtree(work, ignore_errors=True)
                work.mkdir(parents=True)
                for operation in operations:
                    if implementation == "eager":
                        estimate = _eager_would_exceed(results, operation, size, args.eager_max_gb)
                        if estimate:
                            notes.append(
                                f"eager {operation} skipped at {_rows(size)}: its peak "
                                f"extrapolates to {_gb(estimate)} GB (> --eager-max-gb "
                                f"{args.eager_max_gb:g})."
                            )
                            print(notes[-1], flush=True)
                            if operation == "export":
                                break  # every later operation reads this export
                            continue
                    limit = args.memory_limit_gb if implementation == "new" else None
                    result = measure(
                        operation,
                        implementation,
                        size,
                        work,
                        inputs,
                        int(limit * 2**30) if limit else None,
                    )
                    # Run only because a later operation reads its output: kept in the JSON,
                    # left out of the report (at SFT sizes it would distort the export's fit).
                    result["prerequisite"] = operation not in args.requested_operations or (
                        operation == "export" and size not in args.sizes
                    )
                    results.append(result)
                    save_json(args, results, notes)
                    print(
                        f"[{_rows(size)}] {implementation:5s} {operation:6s} "
                        f"{result['wall_s']:8.1f} s (CPU {result['cpu_s']:.1f} s) "
                        f"{result['rows_per_s']:10,.0f} rows/s "
                        f"peak {_gb(result['peak_bytes'])} GB "
                        f"(own {_gb(result['maxrss_bytes'])}, tree PSS "
                        f"{_gb(result['tree_pss_bytes'])}, private "
                        f"{_gb(result['private_bytes'])}, {result['processes']} processes)",
                        flush=True,
                    )
                if not args.keep:
                    shutil.rmtree(work, ignore_errors=True)
            for operation in CHECKED_OUTPUTS:
                counts = {
                    r["implementation"]: r["output_rows"]
                    for r in results
                    if r["operation"] == operation and r["size"] == size
                }
                if len(counts) == 2 and counts["new"] != counts["eager"]:
                    notes.append(
                        f"MISMATCH: {operation} at {_rows(size)} wrote {counts['new']} rows (new) "
                        f"against {counts['eager']} (eager)."
                    )
                    print(notes[-1], flush=True)
            if not args.keep:
                shutil.rmtree(inputs, ignore_errors=True)
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work_root, ignore_errors=True)
    return results, notes


def parse_args(argv: list[str] | None = None):
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000, 400_000])
    parser.add_argument(
        "--sft-sizes",
        type=int,
        nargs="+",
        help="sizes for SFT example building + tokenization (default: --sizes); tokenizing "
        "~60 KB of text per row is by far the slowest step",
    )
    parser.add_argument(
        "--eager-sizes",
        type=int,
        nargs="*",
        default=[20_000, 100_000],
        help="sizes at which the eager baseline also runs (its memory grows with N)",
    )
    parser.add_argument(
        "--eager-max-gb",
        type=float,
        default=12.0,
        help="skip an eager run whose peak, extrapolated from the smaller sizes, exceeds this",
    )
    parser.add_argument("--operations", nargs="+", choices=OPERATIONS, default=list(OPERATIONS))
    parser.add_argument(
        "--implementations", nargs="+", choices=IMPLEMENTATIONS, default=list(IMPLEMENTATIONS)
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--work-dir", help="where inputs and outputs go (default: a temporary directory)"
    )
    parser.add_argument("--keep", action="store_true", help="keep inputs and outputs")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument(
        "--docs", default=str(REPO / "docs" / "benchmarks.md"), help="the file --write-docs edits"
    )
    parser.add_argument("--json", help="also write the measurements here as JSON")
    parser.add_argument(
        "--memory-limit-gb",
        type=float,
        help="run every `new` operation under this hard memory limit (a memory cgroup: page "
        "cache counts too); a run the kernel kills for it fails the benchmark",
    )
    parser.add_argument(
        "--note", action="append", default=[], help="a line added under the tables (run conditions)"
    )
    parser.add_argument(
        "--from-json", nargs="+", help="report the measurements --json saved; run nothing"
    )
    args = parser.parse_args(argv)
    args.requested_operations = list(args.operations)
    if set(args.operations) & {"split", "card", "sft"} and "export" not in args.operations:
        # split, card and sft read the export of the same run.
        args.operations = ["export", *args.operations]
    args.operations = [op for op in OPERATIONS if op in args.operations]
    args.sft_sizes = args.sft_sizes or args.sizes
    if "sft" in args.operations and "export" not in args.requested_operations:
        args.sizes = [size for size in args.sizes if size not in args.sft_sizes]
    args.all_sizes = sorted(
        set(args.sizes) | (set(args.sft_sizes) if "sft" in args.operations else set())
    )
    # What was typed (less where the results and docs go), so the line reruns the same measurement.
    kept, skip = [], False
    for part in sys.argv[1:] if argv is None else argv:
        if skip:
            skip = False
        elif part in ("--json", "--docs", "--work-dir"):
            skip = True
        else:
            kept.append(part)
    args.command = " ".join(["python benchmarks/scale.py", *kept])
    return args


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        child_main(argv[1:])
        return
    args = parse_args(argv)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    if args.from_json:
        # Re-render finished runs (e.g. the dataset steps and the SFT step run apart) without
        # measuring again.
        results, notes, commands = [], [], []
        for path in args.from_json:
            saved = json.loads(Path(path).read_text())
            results += saved["results"]
            notes += saved["notes"]
            commands.append(saved["command"])
        args.command = "` and `".join(commands)
        notes = list(dict.fromkeys(notes))  # a note both runs made, once
        args.all_sizes = sorted({r["size"] for r in results})
    else:
        results, notes = run(args)
    section = report(results, args, notes + args.note)
    print()
    print(section)
    if not args.from_json:
        save_json(args, results, notes)
    if args.write_docs:
        write_docs(section, Path(args.docs))


if __name__ == "__main__":
    main()
