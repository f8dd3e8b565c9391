"""The dataset settings model: the shipped environments validate; the join and pairing settings
(checked by the preference engine's PairingSettings before) refuse a bad value by its full path,
and are exactly what the engines take."""

from __future__ import annotations

from dataclasses import fields

import pytest

from ocr2_kedro.parameters import ParametersError
from ocr2_kedro.parameters.dataset import DatasetSettings
from ocr2_kedro.preferences import PairingSettings
from ocr2_kedro.preferences.pairs import MODES
from tests.support.parameters import stage_settings


def problems_with(overrides: dict) -> list[str]:
    with pytest.raises(ParametersError) as caught:
        stage_settings("dataset", overrides)
    return caught.value.problems


@pytest.mark.parametrize("env", ["base", "paper", "test"])
def test_every_shipped_environment_validates(env):
    settings = stage_settings("dataset", env=env)
    assert isinstance(settings, DatasetSettings)
    assert settings.export.bucket_bytes == int(settings.export.bucket_megabytes * 2**20)


def test_preference_settings_are_the_pairing_engines():
    preferences = stage_settings("dataset").preferences
    assert set(type(preferences).model_fields) == {f.name for f in fields(PairingSettings)}
    assert PairingSettings(**preferences.model_dump()).mode == preferences.mode
    assert set(type(preferences).model_fields["mode"].annotation.__args__) == set(MODES)


@pytest.mark.parametrize(
    ("overrides", "path"),
    [
        ({"name": ""}, "dataset.name"),
        ({"export": {"bucket_megabytes": 0}}, "dataset.export.bucket_megabytes"),
        ({"export": {"work_dir": ""}}, "dataset.export.work_dir"),
        ({"preferences": {"mode": "best"}}, "dataset.preferences.mode"),
        (
            {"preferences": {"max_pairs_per_question": 0}},
            "dataset.preferences.max_pairs_per_question",
        ),
        ({"preferences": {"pairs_per_difficulty": -1}}, "dataset.preferences.pairs_per_difficulty"),
        ({"preferences": {"batch_pairs": 0}}, "dataset.preferences.batch_pairs"),
        ({"preferences": {"bucket_megabytes": -1}}, "dataset.preferences.bucket_megabytes"),
    ],
)
def test_a_bad_value_is_refused_by_its_full_path(overrides, path):
    (problem,) = problems_with(overrides)
    assert problem.startswith(f"{path}: ")


def test_unknown_keys_are_refused_and_null_folders_mean_the_temp_folder():
    (problem,) = problems_with({"preferences": {"pairs_per_question": 3}})
    assert problem.startswith("dataset.preferences.pairs_per_question: unknown key")
    assert stage_settings("dataset", {"export": {"work_dir": None}}).export.work_dir is None
