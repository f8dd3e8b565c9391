"""Packed examples must not see each other: a packed batch gives each example its unpacked loss."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer
from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

from ocr2_kedro.training import build_generation_examples, tokenize_examples
from ocr2_kedro.training.trainer import REAL_TOKENS_KEY, RowPackingCollator


def _token_losses(model, batch) -> torch.Tensor:
    """Per-position next-token losses (0 where the label is ignored)."""
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        # As in SFTTrainer.compute_loss: with a KV cache transformers skips the packed-sequence mask.
        logits = model(**inputs, use_cache=False).logits
    shifted_logits, shifted_labels = logits[0, :-1], batch["labels"][0, 1:]
    return torch.nn.functional.cross_entropy(
        shifted_logits.float(), shifted_labels, ignore_index=-100, reduction="none"
    )


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_packed_batch_gives_the_unpacked_per_example_loss(
    tiny_model_dir, export_rows, attn_implementation
):
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, dtype=torch.float32, attn_implementation=attn_implementation
    ).eval()
    rows, _ = tokenize_examples(tokenizer, build_generation_examples(export_rows).examples[:3], 512)
    pad = tokenizer.pad_token_id

    unpacked = DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=False)
    alone = [_token_losses(model, unpacked([row])) for row in rows]

    # What TRL's bfd packing produces: one row holding several examples plus their lengths; the
    # padding-free collator turns it into one sequence whose position ids restart per example.
    packed_row = {
        "input_ids": sum((r["input_ids"] for r in rows), []),
        "labels": sum((r["labels"] for r in rows), []),
        "seq_lengths": [len(r["input_ids"]) for r in rows],
    }
    packed_batch = DataCollatorForLanguageModeling(pad_token_id=pad, padding_free=True)(
        [packed_row]
    )
    assert "attention_mask" not in packed_batch
    packed = _token_losses(model, packed_batch)

    start = 0
    for own in alone:
        length = own.numel() + 1
        # Inside each example the losses agree; the boundary position is ignored in both.
        torch.testing.assert_close(packed[start : start + length - 1], own, atol=1e-4, rtol=1e-4)
        start += length

    # Control: the same tokens as one plain causal sequence (positions not restarted) attend across
    # examples, and the later examples' losses change. Without it this test could not fail.
    plain = dict(packed_batch)
    plain["position_ids"] = torch.arange(packed_batch["input_ids"].shape[1])[None]
    across = _token_losses(model, plain)
    second = slice(alone[0].numel() + 1, alone[0].numel() + alone[1].numel() + 1)
    assert not torch.allclose(across[second], packed[second], atol=1e-4)


@pytest.mark.parametrize("attn_implementation", ["sdpa", "eager"])
def test_row_packing_collator_keeps_examples_apart(
    tiny_model_dir, export_rows, attn_implementation
):
    """The sdpa/eager path: packed rows batched row by row, right-padded, no attention mask."""
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    model = AutoModelForCausalLM.from_pretrained(
        tiny_model_dir, dtype=torch.float32, attn_implementation=attn_implementation
    ).eval()
    rows, _ = tokenize_examples(tokenizer, build_generation_examples(export_rows).examples, 512)
    unpacked = DataCollatorForLanguageModeling(
        pad_token_id=tokenizer.pad_token_id, padding_free=False
    )
    alone = [_token_losses(model, unpacked([row])) for row in rows]

    packed_rows = [
        {
            "input_ids": rows[0]["input_ids"] + rows[1]["input_ids"],
            "labels": rows[0]["labels"] + rows[1]["labels"],
            "seq_lengths": [len(rows[0]["input_ids"]), len(rows[1]["input_ids"])],
        },
        {**rows[2], "seq_lengths": [len(rows[2]["input_ids"])]},  # shorter: gets padding
    ]
    batch = RowPackingCollator(tokenizer.pad_token_id)(packed_rows)
    assert "attention_mask" not in batch
    assert int(batch.pop(REAL_TOKENS_KEY)) == sum(len(r["input_ids"]) for r in rows[:3])
    inputs = {k: v for k, v in batch.items() if k != "labels"}
    with torch.no_grad():
        logits = model(**inputs, use_cache=False).logits
    losses = torch.nn.functional.cross_entropy(
        logits[:, :-1].transpose(1, 2), batch["labels"][:, 1:], ignore_index=-100, reduction="none"
    )
    first = len(rows[0]["input_ids"])
    torch.testing.assert_close(losses[0, : first - 1], alone[0], atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(
        losses[0, first : first + alone[1].numel()], alone[1], atol=1e-4, rtol=1e-4
    )
    torch.testing.assert_close(losses[1, : alone[2].numel()], alone[2], atol=1e-4, rtol=1e-4)
    assert (losses[1, alone[2].numel() :] == 0).all()  # padding carries no loss
