from kedro.pipeline import Node, Pipeline

from ocr2_kedro.pipelines.patterns.nodes import pattern_metrics
from ocr2_kedro.pipelines.summary import summary_node

from .nodes import (
    build_export,
    build_preference_pairs,
    dataset_statistics,
    plot_dataset_overview,
    render_dataset_card,
    split_by_language,
    summarize_dataset,
)


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_export,
                inputs=[
                    "problems_dedup",
                    "generations",
                    "critiques",
                    "verifications",
                    "params:dataset.export",
                ],
                outputs="ocr2_export",
                name="build_export",
            ),
            Node(
                split_by_language,
                inputs="ocr2_export",
                outputs=[
                    "ocr2_export_python",
                    "ocr2_export_cpp",
                    "ocr2_export_jsonl_python",
                    "ocr2_export_jsonl_cpp",
                ],
                name="split_export_by_language",
            ),
            Node(
                build_preference_pairs,
                inputs=[
                    "ocr2_export",
                    "params:dataset.preferences",
                    "params:training.system_prompt",
                ],
                outputs=["preference_pairs", "preference_rejects", "preference_statistics"],
                name="build_preference_pairs",
            ),
            Node(
                dataset_statistics,
                inputs=[
                    "problems_dedup",
                    "generations",
                    "critiques",
                    "verifications",
                    "generation_rejects",
                    "ocr2_export",
                    "params:dataset.export",
                ],
                outputs="dataset_statistics",
                name="dataset_statistics",
            ),
            Node(
                render_dataset_card,
                inputs=[
                    "dataset_statistics",
                    "params:dataset",
                    "params:generation.model",
                    "params:critique.model",
                    "preference_statistics",
                    "reasoning_patterns_summary",
                ],
                outputs="dataset_card",
                name="render_dataset_card",
            ),
            Node(
                plot_dataset_overview,
                inputs=["generations", "verifications", "params:dataset.export"],
                outputs="dataset_overview_plot",
                name="plot_dataset_overview",
            ),
            Node(
                summarize_dataset,
                inputs=["dataset_statistics", "preference_statistics"],
                outputs="dataset_metrics",
                name="summarize_dataset",
            ),
            summary_node(
                "dataset",
                [
                    "ocr2_export_python",
                    "ocr2_export_cpp",
                    "preference_pairs",
                    "preference_rejects",
                    "dataset_card",
                    "dataset_overview_plot",
                ],
                metrics={
                    "dataset_metrics": (
                        summarize_dataset,
                        ["dataset_statistics", "preference_statistics"],
                    ),
                    "pattern_metrics": (pattern_metrics, ["reasoning_patterns_summary"]),
                },
            ),
        ]
    )
