"""The ingestion settings model: the shipped environments validate, and every rule that used to be
checked by the nodes (pool keys, the `undated` rule, source kinds) refuses a bad value by its full
path."""

from __future__ import annotations

import datetime

import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.ingestion import IngestionSettings
from ocr2_kedro.pipelines.ingestion.pipeline import OCR2_REFERENCES, SOURCES
from ocr2_kedro.sources import NORMALIZERS
from tests.support.parameters import stage_settings


def problems_with(overrides: dict, env: str = "base") -> str:
    with pytest.raises(ParametersError) as caught:
        stage_settings("ingestion", overrides, env=env)
    return str(caught.value)


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("ingestion", env=env)
    assert isinstance(settings, IngestionSettings)
    assert all(source.kind in NORMALIZERS for source in settings.sources().values())
    assert settings.requirements() == []  # the sources' needs are their catalog entries'


def test_the_pipeline_reads_one_source_per_block():
    assert SOURCES == (
        "bundled",
        "taco",
        "apps",
        "codecontests",
        "codeforces",
        "livecodebench",
        "humaneval",
        "ioi",
    )
    assert set(OCR2_REFERENCES) <= set(SOURCES)
    # Each source is named as its key (the catalog entry raw_<key>) in every shipped environment.
    for env in ("base", "paper"):
        settings = stage_settings("ingestion", env=env)
        assert {key: s.name for key, s in settings.sources().items()} == {s: s for s in SOURCES}


def test_dates_of_a_pool_are_dates_whether_quoted_or_not():
    pools = stage_settings(
        "ingestion",
        {"benchmark_pools": [{"source": "livecodebench", "split": "test", "from": "2024-08-01"}]},
    ).benchmark_pools
    assert pools[0].from_ == datetime.date(2024, 8, 1) and pools[0].to is None
    assert pools[0].undated == "reject"  # the documented default of a pool entry
    assert pools[0].as_dict()["from"] == "2024-08-01"  # dumped as written
    base = stage_settings("ingestion").benchmark_pools
    assert [pool.windowed for pool in base] == [False, False, False, True, False]


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"taco": {"sorce": {}}}, "ingestion.taco.sorce: unknown key"),
        (
            {"taco": {"source": {"enabled": "yes"}}},
            "ingestion.taco.source.enabled: Input should be",
        ),
        ({"taco": {"source": {"kind": "tako"}}}, "ingestion.taco.source.kind: unknown source kind"),
        ({"apps": {"source": {"limit": -1}}}, "ingestion.apps.source.limit: Input should be"),
        ({"ocr2": {"limit": "all"}}, "ingestion.ocr2.limit: Input should be a valid integer"),
        (
            {"ocr2": {"datasets": {"livecodebench/code_generation_lite": "livecodebench"}}},
            "ingestion.ocr2.datasets.livecodebench/code_generation_lite: Input should be 'taco'",
        ),
        (
            {"benchmark_pools": [{"source": "bundled", "split": "test", "undated": "train"}]},
            "ingestion.benchmark_pools.0.undated: Input should be 'reject' or 'hold_out'",
        ),
        (
            {"benchmark_pools": [{"source": "bundled", "split": "test", "form": "2024-01-01"}]},
            "ingestion.benchmark_pools.0.form: unknown key",
        ),
        (
            {"benchmark_pools": [{"source": "bundled", "split": "test", "to": "2024-13-01"}]},
            "ingestion.benchmark_pools.0.to: Input should be a valid date",
        ),
        (
            {"benchmark_pools": [{"source": "bundled"}]},
            "ingestion.benchmark_pools.0.split: missing",
        ),
    ],
)
def test_a_bad_key_or_value_is_named_by_its_path(overrides, expected):
    assert expected in problems_with(overrides)


def test_a_date_window_must_hold_a_date():
    pool = {"source": "livecodebench", "split": "test", "from": "2025-01-01", "to": "2024-01-01"}
    assert "ingestion.benchmark_pools.0: the window from 2025-01-01 to 2024-01-01" in (
        problems_with({"benchmark_pools": [pool]})
    )


def test_a_pool_names_a_configured_source():
    # A misspelt pool would hold nothing out and let its questions into training.
    pool = {"source": "livecodebnech", "split": "test"}
    assert "benchmark_pools[0].source='livecodebnech' is not the name of a source" in (
        problems_with({"benchmark_pools": [pool]})
    )
