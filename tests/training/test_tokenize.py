from __future__ import annotations

import pytest
from transformers import AutoTokenizer

from ocr2_kedro.training import IGNORE_INDEX, build_generation_examples, tokenize_examples
from ocr2_kedro.training.tokenize import packing_efficiency, padded_share


@pytest.fixture(scope="module")
def tokenizer(tiny_model_dir):
    return AutoTokenizer.from_pretrained(tiny_model_dir)


def test_prompt_tokens_are_masked_and_the_assistant_turn_is_trained(tokenizer, export_rows):
    example = build_generation_examples(export_rows).examples[0]
    (row,), skipped = tokenize_examples(tokenizer, [example], max_length=1024)
    assert skipped == []
    ids, labels = row["input_ids"], row["labels"]
    full = tokenizer.apply_chat_template(example["prompt"] + example["completion"], tokenize=False)
    assert tokenizer.decode(ids) == full
    prompt_len = labels.index(next(label for label in labels if label != IGNORE_INDEX))
    prompt = tokenizer.apply_chat_template(
        example["prompt"], tokenize=False, add_generation_prompt=True
    )
    # Everything up to and including the assistant header is masked, nothing after it.
    assert tokenizer.decode(ids[:prompt_len]) == prompt
    assert all(label == IGNORE_INDEX for label in labels[:prompt_len])
    assert labels[prompt_len:] == ids[prompt_len:]
    trained = tokenizer.decode(ids[prompt_len:])
    assert trained.startswith(example["completion"][0]["content"])
    # The end-of-turn token is trained, so the student learns to stop.
    assert tokenizer.convert_tokens_to_ids("<|im_end|>") in labels[prompt_len:]


def test_truncation_keeps_the_start_and_skips_examples_with_nothing_to_train(
    tokenizer, export_rows
):
    examples = build_generation_examples(export_rows).examples[:2]
    full, _ = tokenize_examples(tokenizer, examples, max_length=4096)
    prompt_len = sum(label == IGNORE_INDEX for label in full[0]["labels"])
    cut, skipped = tokenize_examples(tokenizer, examples, max_length=prompt_len + 3)
    assert len(cut[0]["input_ids"]) == prompt_len + 3
    assert cut[0]["input_ids"] == full[0]["input_ids"][: prompt_len + 3]
    assert sum(label != IGNORE_INDEX for label in cut[0]["labels"]) == 3
    none_left, skipped = tokenize_examples(tokenizer, examples[:1], max_length=prompt_len)
    assert (
        none_left == [] and skipped[0]["id"] == "g1" and "fills max_length" in skipped[0]["reason"]
    )


def test_padding_and_packing_shares():
    assert padded_share([[4, 2], [3]]) == pytest.approx(9 / 11)
    assert packing_efficiency([8, 6], 8) == pytest.approx(14 / 16)
