"""Critique nodes: requests per candidate, judgements parsed, unparseable critiques kept and counted,
critiques written as shards and the table built from them batch by batch."""

from __future__ import annotations

import polars as pl
import pytest

from ocr2_kedro.generation.prompts import JUDGEMENT_FOLLOW_UP
from ocr2_kedro.generation.resumable import IncompleteShardsError
from ocr2_kedro.parameters.critique import CritiqueSettings
from ocr2_kedro.pipelines.critique.nodes import (
    collect_critiques,
    critique_request_chunks,
    critique_solutions,
    summarize_critiques,
)
from ocr2_kedro.schemas import CRITIQUE, GENERATION, PROBLEM, conform
from tests.support.openai_server import serve
from tests.support.parameters import merged, stage_settings


def frames():
    problems = conform(
        [{"question_id": "q1", "question": "Print 1.", "test_type": "stdin"}], PROBLEM
    )
    generations = conform(
        [
            {
                "generation_id": "g-ok",
                "question_id": "q1",
                "language": "python",
                "solution": "print(1)\n",
                "flags": [],
            },
            {
                "generation_id": "g-cpp",
                "question_id": "q1",
                "language": "cpp",
                "solution": "int main(){}\n",
                "flags": ["placeholder"],
            },
            {
                "generation_id": "g-none",
                "question_id": "q1",
                "language": "python",
                "solution": None,
                "flags": ["no_code"],
            },
        ],
        GENERATION,
    )
    return generations, problems


# The test critic's settings (no follow-up turn unless a test asks), over conf/base's.
TEST_CRITIC = {
    "backend": "transformers",
    "model": "critic",
    "sampling": {"temperature": 0.6, "top_p": 0.95, "max_tokens": 8, "seed": 3},
    "judgement_follow_up": {"enabled": False},
    # Every candidate with code, flagged or not (conf/base critiques only unflagged ones).
    "only_unflagged": False,
}


def params(**overrides) -> CritiqueSettings:
    """conf/base's critique settings with TEST_CRITIC and then `overrides` merged over them."""
    return stage_settings("critique", merged(TEST_CRITIC, overrides))


def critiques_of(generations, problems, run_params) -> pl.DataFrame:
    """Both nodes as the pipeline runs them: shards, then the table from its batches."""
    shards = critique_solutions(generations, problems, run_params)
    batches = collect_critiques(generations, problems, shards, run_params)
    assert not isinstance(batches, pl.DataFrame)  # a generator, written batch by batch
    return pl.concat(list(batches))


def test_requests_only_for_candidates_with_code(tmp_path):
    generations, problems = frames()
    path = tmp_path / "generations.parquet"
    generations.write_parquet(path)
    # From a lazy scan (as the catalog gives it) as from a frame, in chunks of table order.
    chunks = list(critique_request_chunks(pl.scan_parquet(path), problems, params(), 1))
    assert [c["generation_id"].to_list() for c in chunks] == [["g-ok"], ["g-cpp"]]
    assert "```cpp\nint main(){}\n```" in chunks[1]["prompt"][0]
    only = pl.concat(critique_request_chunks(generations, problems, params(only_unflagged=True), 4))
    assert only["generation_id"].to_list() == ["g-ok"]


def test_generations_of_unknown_questions_are_a_clear_error(tmp_path):
    generations, problems = frames()
    with pytest.raises(ValueError, match="absent from problems_dedup, e.g. q1"):
        critique_solutions(
            generations, problems.clear(), params(resume={"shard_dir": str(tmp_path)})
        )


class ScriptedCritic:
    """A critic model that answers from a script (served through the real loopback HTTP server)."""

    model_name = "scripted"
    answers = {
        "print(1)": "<think>It prints 1.</think>\n**Judgement:** Right",
        "int main": "The main is empty, so nothing is printed. Hmm.",
    }

    follow_up_answers = {"print(1)": "Judgement: right", "int main": "Judgement: wrong"}

    def generate(self, requests, sampling):
        from ocr2_kedro.generation import Completion

        out = []
        for request in requests:
            # The critique prompt (after the system prompt, when the run has one).
            prompt = next(m["content"] for m in request.messages if m["role"] == "user")
            script = self.answers
            if request.messages[-1]["content"] == JUDGEMENT_FOLLOW_UP:
                # The second turn carries the critique back as the assistant's message.
                assert request.messages[-2]["role"] == "assistant"
                script = self.follow_up_answers
            text = next(a for key, a in script.items() if key in prompt)
            out.append(Completion(request.request_id, text, "stop", len(text.split()), "scripted"))
        return out


# None: the critic's reasoning comes inline (`<think>...</think>`); otherwise the server returns it
# in that field of the message, as `vllm serve --reasoning-parser` does.
@pytest.mark.parametrize("reasoning_field", [None, "reasoning_content", "reasoning"])
def test_critiques_parse_judgements_and_keep_unparseable_ones(tmp_path, reasoning_field):
    generations, problems = frames()
    with serve(ScriptedCritic(), reasoning_field=reasoning_field) as (url, _state):
        run_params = params(
            backend="openai",
            openai={"endpoints": [url], "backoff_s": 0.01},
            resume={"shard_dir": str(tmp_path)},
        )
        critiques = critiques_of(generations, problems, run_params)
    assert critiques.schema == CRITIQUE
    fingerprints = critiques["request_fingerprint"].to_list()
    assert critiques.rows() == [
        (
            "g-ok",
            "critic",
            critiques["critique"][0],
            "It prints 1.",
            "right",
            "critique",
            fingerprints[0],
        ),
        ("g-cpp", "critic", critiques["critique"][1], "", None, None, fingerprints[1]),
    ]
    assert len(set(fingerprints)) == 2 and None not in fingerprints
    metrics = summarize_critiques(critiques)
    assert metrics["unparsed"]["value"] == 1 and metrics["parse_rate"]["value"] == 0.5
    assert metrics["right"]["value"] == 1 and metrics["wrong"]["value"] == 0


def follow_up_params(url: str, tmp_path, **overrides) -> CritiqueSettings:
    """The loopback critic, resumable shards under tmp_path, and the judgement follow-up on."""
    loopback = {
        "backend": "openai",
        "openai": {"endpoints": [url], "backoff_s": 0.01},
        "resume": {"shard_dir": str(tmp_path)},
        "judgement_follow_up": {"enabled": True, "max_tokens": 8},
    }
    return params(**merged(loopback, overrides))


def test_a_critique_without_judgement_is_asked_once_more(tmp_path):
    generations, problems = frames()
    with serve(ScriptedCritic()) as (url, state):
        run_params = follow_up_params(url, tmp_path)
        critiques = critiques_of(generations, problems, run_params)
        # A rerun finds both the critiques and the follow-up answers in the shards: no new requests.
        served = state.requests
        assert critiques_of(generations, problems, run_params).equals(critiques)
        assert state.requests == served
    assert critiques.select("generation_id", "judgement", "judgement_source").rows() == [
        ("g-ok", "right", "critique"),
        ("g-cpp", "wrong", "follow_up"),
    ]
    # The critique text itself is left as the critic wrote it.
    assert "Judgement" not in critiques["critique"][1]
    assert summarize_critiques(critiques)["follow_up"]["value"] == 1


def test_critique_with_a_real_model(tmp_path, tiny_model_dir):
    generations, problems = frames()
    run_params = params(
        model=str(tiny_model_dir),
        resume={"shard_dir": str(tmp_path)},
        judgement_follow_up={"enabled": True, "max_tokens": 4},
    )
    critiques = critiques_of(generations, problems, run_params)
    assert critiques["generation_id"].to_list() == ["g-ok", "g-cpp"]
    assert critiques["critique"].str.len_chars().min() > 0
    # Random weights write no judgement, not even when asked again: kept, with a null judgement.
    assert critiques["judgement"].null_count() == 2
    assert critiques["judgement_source"].null_count() == 2
    assert len(list(tmp_path.glob("*-judgement-*/chunk-*.parquet"))) == 1  # the second turn ran


def test_two_drivers_split_the_critiques_and_a_run_collects_them(tmp_path):
    generations, problems = frames()
    with serve(ScriptedCritic()) as (url, state):

        def run_params(**overrides) -> CritiqueSettings:
            return follow_up_params(
                url,
                tmp_path,
                **merged(
                    {"resume": {"shard_dir": str(tmp_path / "shards"), "chunk_size": 1}}, overrides
                ),
            )

        first = critique_solutions(generations, problems, run_params(drivers={"count": 2}))
        assert (first["completed_chunks"], first["incomplete_chunks"]) == ("0", "1")
        assert state.requests == 1  # g-ok's critique, judged in it
        # A driver does not build the table; a collecting run that must not generate names
        # the chunk no driver finished.
        with pytest.raises(ValueError, match="a driver run writes shards only"):
            collect_critiques(generations, problems, first, run_params(drivers={"count": 2}))
        with pytest.raises(IncompleteShardsError, match=r"1 of 2 chunks are not done.*chunks 1\."):
            critique_solutions(
                generations, problems, run_params(drivers={"require_complete": True})
            )
        second = critique_solutions(
            generations, problems, run_params(drivers={"count": 2, "index": 1})
        )
        assert second["completed_chunks"] == "1"
        assert state.requests == 3  # g-cpp's critique and its follow-up turn

        collecting = run_params(drivers={"require_complete": "true"})  # as oc.env gives it
        shards = critique_solutions(generations, problems, collecting)
        assert shards["requests_sent"] == 0 and shards["chunks_done_before"] == 2
        collected = pl.concat(collect_critiques(generations, problems, shards, collecting))
        assert state.requests == 3
        single = critiques_of(
            generations,
            problems,
            run_params(resume={"shard_dir": str(tmp_path / "one")}),
        )
    assert collected.equals(single)
    assert collected.select("generation_id", "judgement_source").rows() == [
        ("g-ok", "critique"),
        ("g-cpp", "follow_up"),
    ]
    assert summarize_critiques(collected.lazy())["critiques"]["value"] == 2


def test_a_changed_critique_request_is_asked_afresh_and_an_unchanged_one_resumes(tmp_path):
    generations, problems = frames()
    with serve(ScriptedCritic()) as (url, state):
        run_params = follow_up_params(url, tmp_path)

        def critique(
            questions: pl.DataFrame, settings: CritiqueSettings
        ) -> tuple[pl.DataFrame, int]:
            """The critiques table and how many requests reached the critic."""
            before = state.requests
            table = critiques_of(generations, questions, settings)
            return table, state.requests - before

        first, sent = critique(problems, run_params)
        assert sent == 3  # two critiques, one follow-up (g-cpp's critique has no judgement)
        assert first["request_fingerprint"].null_count() == 0

        again, sent = critique(problems, run_params)
        assert sent == 0 and again.equals(first)

        # The question text changed: both critique prompts are new (and so is the follow-up of the
        # critique without a judgement).
        edited = problems.with_columns(question=pl.lit("Print the number 1."))
        changed, sent = critique(edited, run_params)
        assert sent == 3
        assert "Print the number 1." in state.bodies[-2]["messages"][0]["content"]
        assert set(changed["request_fingerprint"]).isdisjoint(first["request_fingerprint"])

        # Another critic temperature, or a system prompt: asked afresh.
        hotter = follow_up_params(url, tmp_path, sampling={"temperature": 0.9})
        assert critique(problems, hotter)[1] == 3
        system = follow_up_params(url, tmp_path, system_prompt="You are a strict reviewer.")
        assert critique(problems, system)[1] == 3

        # Another follow-up token limit: the critiques resume, the follow-up is asked again.
        longer = follow_up_params(url, tmp_path, judgement_follow_up={"max_tokens": 12})
        assert critique(problems, longer)[1] == 1
        assert state.bodies[-1]["max_tokens"] == 12

        # The first settings again: everything resumes.
        assert critique(problems, run_params)[1] == 0
