"""benchmarks/scale.py at tiny sizes: the inputs it generates, its fit and docs section, and one
whole run of every operation with both implementations (no timing asserts)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest

from ocr2_kedro.schemas import CRITIQUE, GENERATION, PROBLEM, REJECT, VERIFICATION

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "benchmarks" / "scale.py"


@pytest.fixture(scope="module")
def scale():
    spec = importlib.util.spec_from_file_location("scale_benchmark", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_inputs_have_the_contract_schemas_row_groups_and_ocr2_sizes(scale, tmp_path, monkeypatch):
    monkeypatch.setattr(scale, "BATCH_ROWS", 100)
    paths = scale.write_inputs(250, tmp_path / "inputs", seed=1)
    tables = {name: pl.read_parquet(path) for name, path in paths.items()}
    assert tables["problems_dedup"].schema == PROBLEM
    assert tables["generations"].schema == GENERATION
    assert tables["critiques"].schema == CRITIQUE
    assert tables["verifications"].schema == VERIFICATION
    assert tables["generation_rejects"].schema == REJECT
    generations = tables["generations"]
    assert generations.height == 250
    assert pq.ParquetFile(paths["generations"]).metadata.num_row_groups == 3
    assert set(generations["language"]) == {"python", "cpp"}
    assert generations["generation_id"].n_unique() == 250
    accepted = generations.filter(pl.col("flags").list.len() == 0)
    # Every accepted generation has a critique and a verification; every flagged one a reject.
    assert tables["critiques"].height == tables["verifications"].height == accepted.height
    assert tables["generation_rejects"].height == 250 - accepted.height
    mean = generations.select(pl.col("reasoning", "output").str.len_bytes().mean()).row(0)
    assert 15_000 < mean[0] < 25_000 and mean[1] > mean[0]
    assert generations["output"].str.starts_with("<think>\n").all()
    assert 1_000 < tables["problems_dedup"]["question"].str.len_bytes().mean() < 2_000
    assert 6_000 < tables["critiques"]["critique"].str.len_bytes().mean() < 10_000
    # Varied text, not one repeated string (which would compress to nothing).
    assert generations["reasoning"].n_unique() == 250
    # Deterministic: the same seed gives the same rows; a complete set is reused as is.
    again = scale.write_inputs(250, tmp_path / "again", seed=1)
    assert pl.read_parquet(again["generations"]).equals(generations)


def test_fit_and_extrapolation(scale):
    intercept, slope, r2 = scale.fit_line([1.0, 2.0, 4.0], [3.0, 5.0, 9.0])
    assert (round(intercept, 6), round(slope, 6), round(r2, 6)) == (1.0, 2.0, 1.0)
    results = [
        {
            "operation": "export",
            "implementation": "eager",
            "size": n,
            "wall_s": n / 1000,
            "peak_bytes": 2**20 * n,
        }
        for n in (1000, 2000)
    ]
    g = scale.growth(results, "export", "eager")
    assert g["peak_ratio"] == 2.0 and round(g["paper_time_s"]) == 2500
    assert scale._eager_would_exceed(results, "export", 10_000, limit_gb=1.0) > 2**30
    assert scale._eager_would_exceed(results, "export", 1_000, limit_gb=1.0) == 0.0


def test_docs_section_is_replaced_and_nothing_else_touched(scale, tmp_path):
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## verify\n\nkept\n")
    scale.write_docs(f"## {scale.DOCS_SECTION}\n\nfirst\n", docs)
    scale.write_docs(f"## {scale.DOCS_SECTION}\n\nsecond\n", docs)
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\n## verify\n\nkept\n\n## ")
    assert "second" in text and "first" not in text


def test_every_operation_runs_with_both_implementations(tmp_path):
    # Dataset steps at 100 and 200 rows, SFT (tokenizing ~60 KB of text per row) at 20; the eager
    # baseline at 100 and 20 only.
    docs = tmp_path / "benchmarks.md"
    docs.write_text("# Benchmarks\n\n## verify\n\nkept\n")
    measured = tmp_path / "results.json"
    command = [sys.executable, str(SCRIPT), "--sizes", "100", "200", "--sft-sizes", "20"]
    command += ["--eager-sizes", "20", "100", "--work-dir", str(tmp_path / "work")]
    command += ["--write-docs", "--docs", str(docs), "--json", str(measured)]
    completed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=1200)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    report = json.loads(measured.read_text())
    results = report["results"]
    ran = {(r["operation"], r["implementation"], r["size"]) for r in results}
    dataset_steps = {"export", "split", "card", "plot"}
    expected = {(op, "new", n) for op in dataset_steps for n in (100, 200)}
    expected |= {(op, "eager", 100) for op in dataset_steps}
    # The SFT step reads the export of its own size, so the export runs at 20 rows too.
    expected |= {(op, impl, 20) for op in ("export", "sft") for impl in ("new", "eager")}
    assert ran == expected
    assert all(r["wall_s"] > 0 and r["peak_bytes"] > 50 * 2**20 for r in results)
    # Private memory (anonymous pages: the interpreter, polars, Arrow buffers) is part of the peak.
    assert all(20 * 2**20 < r["private_bytes"] <= r["peak_bytes"] for r in results)
    # The new and the eager export (and its per-language split) hold the same rows.
    assert not [note for note in report["notes"] if "MISMATCH" in note]
    exports = {
        r["implementation"]: r["output_rows"]
        for r in results
        if r["operation"] == "export" and r["size"] == 100
    }
    assert exports["new"] == exports["eager"] and exports["new"] > 80
    text = docs.read_text()
    assert text.startswith("# Benchmarks\n\n## verify\n\nkept\n\n## Paper scale in bounded memory")
    assert "| sft | new | 20 |" in text and "| sft | eager | 20 |" in text
    assert "| private GB |" in text and "| private ratio |" in text
    assert "| plot | new | 200 |" in text and "| plot | eager | 200 |" not in text
    assert "eager baseline ran at 20, 100 only" in text


def test_target_is_met_by_the_whole_peak_or_only_by_private_memory(scale):
    flat = {"peak_ratio": 1.2, "max_peak_bytes": 2**30, "private_ratio": 1.1}
    assert scale._target({**flat, "max_private_bytes": 2**29}) == "met"
    mapped = {"peak_ratio": 2.0, "max_peak_bytes": 2**31, "private_ratio": 1.1}
    assert scale._target({**mapped, "max_private_bytes": 2**30}) == "met (private)"
    assert scale._target({**mapped, "private_ratio": 1.8, "max_private_bytes": 2**30}) == "missed"
    assert scale._target({**mapped, "private_ratio": None, "max_private_bytes": 0}) == "missed"


def _memory_limit_or_skip(scale, limit_bytes: int):
    try:
        limit = scale.MemoryLimit(limit_bytes, f"ocr2-scale-test-{id(limit_bytes)}")
        with limit:
            pass
    except (RuntimeError, OSError) as error:  # no memory cgroup this process may write
        pytest.skip(f"no writable memory cgroup: {error}")
    return limit


# The child writes a 320 MB file and reads it back through a memory map: page cache, which the
# kernel reclaims under the limit. Anonymous memory of the same size it cannot reclaim (no swap).
MAPPED_CHILD = """
import mmap, sys
path = sys.argv[1]
with open(path, "wb") as handle:
    for _ in range(320):
        handle.write(b"x" * 2**20)
with open(path, "rb") as handle, mmap.mmap(handle.fileno(), 0, access=mmap.ACCESS_READ) as mapped:
    total = sum(mapped[offset] for offset in range(0, len(mapped), 4096))
print(total)
"""
ANONYMOUS_CHILD = "block = bytearray(320 * 2**20)\nblock[::4096] = b'x' * len(block[::4096])\n"


def test_memory_limit_reclaims_file_pages_and_kills_on_private_memory(scale, tmp_path):
    limit = _memory_limit_or_skip(scale, 160 * 2**20)

    def run_child(code: str) -> int:
        with limit:
            child = subprocess.run(
                [sys.executable, "-c", code, str(tmp_path / "mapped.bin")],
                preexec_fn=lambda: limit.add(os.getpid()),
                capture_output=True,
                timeout=300,
            )
        return child.returncode

    assert run_child(MAPPED_CHILD) == 0
    assert run_child(ANONYMOUS_CHILD) == -9
