"""docs/architecture.md stays true: its generated section (stages, datasets between them, layers) is
what the pipeline registry and the catalog say today, and every file it names exists."""

from __future__ import annotations

import difflib
import re

import pytest

from ocr2_kedro import architecture
from ocr2_kedro.architecture import COMMAND, DOC, REPO


@pytest.fixture(scope="module")
def document() -> str:
    return DOC.read_text()


def test_generated_section_is_up_to_date(document):
    embedded = architecture.embedded_section(document)
    assert embedded is not None, f"{DOC}: the generated section's markers are missing"
    generated = architecture.generated_section()
    if embedded != generated:
        diff = "\n".join(
            difflib.unified_diff(
                embedded.splitlines(),
                generated.splitlines(),
                "docs/architecture.md",
                "generated from the code",
                lineterm="",
            )
        )
        pytest.fail(f"docs/architecture.md is out of date; regenerate it with `{COMMAND}`:\n{diff}")


def test_every_stage_and_layer_is_drawn(document):
    section = architecture.embedded_section(document)
    for stage in (
        "ingestion",
        "dedup",
        "generation",
        "critique",
        "verify",
        "patterns",
        "dataset",
        "training",
        "evaluation",
        "ablations",
    ):
        assert f'stage_{stage}["' in section, stage
    for layer in ("raw", "intermediate", "primary", "model_input", "models"):
        assert f"<i>{layer}</i>" in section, layer


# `src/...`, `conf/...`, `tests/...`, `docs/...` in backticks; a `<placeholder>` or `{pattern}` part
# stands for a family of files and is not checked.
NAMED_PATH = re.compile(r"`((?:src|conf|tests|docs)/[^`\s]*)`")
LINK = re.compile(r"\]\(((?!https?://|#)[^)\s]+)\)")


def test_every_path_it_names_exists(document):
    named = [path.rstrip("/") for path in NAMED_PATH.findall(document)]
    linked = [
        str((DOC.parent / link).resolve().relative_to(REPO)) for link in LINK.findall(document)
    ]
    assert len(named) > 30  # the "where to change what" list names the files to edit
    checked = [p for p in named + linked if not re.search(r"[<>{}*]", p)]
    missing = sorted({p for p in checked if not (REPO / p).exists()})
    assert not missing, f"docs/architecture.md names files that do not exist: {missing}"
