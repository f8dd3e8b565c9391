"""Project hooks.

`ComponentsHook` refuses to start a run whose parameters name a component that is not installed
(flash-attn for flash_attention_2, DeepSpeed, vLLM, Ray, ...), before the first node runs.

`DatasetVersionsHook` records, on the active MLflow run that kedro-mlflow opened, which version of
each versioned dataset a run read and wrote, so two runs can be compared on the data they used.

`SecretParametersHook` refuses a run whose parameters hold an API key, before MLflow logs them.

`EvaluationPreflightHook` refuses to start an evaluation whose model path or training checkpoint does
not exist, or that would evaluate C++ on a host without g++; `PipelineTimingHook` reports the wall
time of each pipeline in a run; `AblationRunsHook` gives every ablation variant its own MLflow child
run under the sweep's run. `VerifySettingsHook` refuses a run whose `verify` settings hold an
unknown key or a bad value. `SandboxPreflightHook` refuses a run that will execute untrusted code on
a host whose sandbox cannot isolate it (unless `allow_weak_isolation` accepts less).
"""

from __future__ import annotations

import logging
import time
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset
from kedro.io.core import VersionNotFoundError

from ocr2_kedro.components import check_components

logger = logging.getLogger(__name__)


class ComponentsHook:
    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        # Only the parameters this run's nodes read: a training-only component does not block
        # `--pipelines ingestion`. A failure here costs seconds; the same failure at the node that
        # needs the component would come after hours of generation.
        names = sorted(name for name in pipeline.inputs() if name.startswith("params:"))
        config = {name.removeprefix("params:"): catalog.load(name) for name in names}
        check_components(config)


class SecretParametersHook:
    """Refuses a run whose parameters hold an API key (`api_key` at any depth, in conf or in
    `--params`), before kedro-mlflow logs anything: it logs the parameters every node reads and the
    run's `--params` as a tag. `tryfirst` puts this check ahead of kedro-mlflow's
    before_pipeline_run, which opens the run. Keys come from the environment (`api_key_env`)."""

    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, run_params: dict, catalog: Any) -> None:
        from ocr2_kedro.generation.openai_backend import refuse_literal_api_keys

        refuse_literal_api_keys(run_params.get("runtime_params") or {})
        refuse_literal_api_keys(catalog.load("parameters"))


class DatasetVersionsHook:
    def __init__(self) -> None:
        self._catalog = None
        self.read: dict[str, str] = {}
        self.written: dict[str, str] = {}

    @hook_impl
    def after_catalog_created(self, catalog: Any) -> None:
        self._catalog = catalog
        self.read, self.written = {}, {}

    def _dataset(self, name: str):
        if self._catalog is None:
            return None
        try:
            return self._catalog.get(name)
        except Exception:  # noqa: BLE001 - a dataset missing from the catalog has no version to record
            return None

    @hook_impl
    def after_dataset_loaded(self, dataset_name: str) -> None:
        dataset = self._dataset(dataset_name)
        if isinstance(dataset, AbstractVersionedDataset):
            try:
                version = dataset.resolve_load_version()
            except VersionNotFoundError:  # an optional dataset no run has written (loaded as None)
                return
            if version:
                self.read[dataset_name] = version
                self._tag(f"data.read.{dataset_name}", version)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str) -> None:
        dataset = self._dataset(dataset_name)
        if isinstance(dataset, AbstractVersionedDataset):
            version = dataset.resolve_save_version()
            if version:
                self.written[dataset_name] = version
                self._tag(f"data.written.{dataset_name}", version)

    # Before kedro-mlflow's own after_pipeline_run, which ends the run.
    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        if mlflow.active_run() is not None and (self.read or self.written):
            mlflow.log_dict({"read": self.read, "written": self.written}, "dataset_versions.json")

    @staticmethod
    def _tag(key: str, value: str) -> None:
        if mlflow.active_run() is not None:
            mlflow.set_tag(key, value)


class EvaluationPreflightHook:
    """Checks, before any node runs, that every model the run will evaluate can be loaded: a model
    path that does not exist, or a training checkpoint that no run has written yet, fails the run at
    its start with what to do, not after the other models' samples have been generated. A run that
    will execute C++ samples on a host without g++ fails the same way (`check_cpp_compiler`)."""

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        from ocr2_kedro.models import resolve_model_path
        from ocr2_kedro.pipelines.evaluation.nodes import check_evaluation_settings

        produced = pipeline.all_outputs()
        if "params:evaluation" in pipeline.inputs():
            check_evaluation_settings(catalog.load("params:evaluation"))
        check_cpp_compiler(pipeline, catalog)
        for node in pipeline.nodes:
            namespace, _, name = node.name.rpartition(".")
            if name != "resolve_model" or not namespace.startswith("evaluation."):
                continue
            checkpoint, params_name = node.inputs
            model = catalog.load(params_name)
            path = model.get("path")
            if path:
                if model.get("backend") != "openai":
                    try:
                        resolve_model_path(str(path))
                    except FileNotFoundError as error:
                        raise FileNotFoundError(
                            f"{namespace}: {params_name.removeprefix('params:')}.path = {path!r}: "
                            f"{error}"
                        ) from error
                continue
            if checkpoint not in produced and not catalog.exists(checkpoint):
                raise FileNotFoundError(
                    f"{namespace} evaluates the latest `{checkpoint}`, and there is none yet. Train "
                    "first (`kedro run --pipelines training`), set "
                    f"{params_name.removeprefix('params:')}.path to a checkpoint, or evaluate other "
                    "models only (`kedro run --pipelines evaluation --namespaces evaluation.base`)."
                )


def check_cpp_compiler(pipeline: Any, catalog: Any) -> None:
    """Refuse a run that will execute C++ evaluation samples on a host without g++ (found the way
    the sandbox finds it): every C++ sample would end in SE after hours of sampling. Only
    namespaces whose execute_samples node runs in this pipeline and whose settings list cpp."""
    from ocr2_kedro.execution import sandbox

    if sandbox.which_or_none("g++"):
        return
    evaluating_cpp = [
        namespace
        for namespace, languages in evaluated_languages(pipeline, catalog).items()
        if "cpp" in languages
    ]
    if not evaluating_cpp:
        return
    raise RuntimeError(
        f"{', '.join(evaluating_cpp)} would evaluate C++ (`cpp` in evaluation.languages), and this "
        "host has no C++ compiler: g++ is not on PATH, so every C++ sample would end in SE. "
        "Install g++ (e.g. `apt-get install g++`) or evaluate Python only: "
        "`--params 'evaluation.languages=[python]'` (for an ablation variant, its "
        "ablations.variants.<name>.evaluation.languages override)."
    )


def evaluated_languages(pipeline: Any, catalog: Any) -> dict[str, list[str]]:
    """Namespace -> the languages its `execute_samples` node will run (`evaluated_settings`)."""
    return {
        namespace: list(settings.get("languages") or [])
        for namespace, settings in evaluated_settings(pipeline, catalog).items()
    }


def evaluated_settings(pipeline: Any, catalog: Any) -> dict[str, dict]:
    """Namespace -> the evaluation settings its `execute_samples` node will get:
    the node that makes them (check_evaluation_settings, or an ablation's variant_settings) is
    run on its parameters here, so overrides resolve exactly as in the run; settings that do not
    come from parameters alone fall back to `params:evaluation`."""
    producers = {output: node for node in pipeline.nodes for output in node.outputs}
    found: dict[str, dict] = {}
    for node in pipeline.nodes:
        namespace, _, name = node.name.rpartition(".")
        if name != "execute_samples":
            continue
        settings_name = next(
            (i for i in node.inputs if i.rpartition(".")[2] == "evaluation_settings"), None
        )
        producer = producers.get(settings_name)
        if producer is not None and all(i.startswith("params:") for i in producer.inputs):
            made = producer.func(*(catalog.load(i) for i in producer.inputs))
            settings = (
                made[producer.outputs.index(settings_name)] if len(producer.outputs) > 1 else made
            )
        elif catalog.exists("params:evaluation"):
            settings = catalog.load("params:evaluation")
        else:
            continue
        found[namespace] = settings
    return found


class VerifySettingsHook:
    """Refuses a run that will verify with settings that cannot work (an unknown key under
    `verify`, a negative limit, an unknown compare_mode) before any node runs, naming each key with
    its full path; the verify node checks them again when it starts."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        if "params:verify" in pipeline.inputs():
            from ocr2_kedro.pipelines.verify.nodes import check_verify_settings

            check_verify_settings(catalog.load("params:verify"))


class SandboxPreflightHook:
    """Before any node runs, starts one sandbox the way the run's `verify` or evaluation nodes will
    (their `allow_weak_isolation` and `sandbox_uids`): a host that cannot give the minimum isolation
    stops the run here with what is missing, not after hours of generation."""

    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        from ocr2_kedro.execution.sandbox import probe_isolation

        settings = []
        if "params:verify" in pipeline.inputs():
            settings.append(catalog.load("params:verify"))
        # Each evaluation copy as it will run (an ablation variant may override its execution).
        for evaluation in evaluated_settings(pipeline, catalog).values():
            settings.append(evaluation.get("execution") or {})
        wanted = {(bool(p.get("allow_weak_isolation")), p.get("sandbox_uids")) for p in settings}
        for allow_weak_isolation, sandbox_uids in sorted(wanted, key=str):
            layers = probe_isolation(allow_weak_isolation, sandbox_uids)
            logger.info("sandbox layers: %s", ", ".join(layers))


class PipelineTimingHook:
    """Wall time per registered pipeline (ingestion, dedup, ..., evaluation) within one run: printed
    as a table at the end and logged to MLflow as `time.<pipeline>_s`, so a whole-chain `kedro run`
    says where its minutes went."""

    COMPOSITES = ("__default__", "distill")

    def __init__(self) -> None:
        self._owner: dict[str, str] = {}
        self._started: dict[str, float] = {}
        self.seconds: dict[str, float] = {}

    @hook_impl
    def before_pipeline_run(self) -> None:
        from kedro.framework.project import pipelines

        self._owner, self._started, self.seconds = {}, {}, {}
        for name, registered in pipelines.items():
            if name not in self.COMPOSITES:
                self._owner.update({node.name: name for node in registered.nodes})

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._started[node.name] = time.perf_counter()

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        started = self._started.pop(node.name, None)
        if started is not None:
            owner = self._owner.get(node.name, "other")
            self.seconds[owner] = self.seconds.get(owner, 0.0) + time.perf_counter() - started

    @hook_impl(tryfirst=True)  # while kedro-mlflow's run is still open
    def after_pipeline_run(self) -> None:
        if not self.seconds:
            return
        total = sum(self.seconds.values())
        lines = [f"{name:<12} {seconds:8.1f} s" for name, seconds in self.seconds.items()]
        logger.info("time per pipeline:\n%s\n%-12s %8.1f s", "\n".join(lines), "total", total)
        if mlflow.active_run() is not None:
            mlflow.log_metrics({f"time.{name}_s": s for name, s in self.seconds.items()})


class AblationRunsHook:
    """One MLflow child run per ablation variant, nested under the run kedro-mlflow opened (the
    sweep's parent). The child is made active before a variant's node loads its inputs and stays
    active while its outputs are saved, so the variant's parameters, training curves, dataset
    versions and evaluation metrics land on it; nodes outside a variant log to the parent.

    A rerun of an interrupted sweep finds each variant's child run by its settings (tag
    `ablation.fingerprint`), moves it under the new parent and continues it: no duplicate runs.
    Before any node runs, every variant the pipeline holds is checked (its parameters exist, carry
    its name, and override only settings that exist)."""

    PREFIX = "ablations."

    def __init__(self) -> None:
        self._catalog: Any = None
        self._parent: str | None = None
        self._active: str | None = None
        self._children: dict[str, str] = {}

    @staticmethod
    def variant_of(node: Any) -> str | None:
        parts = (node.namespace or "").split(".")
        return ".".join(parts[:3]) if parts[0] == "ablations" and len(parts) >= 3 else None

    @hook_impl
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        from ocr2_kedro.pipelines.ablations.nodes import check_variant

        self._catalog, self._active, self._children = catalog, None, {}
        run = mlflow.active_run()
        self._parent = run.info.run_id if run is not None else None
        variants = {self.variant_of(node) for node in pipeline.nodes} - {None}
        for namespace in sorted(variants):
            name = namespace.rsplit(".", 1)[1]
            params = f"params:ablations.variants.{name}"
            if not catalog.exists(params):
                raise ValueError(
                    f"{namespace} has no settings: add ablations.variants.{name} to "
                    "parameters_ablations.yml"
                )
            variant = catalog.load(params)
            if variant.get("name") != name:
                raise ValueError(f"ablations.variants.{name}.name must be {name!r}")
            check_variant(
                name, variant, catalog.load("params:training"), catalog.load("params:evaluation")
            )
        if variants and self._parent is not None:
            mlflow.set_tag("ablation.sweep", ",".join(sorted({v.split(".")[1] for v in variants})))

    def _fingerprint(self, namespace: str) -> str:
        from ocr2_kedro.schemas import stable_id

        name = namespace.rsplit(".", 1)[1]
        versions = []
        # The export and preference pairs the variant trains on: new data, new run.
        for dataset in ("ocr2_export", "preference_pairs"):
            try:
                versions.append(self._catalog.get(dataset).resolve_load_version())
            except Exception:  # noqa: BLE001 - no versioned table yet: the settings alone
                versions.append(None)
        return stable_id(
            *versions,
            *(
                self._catalog.load(params)
                for params in (
                    f"params:ablations.variants.{name}",
                    "params:ablations",
                    "params:training",
                    "params:evaluation",
                )
            ),
        )

    def _child(self, namespace: str) -> str:
        """The child run of `namespace`: this run's, an earlier one with the same settings (moved
        under this parent), or a new one."""
        if namespace in self._children:
            return self._children[namespace]
        fingerprint = self._fingerprint(namespace)
        client = mlflow.MlflowClient()
        experiment = mlflow.get_run(self._parent).info.experiment_id
        earlier = client.search_runs(
            [experiment],
            filter_string=f"tags.`ablation.fingerprint` = '{fingerprint}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        if earlier:
            run_id = earlier[0].info.run_id
            client.set_tag(run_id, "mlflow.parentRunId", self._parent)
        else:
            run_id = client.create_run(
                experiment,
                run_name=namespace.rsplit(".", 1)[1],
                tags={
                    "mlflow.parentRunId": self._parent,
                    "ablation.variant": namespace.rsplit(".", 1)[1],
                    "ablation.sweep": namespace.split(".")[1],
                    "ablation.fingerprint": fingerprint,
                },
            ).info.run_id
        self._children[namespace] = run_id
        return run_id

    def _switch(self, node: Any) -> None:
        if self._parent is None:
            return
        namespace = self.variant_of(node)
        target = self._child(namespace) if namespace else self._parent
        active = mlflow.active_run()
        if active is not None and active.info.run_id == target:
            return
        if active is not None and active.info.run_id != self._parent:
            mlflow.end_run()  # the previous variant's child; resumed when its nodes come back
        if namespace is not None:
            mlflow.start_run(run_id=target, nested=True)
        self._active = namespace

    @hook_impl(tryfirst=True)
    def before_dataset_loaded(self, node: Any) -> None:
        self._switch(node)

    # After kedro-mlflow's own before_node_run, which re-activates its run at every node (a no-op
    # while any run is active, with tracking.run.nested: false in mlflow.yml).
    @hook_impl(trylast=True)
    def before_node_run(self, node: Any) -> None:
        self._switch(node)

    def _close(self, status: str) -> None:
        if self._active is not None:
            mlflow.end_run(status)
            self._active = None
        for run_id in self._children.values():
            if mlflow.get_run(run_id).info.status == "RUNNING":
                mlflow.MlflowClient().set_terminated(run_id, status)

    @hook_impl(tryfirst=True)
    def after_pipeline_run(self) -> None:
        self._close("FINISHED")

    @hook_impl(tryfirst=True)
    def on_pipeline_error(self) -> None:
        self._close("FAILED")
