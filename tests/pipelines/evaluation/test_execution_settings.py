"""The sandbox settings evaluation passes on (`evaluation.execution`) are held to the verify rules:
an unknown key or a bad value is refused before anything runs, with its full path."""

from __future__ import annotations

import pytest
from kedro.config import OmegaConfigLoader

from ocr2_kedro.pipelines.evaluation.nodes import check_evaluation_settings
from ocr2_kedro.settings import CONFIG_LOADER_ARGS
from tests.conftest import REPO


def evaluation_params() -> dict:
    args = {**CONFIG_LOADER_ARGS, "default_run_env": "test"}
    return OmegaConfigLoader(conf_source=str(REPO / "conf"), **args)["parameters"]["evaluation"]


@pytest.mark.parametrize(
    ("execution", "message"),
    [
        ({"time_limt_s": 2}, "evaluation.execution.time_limt_s: unknown setting; known: "),
        ({"backend": "ray"}, "evaluation.execution.backend: unknown setting"),  # not passed on
        ({"compare_mode": "fuzzy"}, "evaluation.execution.compare_mode: 'fuzzy' is not one of"),
        ({"wall_factor": -1.0}, "evaluation.execution.wall_factor: -1.0 is not a positive"),
    ],
)
def test_bad_execution_settings_are_refused_with_their_path(execution, message):
    params = evaluation_params()
    params["execution"] = {**params["execution"], **execution}
    with pytest.raises(ValueError) as raised:
        check_evaluation_settings(params)
    assert message in str(raised.value)


def test_the_configured_execution_settings_pass():
    assert check_evaluation_settings(evaluation_params())["execution"]["workers"] >= 1
