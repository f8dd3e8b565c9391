"""Configured components (flash-attn, DeepSpeed, vLLM, Ray) checked before a run starts."""

from __future__ import annotations

import pytest
from kedro.io import DataCatalog, MemoryDataset
from kedro.pipeline import Node, Pipeline

from ocr2_kedro import components
from ocr2_kedro.components import MissingComponentError, check_components, required_components
from ocr2_kedro.hooks import ComponentsHook

PAPERISH = {
    "training": {
        "trainer": {"attn_implementation": "flash_attention_2"},
        "distributed": {"launcher": "deepspeed"},
    },
    "generation": {"backend": "vllm"},
    "verify": {"backend": "ray"},
    "dedup": {"semantic": {"enabled": False, "llm_judge": {"generation": {"backend": "vllm"}}}},
}


def test_required_components_name_the_setting_that_asks_for_them():
    found = {(c.setting, c.module) for c in required_components(PAPERISH)}
    assert found == {
        ("training.trainer.attn_implementation", "flash_attn"),
        ("training.distributed.launcher", "deepspeed"),
        ("generation.backend", "vllm"),
        ("verify.backend", "ray"),
    }  # a disabled block (dedup.semantic) asks for nothing


def test_every_missing_component_is_reported_with_what_to_install(monkeypatch):
    monkeypatch.setattr(
        components, "is_installed", lambda module: module not in {"flash_attn", "ray"}
    )
    with pytest.raises(MissingComponentError) as error:
        check_components(PAPERISH)
    assert [c.module for c in error.value.missing] == ["flash_attn", "ray"]
    assert "Install flash-attn" in str(error.value) and "ray[data]" in str(error.value)
    monkeypatch.setattr(components, "is_installed", lambda module: True)
    check_components(PAPERISH)


def test_real_lookup_does_not_import():
    assert components.is_installed("polars")
    assert not components.is_installed("surely_not_a_module_ocr2")


def _pipeline(*params: str) -> Pipeline:
    return Pipeline([Node(lambda *a: None, inputs=list(params), outputs=None, name="n")])


def test_hook_stops_a_run_before_its_first_node(monkeypatch):
    monkeypatch.setattr(components, "is_installed", lambda module: module != "flash_attn")
    catalog = DataCatalog(
        {
            "params:training": MemoryDataset(PAPERISH["training"]),
            "params:generation": MemoryDataset(PAPERISH["generation"]),
        }
    )
    with pytest.raises(MissingComponentError, match="training.trainer.attn_implementation"):
        ComponentsHook().before_pipeline_run(
            pipeline=_pipeline("params:generation", "params:training"), catalog=catalog
        )
    # A run whose nodes do not read the training settings is not blocked by them.
    ComponentsHook().before_pipeline_run(pipeline=_pipeline("params:generation"), catalog=catalog)
