"""Project hooks, registered in settings.py (where their order is written down).

- `ParametersHook` validates every stage's parameters once, when the catalog is made, and puts the
  validated models in the catalog as the `params:*` inputs nodes receive (ocr2_kedro.parameters).
- `PreflightHook` checks, before the first node and before any MLflow run opens, everything the
  run's settings need from the machine and the network (ocr2_kedro.preflight): one error listing
  all that is missing.
- `ProjectMlflowHook` is kedro-mlflow's MlflowHook (its plugin registration is disabled, so this is
  the only one), plus one MLflow child run per ablation variant under the run it opens. Which run
  each node logs to is decided here and nowhere else (`run_of`).
- `DatasetVersionsHook` and `PipelineTimingHook` record dataset versions and the time per pipeline
  on the run `ProjectMlflowHook.run_of` names, through MlflowClient, whatever run is active.
"""

from __future__ import annotations

import logging
import time
from typing import Any

import mlflow
from kedro.framework.hooks import hook_impl
from kedro.io import AbstractVersionedDataset, MemoryDataset
from kedro.io.core import VersionNotFoundError
from kedro_mlflow.framework.hooks.mlflow_hook import MlflowHook, _flatten_dict

from ocr2_kedro.parameters.base import Settings
from ocr2_kedro.preflight import variant_of

logger = logging.getLogger(__name__)

PARAMS = "params:"
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


class ParametersHook:
    """Validates all parameters once per run and hands nodes the validated models."""

    def __init__(self) -> None:
        self.settings: Any = None  # ocr2_kedro.parameters.project.ProjectSettings of this run
        self.problems: list[str] = []  # invalid parameters, raised by PreflightHook with the rest

    @hook_impl
    def after_context_created(self, context: Any) -> None:
        from ocr2_kedro.pipelines import dynamic

        # The pipelines' structure (evaluated models, sweeps, variants) follows this run's
        # --env and --params; Kedro first reads the pipelines after this hook.
        dynamic.use_config_loader(context.config_loader)

    @hook_impl
    def after_pipeline_run(self) -> None:
        from ocr2_kedro.pipelines import dynamic

        # This run's configuration does not outlive it (a later session in the same process reads
        # its own, or conf/base + conf/local).
        dynamic.use_config_loader(None)

    @hook_impl
    def on_pipeline_error(self) -> None:
        self.after_pipeline_run()

    @hook_impl
    def after_catalog_created(self, catalog: Any, parameters: dict[str, Any]) -> None:
        """`parameters` is what Kedro put in the catalog: `parameters` (all of them, as the config
        loader merged them) and one `params:<path>` per nested key."""
        from ocr2_kedro.parameters import ParametersError
        from ocr2_kedro.parameters.project import validate_parameters

        try:
            self.settings, self.problems = validate_parameters(parameters["parameters"]), []
        except ParametersError as error:
            # Raised before the first node by PreflightHook, in one message with what the valid
            # stages miss on this machine; until then nothing reads the invalid stages.
            logger.error("%s", error)
            self.settings, self.problems = error.partial, error.problems
        for name in list(catalog.keys()):
            if not name.startswith(PARAMS):
                continue
            try:
                value = self.settings.at(name.removeprefix(PARAMS))
            except KeyError:
                continue  # a plain value no model holds (kept as the config loader made it)
            # Frozen models: handed to every node as they are, never copied per load.
            catalog[name] = MemoryDataset(value, copy_mode="assign")


class PreflightHook:
    """Before the first node: what the run's settings need from the machine and network (models,
    tokenizers, hub datasets, endpoints, GPUs, components, executables, a sandbox that isolates,
    checkpoints to evaluate), all checked, all reported in one error."""

    def __init__(self, parameters: ParametersHook) -> None:
        self._parameters = parameters

    # tryfirst: before ProjectMlflowHook opens a run for a run that cannot start.
    @hook_impl(tryfirst=True)
    def before_pipeline_run(self, pipeline: Any, catalog: Any) -> None:
        from ocr2_kedro.preflight import check_run

        check_run(self._parameters.settings, pipeline, catalog, self._parameters.problems)


class ProjectMlflowHook(MlflowHook):
    """kedro-mlflow's hook with the project's run layout.

    The run kedro-mlflow opens (`self.run_id`) is the run of the whole `kedro run`; every node of an
    ablation variant logs to that variant's child run instead, nested under it. The child is made
    active before the node loads its inputs and stays active while its outputs are saved, so its
    parameters, training curves, artifacts and evaluation metrics land on it. A rerun of an
    interrupted sweep finds each variant's child by its settings (tag `ablation.fingerprint`),
    moves it under the new parent and continues it. Parameters arrive as settings models and are
    logged as the plain values they hold."""

    def __init__(self, parameters: ParametersHook) -> None:
        super().__init__()
        self._parameters = parameters
        self._catalog: Any = None
        self._children: dict[str, str] = {}
        self._active_child: str | None = None

    def run_of(self, node: Any | None) -> str | None:
        """The run id `node` logs to (None when MLflow is off for this run)."""
        if not getattr(self, "_is_mlflow_enabled", False) or self.run_id is None:
            return None
        namespace = variant_of(node) if node is not None else None
        return self._child(namespace) if namespace else self.run_id

    @hook_impl
    def before_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        self._catalog, self._children, self._active_child = catalog, {}, None
        self.run_id = None
        super().before_pipeline_run(run_params, pipeline, catalog)
        if not self._is_mlflow_enabled:
            return
        client = mlflow.MlflowClient()
        # MLflow's UI opens an experiment in the view its kind names; without the tag it opens
        # the GenAI view (traces, evaluation runs), and this project trains and evaluates models.
        experiment = client.get_run(self.run_id).info.experiment_id
        client.set_experiment_tag(experiment, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND)
        sweeps = {namespace.split(".")[1] for n in pipeline.nodes if (namespace := variant_of(n))}
        if sweeps:
            client.set_tag(self.run_id, "ablation.sweep", ",".join(sorted(sweeps)))

    def _variant(self, namespace: str):
        _, sweep, name = namespace.split(".")
        return self._parameters.settings["ablations"].sweeps[sweep][name]

    def _fingerprint(self, namespace: str) -> str:
        from ocr2_kedro.schemas import stable_id

        variant = self._variant(namespace)
        ablations = self._parameters.settings["ablations"]
        versions = []
        # The export and preference pairs the variant trains on: new data, new run.
        for dataset in ("ocr2_export", "preference_pairs"):
            try:
                versions.append(self._catalog.get(dataset).resolve_load_version())
            except Exception:  # noqa: BLE001 - no versioned table yet: the settings alone
                versions.append(None)
        return stable_id(
            *versions,
            variant.as_dict(),
            ablations.model_dump(mode="json", exclude={"sweeps"}),
            variant.training_settings.as_dict(),
            variant.evaluation_settings.as_dict(),
        )

    def _child(self, namespace: str) -> str:
        """The child run of `namespace`: this run's, an earlier one with the same settings (moved
        under this run), or a new one."""
        if namespace in self._children:
            return self._children[namespace]
        fingerprint = self._fingerprint(namespace)
        client = mlflow.MlflowClient()
        experiment = client.get_run(self.run_id).info.experiment_id
        earlier = client.search_runs(
            [experiment],
            filter_string=f"tags.`ablation.fingerprint` = '{fingerprint}'",
            order_by=["attributes.start_time DESC"],
            max_results=1,
        )
        _, sweep, name = namespace.split(".")
        if earlier:
            run_id = earlier[0].info.run_id
            client.set_tag(run_id, "mlflow.parentRunId", self.run_id)
        else:
            run_id = client.create_run(
                experiment,
                run_name=name,
                tags={
                    "mlflow.parentRunId": self.run_id,
                    "ablation.variant": name,
                    "ablation.sweep": sweep,
                    "ablation.fingerprint": fingerprint,
                },
            ).info.run_id
        self._children[namespace] = run_id
        return run_id

    def _activate(self, node: Any) -> None:
        """Make `node`'s run the active one: the parent, with the variant's child nested on top."""
        target = self.run_of(node)
        if target is None:
            return
        active = mlflow.active_run()
        if active is not None and active.info.run_id == target:
            return
        if self._active_child is not None and active is not None:
            mlflow.end_run()  # the previous variant's child; resumed when its nodes come back
        self._active_child = None
        if mlflow.active_run() is None:
            mlflow.start_run(run_id=self.run_id)
        if target != self.run_id:
            mlflow.start_run(run_id=target, nested=True)
            self._active_child = target

    @hook_impl
    def before_dataset_loaded(self, node: Any) -> None:
        self._activate(node)

    @hook_impl
    def before_node_run(
        self, node: Any, catalog: Any, inputs: dict[str, Any], is_async: bool
    ) -> None:
        self._activate(node)
        if not getattr(self, "_is_mlflow_enabled", False):
            return
        # kedro-mlflow's own before_node_run would re-open its run over the child; the parameter
        # logging it does is done here, on the node's run, with models logged as plain values.
        values = {
            name.removeprefix(PARAMS): value.as_dict() if isinstance(value, Settings) else value
            for name, value in inputs.items()
            if name.startswith(PARAMS)
        }
        if self.flatten:
            values = _flatten_dict(d=values, recursive=self.recursive, sep=self.sep)
        for name, value in values.items():
            self._log_param(self.sanitize_param_name(name), value)

    def _close_children(self, status: str) -> None:
        if self._active_child is not None:
            mlflow.end_run(status)
            self._active_child = None
        client = mlflow.MlflowClient()
        for run_id in self._children.values():
            if client.get_run(run_id).info.status == "RUNNING":
                client.set_terminated(run_id, status)

    @hook_impl
    def after_pipeline_run(self, run_params: dict, pipeline: Any, catalog: Any) -> None:
        if getattr(self, "_is_mlflow_enabled", False):
            self._close_children("FINISHED")
        super().after_pipeline_run(run_params, pipeline, catalog)

    @hook_impl
    def on_pipeline_error(self, error: Exception, run_params: dict, pipeline: Any, catalog: Any):
        if getattr(self, "_is_mlflow_enabled", False) and self.run_id is not None:
            self._close_children("FAILED")
        super().on_pipeline_error(error, run_params, pipeline, catalog)


class DatasetVersionsHook:
    """Which version of each versioned dataset a run read and wrote, as tags on the run of the node
    that read or wrote it and as `dataset_versions.json` on the run of the whole `kedro run`, so two
    runs can be compared on the data they used."""

    def __init__(self, runs: ProjectMlflowHook) -> None:
        self._runs = runs
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
    def after_dataset_loaded(self, dataset_name: str, node: Any) -> None:
        dataset = self._dataset(dataset_name)
        if isinstance(dataset, AbstractVersionedDataset):
            try:
                version = dataset.resolve_load_version()
            except VersionNotFoundError:  # an optional dataset no run has written (loaded as None)
                return
            if version:
                self.read[dataset_name] = version
                self._tag(node, f"data.read.{dataset_name}", version)

    @hook_impl
    def after_dataset_saved(self, dataset_name: str, node: Any) -> None:
        dataset = self._dataset(dataset_name)
        if isinstance(dataset, AbstractVersionedDataset):
            version = dataset.resolve_save_version()
            if version:
                self.written[dataset_name] = version
                self._tag(node, f"data.written.{dataset_name}", version)

    def _tag(self, node: Any, key: str, value: str) -> None:
        run_id = self._runs.run_of(node)
        if run_id is not None:
            mlflow.MlflowClient().set_tag(run_id, key, value)

    @hook_impl
    def after_pipeline_run(self) -> None:
        run_id = self._runs.run_of(None)
        if run_id is not None and (self.read or self.written):
            mlflow.MlflowClient().log_dict(
                run_id, {"read": self.read, "written": self.written}, "dataset_versions.json"
            )


class PipelineTimingHook:
    """Wall time per registered pipeline (ingestion, dedup, ..., evaluation) within one run: printed
    as a table at the end and logged as `time.<pipeline>_s` on the run of the whole `kedro run`,
    so a whole-chain `kedro run` says where its minutes went.

    A node's time runs from the end of whatever happened before it, through loading its inputs,
    running and saving its outputs: a lazily saved output (a LazyFrame sunk by its dataset) does
    its work in the save, after `after_node_run`. Every hook event charges the time since the
    previous event to the node it is about, so the pipelines' times add up to the run's wall time
    (the runner runs one node at a time: SequentialRunner, Kedro's default)."""

    COMPOSITES = ("__default__", "distill")

    def __init__(self, runs: ProjectMlflowHook) -> None:
        self._runs = runs
        self._owner: dict[str, str] = {}
        self._mark = 0.0
        self.seconds: dict[str, float] = {}

    def _charge(self, node: Any) -> None:
        now = time.perf_counter()
        owner = self._owner.get(node.name, "other") if node is not None else "other"
        self.seconds[owner] = self.seconds.get(owner, 0.0) + now - self._mark
        self._mark = now

    @hook_impl
    def before_pipeline_run(self) -> None:
        from kedro.framework.project import pipelines

        self._owner, self.seconds = {}, {}
        for name, registered in pipelines.items():
            if name not in self.COMPOSITES:
                self._owner.update({node.name: name for node in registered.nodes})
        self._mark = time.perf_counter()

    @hook_impl
    def before_dataset_loaded(self, node: Any) -> None:
        self._charge(node)

    @hook_impl
    def before_node_run(self, node: Any) -> None:
        self._charge(node)

    @hook_impl
    def after_node_run(self, node: Any) -> None:
        self._charge(node)

    @hook_impl
    def after_dataset_saved(self, node: Any) -> None:
        self._charge(node)

    @hook_impl
    def after_pipeline_run(self) -> None:
        if not self.seconds:
            return
        total = sum(self.seconds.values())
        lines = [f"{name:<12} {seconds:8.1f} s" for name, seconds in self.seconds.items()]
        logger.info("time per pipeline:\n%s\n%-12s %8.1f s", "\n".join(lines), "total", total)
        run_id = self._runs.run_of(None)
        if run_id is not None:
            client = mlflow.MlflowClient()
            for name, seconds in self.seconds.items():
                client.log_metric(run_id, f"time.{name}_s", seconds)
