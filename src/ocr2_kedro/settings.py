"""Project settings: https://docs.kedro.org/en/stable/kedro_project_setup/settings.html"""

from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from ocr2_kedro.hooks import DatasetVersionsHook

# kedro-mlflow registers its own MlflowHook through its entry point; this one adds dataset lineage.
HOOKS = (DatasetVersionsHook(),)

CONFIG_LOADER_CLASS = OmegaConfigLoader
CONFIG_LOADER_ARGS = {
    "base_env": "base",
    "default_run_env": "local",
    # oc.env lets conf/ read endpoints and paths from the environment (e.g. OCR2_TEACHER_URL).
    "custom_resolvers": {"oc.env": oc.env},
    # conf/paper and conf/test override single settings deep inside a pipeline's parameters (or the
    # MLflow config) without restating the rest; catalog entries stay replaced whole.
    "merge_strategy": {"parameters": "soft", "mlflow": "soft"},
}
