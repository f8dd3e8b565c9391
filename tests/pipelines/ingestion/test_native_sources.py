"""`kedro run --pipelines ingestion` over every native source, from fixtures in their published schemas."""

import base64
import json
import os
import pickle
import shutil
import zlib
from pathlib import Path

import polars as pl
import pytest

from ocr2_kedro.datasets import NativeSourceDataset
from ocr2_kedro.parameters.ingestion import SourceSettings
from ocr2_kedro.pipelines.ingestion.nodes import normalize_source
from ocr2_kedro.sources.readers import SourceNotFoundError
from tests.conftest import run_kedro
from tests.support.parameters import stage_settings
from tests.support.versions import read_latest

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "sources"
# Where each fixture goes in the hub's file layout: the file name carries the split.
LAYOUT = {
    "taco": "train.jsonl",
    "apps": "train.jsonl",
    "codecontests": "test-00000-of-00001.jsonl",
    "codeforces": "train.jsonl",
    "livecodebench": "test.jsonl",
    "ocr2": "train.jsonl",
}


def test_every_native_source_lands_in_one_problems_table(project_copy):
    for source, name in LAYOUT.items():
        target = project_copy / "data" / "01_raw" / source / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(FIXTURES / f"{source}.jsonl", target)
    enable = ",".join(
        f"ingestion.{source}.source.enabled=true" for source in LAYOUT if source != "ocr2"
    )
    run_kedro(
        project_copy,
        "run",
        "--env",
        "test",
        "--pipelines",
        "ingestion",
        "--params",
        f"{enable},ingestion.ocr2.enabled=true",
    )
    intermediate = project_copy / "data" / "02_intermediate"
    everything = read_latest(intermediate / "all_problems.parquet")
    rejects = read_latest(intermediate / "ingestion_rejects.parquet")
    train = read_latest(intermediate / "problems.parquet")
    benchmark = read_latest(project_copy / "data" / "03_primary" / "benchmark_problems.parquet")

    counts = dict(everything.group_by("source").len().iter_rows())
    # 43 bundled; taco 2 of 4; one good row each in apps/codecontests/codeforces; 2 LiveCodeBench;
    # HumanEval (from the installed package, conf/base) 142 of 164.
    # OCR-2's codeforces reference resolves to the question codeforces already gave (its TACO one
    # points past the fixture's rows): that second copy is a reject, not a second row.
    assert counts == {
        "bundled": 43,
        "taco": 2,
        "apps": 1,
        "codecontests": 1,
        "codeforces": 1,
        "livecodebench": 2,
        "humaneval": 142,
    }
    assert rejects.filter(pl.col("source") == "humaneval").height == 164 - 142
    assert everything["question_id"].is_unique().all()
    reasons = set(zip(rejects["source"], rejects["reason"], strict=True))
    assert {
        ("taco", "empty_statement"),
        ("taco", "unparseable_tests"),
        ("apps", "no_tests"),
        ("codecontests", "no_tests"),
        ("codeforces", "interactive"),
        ("ocr2", "unresolved_question"),
        ("ocr2", "duplicate_question_id"),
    } <= reasons
    # Nothing dropped silently: every fixture row is a problem or a reject (OCR-2 rows are references).
    native_rows = sum(
        len((FIXTURES / f"{s}.jsonl").read_text().splitlines()) for s in LAYOUT if s != "ocr2"
    )
    fixtures = ~pl.col("source").is_in(["bundled", "humaneval", "ocr2"])
    assert everything.filter(fixtures).height + rejects.filter(fixtures).height == native_rows
    # Held out: bundled test split, LiveCodeBench inside the window, CodeContests test, HumanEval.
    assert set(benchmark["source"]) == {"bundled", "livecodebench", "codecontests", "humaneval"}
    assert train.height + benchmark.height == everything.height
    assert benchmark.filter(pl.col("source") == "livecodebench").height == 2


def test_a_disabled_source_is_never_read(tmp_path):
    missing = NativeSourceDataset(path=str(tmp_path / "nowhere")).load()
    taco = stage_settings("ingestion").taco.source
    assert not taco.enabled  # conf/base
    problems, rejects = normalize_source(missing, taco)
    assert problems.is_empty() and rejects.is_empty()
    with pytest.raises(SourceNotFoundError, match="parameters_ingestion.yml"):
        enabled = stage_settings("ingestion", {"taco": {"source": {"enabled": True}}})
        normalize_source(missing, enabled.taco.source)


class _RunsCommand:
    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def test_a_crafted_pickle_in_a_source_file_runs_nothing_and_lands_in_rejects(tmp_path):
    marker = tmp_path / "created-by-the-data"
    crafted = base64.b64encode(zlib.compress(pickle.dumps(_RunsCommand(marker)))).decode()
    good, record = [
        json.loads(line) for line in (FIXTURES / "livecodebench.jsonl").read_text().splitlines()
    ]
    raw = tmp_path / "livecodebench" / "test.jsonl"
    raw.parent.mkdir()
    raw.write_text(
        "\n".join(json.dumps(r) for r in (good, dict(record, private_test_cases=crafted))) + "\n"
    )
    problems, rejects = normalize_source(
        NativeSourceDataset(path=str(raw.parent), splits=["test"]).load(),
        SourceSettings(name="livecodebench", kind="livecodebench", enabled=True, limit=None),
    )
    assert not marker.exists()
    assert problems.height == 1
    assert rejects.select("record_id", "reason").rows() == [("test/1", "unsafe_pickle")]
    assert "posix.system" in rejects["detail"][0] or "os.system" in rejects["detail"][0]


def test_ocr2_rows_that_are_not_references_are_rejects(tmp_path):
    from ocr2_kedro.pipelines.ingestion.nodes import resolve_ocr2_questions
    from ocr2_kedro.sources.readers import RecordSource

    good = json.loads((FIXTURES / "ocr2.jsonl").read_text().splitlines()[0])
    lines = [
        json.dumps(good),
        json.dumps(dict(good, index="abc")),
        json.dumps(dict(good, index=-1)),
        json.dumps(dict(good, index=1.5)),
        json.dumps(dict(good, split=None)),
        json.dumps(good)[:30],
        json.dumps(dict(good, index=" 0 ")),  # a padded number is the same reference
    ]
    path = tmp_path / "train.jsonl"
    path.write_text("\n".join(lines) + "\n")
    problems, rejects = resolve_ocr2_questions(
        RecordSource(path=str(path)),
        stage_settings("ingestion", {"ocr2": {"enabled": True}}).ocr2,
        codeforces=RecordSource(path=str(FIXTURES / "codeforces.jsonl")),
    )
    assert problems["source_id"].to_list() == ["2000A"]
    assert rejects.select("record_id", "reason").rows() == [
        ("train/1", "bad_reference"),
        ("train/2", "bad_reference"),
        ("train/3", "bad_reference"),
        ("train/4", "bad_reference"),
        ("train/5", "unreadable_line"),
    ]
    assert "index='abc' is not a row number" in rejects["detail"][0]
    assert rejects["detail"][4].startswith(f"{path}:6: not JSON")


def test_the_revision_and_resolved_commit_of_a_hub_source_go_to_mlflow(tmp_path, monkeypatch):
    """The hub is replaced (offline): the real `json` builder, reporting a repository and the commit
    the revision resolved to as `datasets` does for a hub data set."""
    import datasets
    import mlflow

    from ocr2_kedro.sources.readers import RecordSource

    rows = tmp_path / "test.jsonl"
    shutil.copy(FIXTURES / "livecodebench.jsonl", rows)
    real = datasets.load_dataset_builder
    commit = "0123456789abcdef" * 2 + "01234567"

    def hub_builder(path, name=None, revision=None, **kwargs):
        assert (path, revision) == ("livecodebench/code_generation_lite", "release_v6")
        builder = real("json", name, **kwargs)
        builder.repo_id, builder.hash = path, commit
        return builder

    monkeypatch.setattr(datasets, "load_dataset_builder", hub_builder)
    source = RecordSource(
        hub_id="livecodebench/code_generation_lite",
        revision="release_v6",
        data_files={"test": str(rows)},
        splits=("test",),
    )
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(f"sqlite:///{tmp_path / 'mlflow.db'}")
    try:
        with mlflow.start_run() as run:
            problems, _ = normalize_source(
                source,
                SourceSettings(
                    name="livecodebench", kind="livecodebench", enabled=True, limit=None
                ),
            )
        data = mlflow.get_run(run.info.run_id).data
    finally:
        mlflow.set_tracking_uri(previous)
    assert problems.height == 2
    assert data.params["ingestion_livecodebench_revision"] == "release_v6"
    assert data.params["ingestion_livecodebench_location"] == (
        "hf://livecodebench/code_generation_lite"
    )
    assert data.tags["ingestion.livecodebench.resolved_commit"] == commit


def test_every_paper_hub_source_is_pinned_to_a_commit():
    import re

    import yaml

    catalog = yaml.safe_load(
        (Path(__file__).resolve().parents[3] / "conf/paper/catalog_ingestion.yml").read_text()
    )
    hub = {name: entry for name, entry in catalog.items() if "hub_id" in entry}
    assert set(hub) == {f"raw_{source}" for source in LAYOUT}
    unpinned = {
        name: entry.get("revision")
        for name, entry in hub.items()
        if not re.fullmatch(r"[0-9a-f]{40}", str(entry.get("revision")))
    }
    assert unpinned == {}


def test_a_hub_source_says_what_it_needs_and_a_local_one_nothing():
    import yaml

    catalog = yaml.safe_load(
        (Path(__file__).resolve().parents[3] / "conf/paper/catalog_ingestion.yml").read_text()
    )
    for name, entry in catalog.items():
        options = {k: v for k, v in entry.items() if k != "type"}
        (needed,) = NativeSourceDataset(**options).requirements()
        assert (needed.kind, needed.value, needed.revision) == (
            "hub_dataset",
            entry["hub_id"],
            entry["revision"],
        ), name
        # The caller names the catalog entry; the hint says how to do without the hub.
        assert needed.path == "<filled by caller>"
        assert f"hf download {entry['hub_id']} --repo-type dataset" in needed.hint
        assert "`path:`" in needed.hint
    assert NativeSourceDataset(path="data/01_raw/taco").requirements() == []
