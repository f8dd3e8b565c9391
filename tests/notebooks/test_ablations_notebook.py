"""notebooks/ablations_analysis.ipynb runs top to bottom, as CI executes it (nbclient, the venv's
python3 kernel), against a project copy whose catalog holds small synthetic tables shaped by the
pipelines' own nodes; it draws its plots from them, and it stops naming the `kedro run` that makes a
table that is missing."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat
import polars as pl
import pytest
import yaml
from jupyter_client.kernelspec import KernelSpecManager
from jupyter_client.manager import KernelManager
from kedro.io.core import generate_timestamp
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

from ocr2_kedro.parameters.ablations import VariantSettings
from ocr2_kedro.pipelines.ablations.nodes import (
    compare_variants,
    record_variant,
    select_variant_data,
)
from ocr2_kedro.pipelines.evaluation.nodes import compare_models
from tests.conftest import REPO
from tests.support.parameters import stage_settings
from tests.support.versions import save_versioned

NOTEBOOK = REPO / "notebooks" / "ablations_analysis.ipynb"
PLOT_MIMETYPES = ("application/vnd.plotly.v1+json", "image/png", "image/svg+xml")
CELL_TIMEOUT_S = 300


def catalog_path(project: Path, catalog_file: str, entry: str, **fields: str) -> Path:
    """The file a catalog entry of conf/base writes (a pattern entry with its fields filled in)."""
    entries = yaml.safe_load((project / "conf" / "base" / catalog_file).read_text())
    # A report logged to MLflow wraps the local dataset that holds the file.
    local = entries[entry].get("dataset", entries[entry])
    return project / local["filepath"].format(**fields)


def save_versioned_csv(path: Path, frame: pl.DataFrame) -> None:
    target = path / generate_timestamp() / path.name
    target.parent.mkdir(parents=True)
    frame.write_csv(target)


def export_table() -> pl.DataFrame:
    """20 accepted samples over 6 questions, Python and C++, in the OCR-2 export layout."""
    rows = []
    for i in range(20):
        language = "python" if i < 12 else "cpp"
        question = f"q{i % 6}"
        fence = "python" if language == "python" else "cpp"
        reasoning = "Let me think about the constraints. " * (2 + 3 * (i % 7))
        rows.append(
            {
                "id": f"g{i:02d}",
                "question_id": question,
                "question": f"Read n and print the sum of question {question}.",
                "r1_generation": f"<think>\n{reasoning}\n</think>\n```{fence}\nprint(1)\n```",
                "qwq_critique": "The solution reads the input and prints the sum.\n\nJudgement: right",
                "solution": "print(1)" if language == "python" else "int main() { return 0; }",
                "judgement": ("right", "wrong", None, "right")[i % 4],
                "pass_rate": (1.0, 0.0, 0.5, 1.0, 0.25)[i % 5],
                "verdict": ("AC", "WA", "WA", "AC", "TLE")[i % 5],
                "source": ("taco", "apps", "codeforces")[i % 3],
                "license": "apache-2.0",
                "dataset": ("taco", "apps", "codeforces")[i % 3],
                "split": "train",
                "difficulty": ("EASY", "MEDIUM", "HARD")[i % 3],
                "index": str(i),
                "language": language,
                "test_type": "stdin",
                "starter_code": "",
                "fn_name": None,
            }
        )
    return pl.DataFrame(rows, infer_schema_length=None)


def ablation_table(export: pl.DataFrame) -> pl.DataFrame:
    """The data_size sweep's comparison, made by the ablation nodes from the synthetic export."""
    sweep = stage_settings(
        "ablations", {"seed": 13, "full_size": 2500000, "scale_to_available": True}
    )
    results = []
    for name, nominal, pass_at_1, loss in (
        ("size_737k", 737000, 0.0, 1.9),
        ("size_2500k", 2500000, 0.05, 1.6),
    ):
        variant = VariantSettings(name=name, sweep="data_size", data={"nominal_size": nominal})
        selected, selection = select_variant_data(export, sweep, variant)
        summary = pl.DataFrame(
            {
                "breakdown": ["all"] * 3,
                "language": ["all", "cpp", "python"],
                "temperature": [0.6] * 3,
                "metric": ["pass_at_1"] * 3,
                "mean": [pass_at_1, 0.0, 2 * pass_at_1],
            }
        )
        reference_loss = pl.DataFrame(
            {"language": ["all", "cpp", "python"], "loss_per_token": [loss, loss + 0.2, loss - 0.2]}
        )
        results.append(record_variant(selected, selection, summary, reference_loss))
    table, _markdown, _plot = compare_variants(*results)
    return table


def evaluation_table() -> pl.DataFrame:
    """base, stage1 and stage2 side by side, made by the evaluation pipeline's compare node."""
    tables = []
    for model, pass_at_1, loss in (("base", 0.0, 2.1), ("stage1", 0.05, 1.7), ("stage2", 0.1, 1.6)):
        tables.append(
            pl.DataFrame(
                {
                    "model": [model] * 4,
                    "breakdown": ["all"] * 4,
                    "language": ["all", "all", "python", "cpp"],
                    "temperature": [0.6] * 4,
                    "metric": ["pass_at_1", "critic_accuracy", "pass_at_1", "pass_at_1"],
                    "mean": [pass_at_1, 0.5, pass_at_1, pass_at_1 / 2],
                }
            )
        )
        tables.append(
            pl.DataFrame(
                {
                    "model": [model] * 3,
                    "language": ["all", "python", "cpp"],
                    "loss_per_token": [loss, loss - 0.1, loss + 0.1],
                }
            )
        )
    table, _markdown = compare_models(*tables)
    return table


def execute(project: Path, monkeypatch) -> nbformat.NotebookNode:
    """Run the notebook from the project's notebooks/ folder, as a user opening it there would;
    OCR2_PROJECT_ROOT names the same project."""
    folder = project / "notebooks"
    folder.mkdir(exist_ok=True)
    shutil.copy2(NOTEBOOK, folder / NOTEBOOK.name)
    monkeypatch.setenv("OCR2_PROJECT_ROOT", str(project))
    monkeypatch.delenv("KEDRO_ENV", raising=False)
    notebook = nbformat.read(folder / NOTEBOOK.name, as_version=4)
    # python3 from ipykernel itself: this venv's interpreter, whatever kernelspecs the user has.
    kernel = KernelManager(
        kernel_name="python3", kernel_spec_manager=KernelSpecManager(kernel_dirs=[])
    )
    NotebookClient(
        notebook,
        km=kernel,
        timeout=CELL_TIMEOUT_S,
        resources={"metadata": {"path": str(folder)}},
    ).execute()
    return notebook


def outputs(notebook: nbformat.NotebookNode) -> list[dict]:
    return [out for cell in notebook.cells if cell.cell_type == "code" for out in cell.outputs]


def test_the_committed_notebook_has_no_outputs():
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    nbformat.validate(notebook)
    assert not outputs(notebook)
    assert all(cell.execution_count is None for cell in notebook.cells if cell.cell_type == "code")


def test_the_notebook_runs_on_the_catalog_and_plots(project_copy, monkeypatch):
    export = export_table()
    save_versioned(catalog_path(project_copy, "catalog_dataset.yml", "ocr2_export"), export)
    save_versioned_csv(
        catalog_path(
            project_copy, "catalog_ablations.yml", "ablations.{sweep}.comparison", sweep="data_size"
        ),
        ablation_table(export),
    )
    save_versioned_csv(
        catalog_path(project_copy, "catalog_evaluation.yml", "evaluation_comparison"),
        evaluation_table(),
    )

    executed = execute(project_copy, monkeypatch)  # a cell that raises fails here

    produced = outputs(executed)
    assert not [out for out in produced if out.output_type == "error"]
    text = "".join(out.get("text", "") for out in produced if out.output_type == "stream")
    assert f"project: {project_copy}" in text  # the copy's catalog, not the repository's
    assert "configuration: conf/base + conf/local" in text
    assert "20 samples of 6 questions" in text
    plots = [
        out
        for out in produced
        if out.output_type in ("display_data", "execute_result")
        and any(mimetype in out.data for mimetype in PLOT_MIMETYPES)
    ]
    assert plots, "the executed notebook shows no plot"


def test_a_missing_table_stops_the_notebook_naming_the_run_that_makes_it(project_copy, monkeypatch):
    with pytest.raises(CellExecutionError) as failure:
        execute(project_copy, monkeypatch)
    message = str(failure.value)
    assert "'ocr2_export' has no saved version" in message
    assert "kedro run --pipelines distill" in message
