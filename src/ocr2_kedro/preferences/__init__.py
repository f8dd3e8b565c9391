"""Preference pairs (chosen, rejected) for DPO-style training, built from the OCR-2 export by the
dataset stage (`pairs.py`). Kedro-free."""

from .pairs import (
    PAIR_SCHEMA,
    PREFERENCE_REJECT_SCHEMA,
    PairingSettings,
    PreferencePairs,
    build_preference_pairs,
    pair_id,
    too_few_pairs,
)

__all__ = [
    "PAIR_SCHEMA",
    "PREFERENCE_REJECT_SCHEMA",
    "PairingSettings",
    "PreferencePairs",
    "build_preference_pairs",
    "pair_id",
    "too_few_pairs",
]
