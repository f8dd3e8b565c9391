"""Evaluation metrics engine: pass@k, self-critique selection (pass@1|select@k), critique@k, critic
agreement, means over problems with standard errors and bootstrap intervals, and the statistics of
reasoning patterns in teacher traces (`patterns`). Kedro-free; the functions take plain numbers,
sequences and polars frames.
"""

from ocr2_kedro.metrics.aggregate import (
    bootstrap_interval,
    mean_with_stderr,
    summarize_problem_metrics,
)
from ocr2_kedro.metrics.passk import (
    FALLBACKS,
    critic_agreement,
    critique_at_k,
    pass_at_k,
    problem_metrics,
    select_at_k,
)

__all__ = [
    "FALLBACKS",
    "bootstrap_interval",
    "critic_agreement",
    "critique_at_k",
    "mean_with_stderr",
    "pass_at_k",
    "problem_metrics",
    "select_at_k",
    "summarize_problem_metrics",
]
