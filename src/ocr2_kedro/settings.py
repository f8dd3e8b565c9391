"""Project settings: https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from ocr2_kedro.context import ProjectContext
from ocr2_kedro.hooks import (
    DatasetVersionsHook,
    ParametersHook,
    PipelineTimingHook,
    PreflightHook,
    ProjectMlflowHook,
)
from ocr2_kedro.resolvers import env_list, package_file

# kedro-mlflow's hook is registered here, as ProjectMlflowHook (its subclass), not by the plugin's
# entry point: every hook that touches settings or MLflow is in this one tuple.
DISABLE_HOOKS_FOR_PLUGINS = ("kedro_mlflow",)

# What each hook relies on, written down (tests/test_hooks_order.py runs a run-wide node and an
# ablation variant with this tuple as written, reversed and shuffled, and checks where each
# metric, parameter, tag and artifact lands):
# - PARAMETERS validates all parameters in after_catalog_created, which Kedro calls before any
#   before_pipeline_run: every other hook sees validated settings whatever its place here.
# - PreflightHook.before_pipeline_run is `tryfirst`: it refuses a run that cannot start before
#   MLFLOW opens an MLflow run for it. That is the only ordering in this tuple that matters.
# - MLFLOW opens the run of the whole `kedro run` and one child run per ablation variant, and is
#   the only hook that changes the active run (`run_of(node)` says which run a node logs to).
# - DatasetVersionsHook and PipelineTimingHook log through MlflowClient to MLFLOW.run_of(...),
#   never to "the active run", so their place in the tuple cannot move their tags or metrics.
PARAMETERS = ParametersHook()
MLFLOW = ProjectMlflowHook(PARAMETERS)
HOOKS = (
    PARAMETERS,
    PreflightHook(PARAMETERS),
    MLFLOW,
    DatasetVersionsHook(MLFLOW),
    PipelineTimingHook(MLFLOW),
)

# Parameters are validated once, by ParametersHook (ProjectContext turns Kedro's own per-node
# validation off).
CONTEXT_CLASS = ProjectContext

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Site settings of `--env paper` (endpoints, model paths, tracking URI) come from the environment
    # (`kedro run --env paper` reads conf/base + conf/paper, never conf/local): oc.env for one value,
    # ocr2.env_list for a comma-separated list (README: Pointing the project at a GPU cluster);
    # ocr2.package_file: a data file an installed package ships (raw_humaneval).
    "custom_resolvers": {
        "oc.env": oc.env,
        "ocr2.env_list": env_list,
        "ocr2.package_file": package_file,
    },
    # conf/paper and conf/test override single settings deep inside a pipeline's parameters (or the
    # MLflow config) without restating the rest; catalog entries stay replaced whole.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
