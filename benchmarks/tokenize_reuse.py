"""Stage 2's tokenization with stage 1's rows lent, against tokenizing stage 2 from nothing.

    .venv/bin/python benchmarks/tokenize_reuse.py                  # 1,000 synthetic OCR-2 rows
    .venv/bin/python benchmarks/tokenize_reuse.py --rows 4000 --num-proc 2

Inputs: `--rows` synthetic OCR-2-sized generations (benchmarks/scale.py's generator: reasoning
~20 KB, critique ~8 KB), exported with the dataset pipeline's `build_export`, turned into SFT
examples with the project's example builder (stage 2 = stage 1's generation examples + every
critique example, the paper's mix) and tokenized with the embedded tokenizer at max_length 32,768.

Measured in one run: (1) stage 1 tokenized; (2) stage 2 tokenized in the same folder, taking stage
1's rows; (3) stage 2 tokenized in an empty folder (the baseline: what every stage 2 did before).
(2) and (3) must give the same dataset (fingerprint, rows, token totals; checked, not assumed).
Prints wall times and the ratio baseline / lent.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EMBEDDED = REPO / "data" / "06_models" / "embedded" / "SmolLM2-135M-Instruct"
MAX_LENGTH = 32_768


def _scale_module():
    spec = importlib.util.spec_from_file_location(
        "scale_benchmark", REPO / "benchmarks" / "scale.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_examples(rows: int, work: Path) -> tuple[Path, Path]:
    """(stage-1 examples, stage-2 examples) as parquet files in `work`."""
    import polars as pl

    from ocr2_kedro.datasets.streaming_parquet import write_batches
    from ocr2_kedro.parameters.dataset import JoinSettings
    from ocr2_kedro.pipelines.dataset.nodes import build_export
    from ocr2_kedro.training import build_examples as make_examples

    inputs = _scale_module().write_inputs(rows, work / "inputs", seed=0)
    tables = {name: pl.scan_parquet(path) for name, path in inputs.items()}
    export_path = work / "export.parquet"
    write_batches(
        build_export(
            tables["problems_dedup"],
            tables["generations"],
            tables["critiques"],
            tables["verifications"],
            JoinSettings(bucket_megabytes=256, work_dir=str(work / "join")),
        ),
        export_path,
    )
    stages = make_examples(pl.scan_parquet(export_path))
    paths = (work / "stage1.parquet", work / "stage2.parquet")
    write_batches(stages.stage1, paths[0])
    write_batches(stages.stage2, paths[1])
    return paths


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000)
    parser.add_argument("--num-proc", type=int, default=None, help="tokenizer processes")
    parser.add_argument("--work-dir", help="default: a temporary directory, removed at the end")
    args = parser.parse_args(argv)

    import polars as pl

    from ocr2_kedro.training import tokenize_to_disk

    work = Path(args.work_dir or tempfile.mkdtemp(prefix="tokenize-reuse-"))
    try:
        stage1, stage2 = build_examples(args.rows, work)
        counts = {
            p.stem: pl.scan_parquet(p).select(pl.len()).collect().item() for p in (stage1, stage2)
        }
        print(f"examples: stage 1 {counts['stage1']:,}, stage 2 {counts['stage2']:,}", flush=True)

        def timed(examples: Path, root: Path):
            started = time.perf_counter()
            info = tokenize_to_disk(
                pl.scan_parquet(examples), EMBEDDED, root, MAX_LENGTH, num_proc=args.num_proc
            )
            return info, time.perf_counter() - started

        first, first_s = timed(stage1, work / "shared")
        lent, lent_s = timed(stage2, work / "shared")
        alone, alone_s = timed(stage2, work / "alone")
        same = (
            lent.fingerprint == alone.fingerprint
            and (lent.examples, lent.train_tokens, lent.trained_tokens, lent.skipped)
            == (alone.examples, alone.train_tokens, alone.trained_tokens, alone.skipped)
            and lent.load()["content_key"] == alone.load()["content_key"]
        )
        print(f"stage 1: {first_s:.1f} s ({first.train_tokens:,} tokens)")
        print(
            f"stage 2, stage 1's {lent.lent_rows:,} rows lent: {lent_s:.1f} s; "
            f"from nothing: {alone_s:.1f} s; from nothing / lent: {alone_s / lent_s:.2f}x"
        )
        print(f"stage 1 + stage 2: {first_s + lent_s:.1f} s against {first_s + alone_s:.1f} s")
        print(f"same dataset either way: {same}")
        if not same:
            sys.exit("the lent and the fresh stage-2 datasets differ")
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
