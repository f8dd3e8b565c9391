"""PipelineTimingHook times each pipeline through its loads and saves, not only the node function.

A lazily saved output (a LazyFrame that its dataset sinks) does its work in the save, after the
node function returned: a timer stopped at `after_node_run` reported `time.verify_s` as 0.006 s.
Here a real Kedro runner runs two nodes whose output and input datasets sleep while saving and
loading; the hook must charge those seconds to the pipelines the nodes belong to.
"""

from __future__ import annotations

import time

import kedro.framework.project
from kedro.framework.hooks.manager import _create_hook_manager
from kedro.io import AbstractDataset, DataCatalog
from kedro.pipeline import Node, Pipeline
from kedro.runner import SequentialRunner

from ocr2_kedro.hooks import PipelineTimingHook

SAVE_S, LOAD_S = 0.4, 0.3


class SlowDataset(AbstractDataset):
    """Holds one value; saving and loading take a known time, as a sink or a scan does."""

    def __init__(self) -> None:
        self._value = None

    def _save(self, data) -> None:
        time.sleep(SAVE_S)
        self._value = data

    def _load(self):
        time.sleep(LOAD_S)
        return self._value

    def _describe(self) -> dict:
        return {}


class NoRuns:
    def run_of(self, node):
        return None


def make() -> int:
    return 1


def use(value: int) -> int:
    return value + 1


def test_pipeline_times_include_saves_and_loads(monkeypatch):
    producer = Pipeline([Node(make, None, "slow", name="make")])
    consumer = Pipeline([Node(use, "slow", "result", name="use")])
    monkeypatch.setattr(
        kedro.framework.project,
        "pipelines",
        {"producer": producer, "consumer": consumer, "__default__": producer + consumer},
    )
    hook = PipelineTimingHook(NoRuns())
    manager = _create_hook_manager()
    manager.register(hook)
    catalog = DataCatalog({"slow": SlowDataset()})

    started = time.perf_counter()
    hook.before_pipeline_run()
    SequentialRunner().run(producer + consumer, catalog, manager)
    wall = time.perf_counter() - started

    # The save belongs to the producer, the load to the consumer; nothing is lost between them.
    assert hook.seconds["producer"] >= SAVE_S
    assert hook.seconds["consumer"] >= LOAD_S
    assert sum(hook.seconds.values()) <= wall
    assert sum(hook.seconds.values()) >= SAVE_S + LOAD_S
