"""`kedro run --pipelines ablations --namespaces ablations.preference` in a project copy on the tiny
model: one parent run with a child per variant, `sft` trains no DPO, `sft_plus_dpo` trains stage 1
then a few DPO steps, and TRL's reward margins, chosen / rejected rewards and accuracies land on
its own child run under `dpo.` names."""

from __future__ import annotations

import mlflow
import pytest

from tests.conftest import run_kedro
from tests.pipelines.ablations.test_ablations_pipeline import prepare_sweep_inputs, sweep_runs

REWARDS = ("dpo.rewards_margins", "dpo.rewards_chosen", "dpo.rewards_rejected")


@pytest.mark.slow
def test_preference_sweep_trains_dpo_in_its_own_child_run(project_copy, tiny_model_dir):
    prepare_sweep_inputs(project_copy)
    run_kedro(
        project_copy,
        "run",
        "--env",
        "test",
        "--pipelines",
        "ablations",
        "--namespaces",
        "ablations.preference",
        "--params",
        f"training.student={tiny_model_dir}",
    )

    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{project_copy / 'mlflow.db'}")
    _, children = sweep_runs(client, "preference")
    assert set(children) == {"sft", "sft_plus_dpo"}
    assert all(child.info.status == "FINISHED" for child in children.values())
    dpo, sft = children["sft_plus_dpo"], children["sft"]
    # The test env's sweep overrides: 2 steps per stage, DPO's included.
    steps = {
        key: len(client.get_metric_history(dpo.info.run_id, key))
        for key in ("stage1.loss", "dpo.loss", *REWARDS, "dpo.rewards_accuracies")
    }
    assert steps == dict.fromkeys(steps, 2), steps
    assert dpo.data.metrics["dpo.pairs_in_table"] == 4 == dpo.data.metrics["dpo.trained_pairs"]
    assert dpo.data.metrics["dpo.pairs_execution"] == 4
    assert dpo.data.metrics["dpo.trained"] == dpo.data.metrics["stage1.trained"] == 1.0
    assert "evaluation.python.reference_loss" in dpo.data.metrics
    # sft passes its stage-1 checkpoint through the DPO step untrained: no reward on its run.
    assert sft.data.metrics["dpo.trained"] == 0.0
    assert not set(REWARDS) & set(sft.data.metrics)
    assert "evaluation.python.reference_loss" in sft.data.metrics
