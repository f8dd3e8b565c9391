from kedro.pipeline import Node, Pipeline

from .nodes import build_export, split_by_language, summarize_dataset


def create_pipeline(**kwargs) -> Pipeline:
    return Pipeline(
        [
            Node(
                build_export,
                inputs=["problems_dedup", "generations", "verifications"],
                outputs="ocr2_export",
                name="build_export",
            ),
            Node(
                split_by_language,
                inputs="ocr2_export",
                outputs=["ocr2_export_python", "ocr2_export_cpp"],
                name="split_export_by_language",
            ),
            Node(
                summarize_dataset,
                inputs="ocr2_export",
                outputs="dataset_metrics",
                name="summarize_dataset",
            ),
        ]
    )
