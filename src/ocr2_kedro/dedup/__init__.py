"""Dedup engine: normalization, exact hashing, MinHash-LSH blocking, rapidfuzz verification,
clustering, benchmark decontamination and an embedding-based semantic pass. Kedro-free."""

from __future__ import annotations

from ocr2_kedro.dedup.minhash import (
    MinHasher,
    boilerplate_mask,
    lsh_candidate_pairs,
    lsh_candidate_probability,
    shingle_document_frequency,
)
from ocr2_kedro.dedup.near import (
    NearDuplicateThresholds,
    cluster_near_duplicates,
    connected_clusters,
    estimated_jaccard,
    exhaustive_near_duplicates,
    exhaustive_pairs,
    find_near_duplicate_pairs,
    verify_pairs,
)
from ocr2_kedro.dedup.normalize import normalize_text, text_hash
from ocr2_kedro.dedup.sentences import numbers_in, sentence_scores, split_sentences

__all__ = [
    "MinHasher",
    "NearDuplicateThresholds",
    "boilerplate_mask",
    "cluster_near_duplicates",
    "connected_clusters",
    "estimated_jaccard",
    "exhaustive_near_duplicates",
    "exhaustive_pairs",
    "find_near_duplicate_pairs",
    "lsh_candidate_pairs",
    "lsh_candidate_probability",
    "normalize_text",
    "numbers_in",
    "sentence_scores",
    "shingle_document_frequency",
    "split_sentences",
    "text_hash",
    "verify_pairs",
]
