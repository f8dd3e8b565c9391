"""The dataset stage's settings (conf/<env>/parameters_dataset.yml): the card's name, how the
export's joins are bucketed, and how preference pairs are chosen (`ocr2_kedro.preferences`)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveFloat, PositiveInt

from ocr2_kedro.parameters.base import Settings


class JoinSettings(Settings):
    """A partitioned join (`ocr2_kedro.tables`): as many buckets as keep one bucket's rows under
    `bucket_megabytes` in memory, spilled to a fresh folder under `work_dir` (removed after;
    null: the system temp folder)."""

    bucket_megabytes: PositiveFloat
    work_dir: str | None = Field(min_length=1)

    @property
    def bucket_bytes(self) -> int:
        return int(self.bucket_megabytes * 2**20)


class PreferenceSettings(JoinSettings):
    """Preference pairs per question and language (`ocr2_kedro.preferences.PairingSettings`)."""

    mode: Literal["all", "best_vs_worst"]
    max_pairs_per_question: PositiveInt | None  # null: no cap
    balance_by_difficulty: bool
    pairs_per_difficulty: PositiveInt | None  # null: the smallest non-empty bucket's size
    critique_pairs: bool
    critique_pairs_when_all_fail: bool  # with critique_pairs: also where no sample passed
    seed: int
    batch_pairs: PositiveInt


class DatasetSettings(Settings):
    name: str = Field(min_length=1)
    export: JoinSettings
    preferences: PreferenceSettings
