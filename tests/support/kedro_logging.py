"""Plain-text Kedro logging for tests that run `kedro` in a subprocess and read its log lines."""

from __future__ import annotations

from pathlib import Path

import yaml

# The project's INFO messages (what a run resumed, judged, generated), without rich formatting.
PLAIN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(name)s %(message)s"}},
    "handlers": {"plain": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "loggers": {"ocr2_kedro": {"level": "INFO"}},
    "root": {"level": "WARNING", "handlers": ["plain"]},
}


def write_plain_logging(project: Path) -> str:
    """Write the config into `project` and return its path, for KEDRO_LOGGING_CONFIG."""
    path = Path(project) / "logging.yml"
    path.write_text(yaml.safe_dump(PLAIN_LOGGING))
    return str(path)
