from kedro.pipeline import Node, Pipeline

from .nodes import (
    classify_traces,
    pattern_metrics,
    plot_patterns,
    sample_traces,
    summarize_patterns,
    trace_outcomes,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                trace_outcomes,
                inputs=["generations", "verifications", "params:patterns"],
                outputs="pattern_trace_outcomes",
                name="trace_outcomes",
            ),
            Node(
                sample_traces,
                inputs=["pattern_trace_outcomes", "params:patterns"],
                outputs="pattern_trace_sample",
                name="sample_traces",
            ),
            Node(
                classify_traces,
                inputs=[
                    "pattern_trace_sample",
                    "generations",
                    "params:patterns",
                    "params:critique",
                ],
                outputs="reasoning_patterns",
                name="classify_traces",
            ),
            Node(
                summarize_patterns,
                inputs=[
                    "reasoning_patterns",
                    "pattern_trace_outcomes",
                    "params:patterns",
                    "params:critique",
                ],
                outputs="reasoning_patterns_summary",
                name="summarize_patterns",
            ),
            Node(
                plot_patterns,
                inputs="reasoning_patterns_summary",
                outputs="reasoning_patterns_plot",
                name="plot_patterns",
            ),
            Node(
                pattern_metrics,
                inputs="reasoning_patterns_summary",
                outputs="pattern_metrics",
                name="pattern_metrics",
            ),
        ]
    )
