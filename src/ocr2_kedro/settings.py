"""Project settings: https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from ocr2_kedro.hooks import (
    AblationRunsHook,
    ComponentsHook,
    DatasetVersionsHook,
    EvaluationPreflightHook,
    PipelineTimingHook,
    SandboxPreflightHook,
    SecretParametersHook,
    VerifySettingsHook,
)
from ocr2_kedro.resolvers import env_list

# kedro-mlflow registers its own MlflowHook through its entry point; these add start-of-run checks
# (no API key in the parameters, every configured component is installed, every model to evaluate
# exists, valid verify settings, a sandbox that isolates), dataset lineage, the time each pipeline took, and one MLflow
# child run per ablation variant.
HOOKS = (
    SecretParametersHook(),
    ComponentsHook(),
    EvaluationPreflightHook(),
    VerifySettingsHook(),
    SandboxPreflightHook(),
    DatasetVersionsHook(),
    PipelineTimingHook(),
    AblationRunsHook(),
)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # Site settings of `--env paper` (endpoints, model paths, tracking URI) come from the environment
    # (`kedro run --env paper` reads conf/base + conf/paper, never conf/local): oc.env for one value,
    # ocr2.env_list for a comma-separated list (README: Pointing the project at a GPU cluster).
    "custom_resolvers": {"oc.env": oc.env, "ocr2.env_list": env_list},
    # conf/paper and conf/test override single settings deep inside a pipeline's parameters (or the
    # MLflow config) without restating the rest; catalog entries stay replaced whole.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
