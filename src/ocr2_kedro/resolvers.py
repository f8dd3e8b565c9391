"""Config resolvers registered in settings.py (OmegaConf custom resolvers). Kedro-free.

Site settings of a paper-scale run (endpoints, model paths, tracking URI) come from the environment:
`kedro run --env paper` layers conf/paper over conf/base only, so conf/local is not read there.
"""

from __future__ import annotations

import os


def env_list(name: str, default: str = "") -> list[str]:
    """A comma-separated environment variable as a list of its non-empty, stripped items.

    `${ocr2.env_list:OCR2_TEACHER_ENDPOINTS}` -> ["http://n1:8000/v1", "http://n2:8000/v1"] for
    OCR2_TEACHER_ENDPOINTS="http://n1:8000/v1, http://n2:8000/v1"; [] when unset or empty.
    """
    value = os.environ.get(name, default)
    return [item.strip() for item in value.split(",") if item.strip()]
