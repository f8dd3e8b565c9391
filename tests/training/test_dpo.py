"""DPO on a tiny model with TRL's DPOTrainer: the loss falls and the trained model prefers the chosen
answers over the rejected ones more than the SFT model it started from; a launched rank (worker.py)
resumes from the stage's last checkpoint; bad settings and too few pairs fail before a model loads."""

from __future__ import annotations

import json

import polars as pl
import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from ocr2_kedro.models import build_tiny_llama
from ocr2_kedro.training import (
    DistributedSettings,
    DPOSettings,
    TrainerSettings,
    launch_stage,
    load_preference_dataset,
    train_dpo,
)
from ocr2_kedro.training import worker as worker_module

CHOSEN = "a, b = map(int, input().split())\nprint(a + b)"
REJECTED = "print(input())"


def _messages(role: str, text: str) -> list[dict[str, str]]:
    return [{"role": role, "content": text}]


def pairs_frame(count: int = 4) -> pl.DataFrame:
    """Preference pairs in the `preference_pairs` layout (TRL's conversational preference format,
    plus the id / pass-rate / judgement columns TRL ignores)."""
    return pl.DataFrame(
        [
            {
                "pair_id": f"p{i}",
                "question_id": f"q{i}",
                "language": "python",
                "prompt": _messages("user", f"Problem {i}: read a and b, print a + b."),
                "chosen": _messages("assistant", CHOSEN),
                "rejected": _messages("assistant", REJECTED),
                "chosen_id": f"g{i}a",
                "rejected_id": f"g{i}b",
                "chosen_pass_rate": 1.0,
                "rejected_pass_rate": 0.0,
                "chosen_judgement": "right",
                "rejected_judgement": "wrong",
                "difficulty": "easy",
                "pair_source": "execution",
            }
            for i in range(count)
        ]
    )


@pytest.fixture(scope="module")
def tiny_dpo_model(tmp_path_factory, embedded_model_dir):
    """Hidden size 32, 2 layers: a DPO step in well under a second on one core."""
    return build_tiny_llama(tmp_path_factory.mktemp("tiny-dpo"), embedded_model_dir, hidden_size=32)


@pytest.fixture
def pairs_file(tmp_path):
    path = tmp_path / "pairs" / "pairs.parquet"
    path.parent.mkdir()
    pairs_frame().write_parquet(path)
    return path


SETTINGS = TrainerSettings(
    max_length=128,
    max_steps=8,
    per_device_train_batch_size=2,
    learning_rate=1e-3,
    lr_scheduler_type="constant",
    gradient_checkpointing=False,
    save_steps=4,
)


def preference_gap(model_dir, frame: pl.DataFrame) -> float:
    """Mean over pairs of log p(chosen answer) - log p(rejected answer), computed here from the
    chat template, independently of TRL."""
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()

    def token_ids(messages, **kwargs) -> list[int]:
        text = tokenizer.apply_chat_template(messages, tokenize=False, **kwargs)
        return tokenizer(text, add_special_tokens=False)["input_ids"]

    def answer_logp(prompt, answer) -> float:
        start = len(token_ids(prompt, add_generation_prompt=True))
        ids = torch.tensor([token_ids(prompt + answer)])
        with torch.no_grad():
            logps = torch.log_softmax(model(input_ids=ids).logits[0, :-1], dim=-1)
        targets = ids[0, 1:]
        return float(logps[start - 1 :].gather(1, targets[start - 1 :, None]).sum())

    gaps = [
        answer_logp(row["prompt"], row["chosen"]) - answer_logp(row["prompt"], row["rejected"])
        for row in frame.iter_rows(named=True)
    ]
    return sum(gaps) / len(gaps)


@pytest.mark.slow
def test_dpo_loss_falls_and_the_model_prefers_the_chosen_answers(
    tiny_dpo_model, pairs_file, tmp_path
):
    # In this process through the launcher, as the Kedro node runs it with launcher `none`.
    result = launch_stage(
        str(tiny_dpo_model),
        str(pairs_file),
        tmp_path / "run",
        SETTINGS,
        DistributedSettings(),
        "dpo",
        dpo=DPOSettings(beta=0.1),
    )
    losses = [h["loss"] for h in result.history]
    margins = [h["rewards_margins"] for h in result.history]
    assert len(losses) == SETTINGS.max_steps
    # Step 1: policy = reference, so the loss is log 2 and the margin 0; then the loss falls.
    assert losses[0] == pytest.approx(0.6931, abs=1e-3) and margins[0] == pytest.approx(0.0)
    assert sum(losses[-2:]) / 2 < 0.7 * sum(losses[:2]) / 2
    assert margins[-1] > margins[1] > 0 and result.history[-1]["rewards_accuracies"] == 1.0
    # The saved model, scored outside TRL: the chosen answers gained on the rejected ones. A
    # trainer that ignored or swapped the preference would leave this gap flat or lower it.
    before = preference_gap(tiny_dpo_model, pairs_frame())
    after = preference_gap(result.final_dir, pairs_frame())
    assert after > before + 1.0
    metrics = result.metrics
    assert metrics["pairs"] == metrics["trained_pairs"] == 4
    assert metrics["last_rewards_margins"] > 0 and metrics["first_loss"] > metrics["last_loss"]
    # The Arrow copy datasets memory-maps sits beside the pairs file, three columns only.
    assert (pairs_file.parent / "arrow_cache").is_dir()
    assert load_preference_dataset(pairs_file).column_names == ["prompt", "chosen", "rejected"]


@pytest.mark.slow
def test_a_launched_dpo_rank_resumes_from_the_last_checkpoint(
    tiny_dpo_model, pairs_file, tmp_path, monkeypatch
):
    # The spec a deepspeed/torchrun launch hands every rank, run by the worker's entry point.
    output_dir = tmp_path / "run"
    monkeypatch.delenv("RANK", raising=False)

    def run_worker(max_steps: int) -> dict:
        settings = TrainerSettings(
            **{**SETTINGS.to_dict(), "max_steps": max_steps, "save_steps": 2}
        )
        spec = {
            "kind": "dpo",
            "model_path": str(tiny_dpo_model),
            "dataset_path": str(pairs_file),
            "output_dir": str(output_dir),
            "settings": settings.to_dict(),
            "dpo": DPOSettings(beta=0.2).to_dict(),
            "deepspeed_config": None,
            "stage": "dpo",
            "result_path": str(tmp_path / "result.json"),
        }
        (tmp_path / "spec.json").write_text(json.dumps(spec))
        worker_module.main([str(tmp_path / "spec.json")])
        return json.loads((tmp_path / "result.json").read_text())

    first = run_worker(2)
    assert first["resumed_from"] is None and (output_dir / "checkpoint-2").is_dir()
    resumed = run_worker(4)
    assert resumed["resumed_from"].endswith("checkpoint-2")
    assert resumed["global_step"] == 4 and resumed["metrics"]["steps_this_run"] == 2
    assert (output_dir / "final" / "model.safetensors").is_file()


def test_an_unknown_dpo_setting_is_refused():
    # Bad values (beta, loss types and weights, min_pairs, label_smoothing) are refused by the
    # training settings model: tests/parameters/test_training.py.
    with pytest.raises(ValueError, match="unknown dpo settings"):
        DPOSettings.from_dict({"max_prompt_length": 64})


def test_combined_losses_round_trip_through_the_spec():
    settings = DPOSettings.from_dict({"loss_type": ["sigmoid", "sft"], "loss_weights": [1, 0.5]})
    assert DPOSettings.from_dict(settings.to_dict()) == settings


def test_too_few_pairs_or_a_wrong_layout_fail_before_any_model_loads(tmp_path, pairs_file):
    missing_model = str(tmp_path / "no-such-model")
    with pytest.raises(ValueError, match="4 preference pairs, fewer than min_pairs=5"):
        train_dpo(missing_model, pairs_file, tmp_path / "run", SETTINGS, DPOSettings(min_pairs=5))
    flat = tmp_path / "flat.parquet"
    pl.DataFrame({"question": ["q"], "answer": ["a"]}).write_parquet(flat)
    with pytest.raises(ValueError, match=r"lack the columns \['chosen', 'prompt', 'rejected'\]"):
        train_dpo(missing_model, flat, tmp_path / "run", SETTINGS, DPOSettings())
