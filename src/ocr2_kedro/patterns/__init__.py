"""Reasoning patterns of teacher traces: which behaviours (subgoal setting, self-evaluation,
backtracking, ...) a trace shows. `behaviours` defines them and finds them by regex markers (the
lexical method); `labelling` asks a classifier model (the llm method) and labels traces by both.
Their statistics are `ocr2_kedro.metrics.patterns`, the card text and figure
`ocr2_kedro.reporting.patterns`. Kedro-free."""

from ocr2_kedro.patterns.behaviours import (
    BEHAVIOURS,
    Behaviour,
    behaviours_named,
    lexical_labels,
)
from ocr2_kedro.patterns.labelling import label_traces, labels_schema, parse_pattern_answer

__all__ = [
    "BEHAVIOURS",
    "Behaviour",
    "behaviours_named",
    "label_traces",
    "labels_schema",
    "lexical_labels",
    "parse_pattern_answer",
]
