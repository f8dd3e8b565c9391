import numpy as np
import pytest

from ocr2_kedro.dedup.semantic import embed, judge_pairs, similar_pairs


def test_similar_pairs_on_unit_vectors():
    vectors = np.array([[1.0, 0.0], [0.8, 0.6], [0.0, 1.0], [0.6, 0.8]], dtype=np.float32)
    pairs, scores = similar_pairs(vectors, threshold=0.7, chunk_size=3)
    assert pairs.tolist() == [[0, 1], [1, 3], [2, 3]]
    assert np.allclose(scores, [0.8, 0.96, 0.8], atol=1e-6)


@pytest.mark.slow
def test_minilm_embeddings_separate_paraphrases_from_other_problems():
    vectors = embed(
        [
            "Count the primes not greater than n.",
            "How many prime numbers are there that do not exceed n?",
            "Reverse the given string of lowercase letters.",
        ]
    )
    assert vectors.shape == (3, 384)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    similarity = vectors @ vectors.T
    assert similarity[0, 1] >= 0.7 > similarity[0, 2]


@pytest.mark.slow
def test_llm_judge_runs_through_the_generation_backend(embedded_model_dir):
    from ocr2_kedro.generation import SamplingConfig, create_backend

    pairs = [
        ("Print the sum of a and b.", "Output a plus b."),
        ("Sort an array.", "Find a shortest path in a graph."),
    ]
    with create_backend({"backend": "transformers", "model": str(embedded_model_dir)}) as backend:
        verdicts = judge_pairs(
            backend, pairs, SamplingConfig(temperature=0.0, top_p=1.0, max_tokens=4)
        )
    # A 135M model's answers are not meaningful; the plumbing is: one verdict per pair, parsed or None.
    assert len(verdicts) == 2 and all(v in (True, False, None) for v in verdicts)
