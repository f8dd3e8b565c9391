"""Training on the tiny model: the loss goes down, and an interrupted run resumes from its checkpoint."""

from __future__ import annotations

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, TrainerCallback

from ocr2_kedro.training import (
    TrainerSettings,
    build_critique_examples,
    build_generation_examples,
    last_checkpoint,
    tokenize_examples,
    train_sft,
)


@pytest.fixture(scope="module")
def rows(tiny_model_dir, request):
    from tests.training.conftest import export_row

    export = [
        export_row("g1", "q1", critique="Looks right.\nJudgement: right", judgement="right"),
        export_row("g2", "q2"),
        export_row("g3", "q3", language="cpp"),
    ]
    examples = build_generation_examples(export).examples + build_critique_examples(export).examples
    tokenized, _ = tokenize_examples(AutoTokenizer.from_pretrained(tiny_model_dir), examples, 256)
    return tokenized


def mean_loss(model_dir, rows) -> float:
    """Mean loss per trained token over `rows`, one example at a time (no packing involved)."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    total = count = 0.0
    with torch.no_grad():
        for row in rows:
            labels = torch.tensor([row["labels"]])
            out = model(input_ids=torch.tensor([row["input_ids"]]), labels=labels)
            n = int((labels[0, 1:] != -100).sum())
            total, count = total + float(out.loss) * n, count + n
    return total / count


SETTINGS = TrainerSettings(
    max_length=256,
    max_steps=8,
    per_device_train_batch_size=2,
    learning_rate=3e-3,
    lr_scheduler_type="constant",
    save_steps=4,
    gradient_checkpointing=True,
)


@pytest.mark.slow
def test_training_lowers_the_loss(tiny_model_dir, rows, tmp_path):
    before = mean_loss(tiny_model_dir, rows)
    result = train_sft(str(tiny_model_dir), rows, tmp_path / "run", SETTINGS, stage="stage1")
    after = mean_loss(result.final_dir, rows)
    assert after < before - 0.5, (before, after)
    assert result.global_step == SETTINGS.max_steps
    assert [h["step"] for h in result.history] == [float(s) for s in range(1, 9)]
    assert all("loss" in h and "learning_rate" in h for h in result.history)
    assert 0 < result.metrics["non_padding_share"] <= 1
    assert 0 < result.metrics["packing_efficiency"] <= 1
    assert result.metrics["tokens_per_second"] > 0
    assert result.metrics["bf16"] == 0.0  # no CUDA here: float32
    assert (tmp_path / "run" / "final" / "tokenizer.json").exists()


def test_unpacked_batches_carry_padding(tiny_model_dir, rows, tmp_path):
    settings = TrainerSettings.from_dict(
        {**SETTINGS.to_dict(), "packing": False, "max_steps": 2, "save_steps": 100}
    )
    result = train_sft(str(tiny_model_dir), rows, tmp_path / "run", settings)
    assert result.metrics["packing_efficiency"] == 0.0
    assert 0 < result.metrics["non_padding_share"] < 1


class Crash(RuntimeError):
    pass


class CrashAt(TrainerCallback):
    """Stands in for a killed job: fails right after step `step` has finished."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Crash(f"interrupted at step {self.step}")


@pytest.mark.slow
def test_interrupted_run_resumes_from_its_last_checkpoint(tiny_model_dir, rows, tmp_path):
    output_dir = tmp_path / "run"
    with pytest.raises(Crash):
        train_sft(str(tiny_model_dir), rows, output_dir, SETTINGS, callbacks=[CrashAt(6)])
    assert last_checkpoint(output_dir).endswith("checkpoint-4")
    assert not (output_dir / "final").exists()

    resumed = train_sft(str(tiny_model_dir), rows, output_dir, SETTINGS)
    assert resumed.resumed_from.endswith("checkpoint-4")
    assert resumed.global_step == SETTINGS.max_steps
    assert resumed.metrics["steps_this_run"] == SETTINGS.max_steps - 4
    assert [h["step"] for h in resumed.history] == [float(s) for s in range(5, 9)]

    # Same data order, optimizer and RNG state: the resumed run ends where an uninterrupted one does.
    straight = train_sft(str(tiny_model_dir), rows, tmp_path / "straight", SETTINGS)
    assert resumed.history[-1]["loss"] == pytest.approx(straight.history[-1]["loss"], rel=1e-4)
