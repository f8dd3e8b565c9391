"""Generation requests at paper scale: the lazy expansion of per-question prompts (this project)
against the table of one row per sample built in Python (commit 92d9dec), measured in the same run.

OCR-2 asks the teacher for ~2.5M samples of ~35K questions in two languages (~72 samples per question
and language). Each case runs in a fresh process: build the requests of `--questions` questions x 2
languages x `--samples` samples and stream them in 64-request chunks as `generate_solutions` does
(no generation), reporting wall time and peak RSS (VmHWM).

    .venv/bin/python benchmarks/generation_requests.py --questions 17500 --samples 72
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

CHILD = r"""
import json, sys, time
import polars as pl

def baseline(problems, language, params):
    # 92d9dec's build_generation_requests + combine_requests, without the token budget: one Python
    # dict per sample, each holding the question's prompt.
    from ocr2_kedro.generation.prompts import solution_prompt
    from ocr2_kedro.pipelines.generation.nodes import REQUEST_SCHEMA
    from ocr2_kedro.schemas import stable_id
    rows = []
    for problem in problems.iter_rows(named=True):
        prompt = solution_prompt(problem["question"], language, problem["test_type"],
                                 problem["starter_code"] or "", problem["fn_name"])
        for sample_idx in range(int(params["samples_per_question"])):
            rows.append({
                "generation_id": stable_id(problem["question_id"], language, sample_idx, params["model"]),
                "question_id": problem["question_id"], "language": language,
                "sample_idx": sample_idx, "seed": sample_idx, "prompt": prompt, "prompt_tokens": None})
    return pl.DataFrame(rows, schema=REQUEST_SCHEMA)

def main():
    implementation, questions, samples = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    from ocr2_kedro.generation.resumable import frame_chunks
    from ocr2_kedro.pipelines.generation.nodes import build_generation_requests, combine_requests
    problems = pl.DataFrame({
        "question_id": [f"q{i}" for i in range(questions)],
        # ~1.5 KB per question, as in OCR-2
        "question": [("Given an array of integers, print the answer. " * 32) + str(i) for i in range(questions)],
        "test_type": ["stdin"] * questions, "starter_code": [None] * questions,
        "fn_name": [None] * questions, "source": ["synthetic"] * questions})
    params = {"languages": ["python", "cpp"], "samples_per_question": samples,
              "sampling": {"seed": 0}, "model": "teacher"}
    # The same settings as the run's model: conf/base's generation settings with these over them.
    import yaml
    from ocr2_kedro.parameters import validate_settings
    from ocr2_kedro.parameters.generation import GenerationSettings
    base = yaml.safe_load(open("conf/base/parameters_generation.yml"))["generation"]
    settings = validate_settings(GenerationSettings, {
        **base, **params, "sampling": {**base["sampling"], "seed": 0}, "max_question_tokens": None,
    }, "generation")
    began = time.perf_counter()
    if implementation == "lazy":
        parts = [build_generation_requests(problems, lang, settings)[0] for lang in ("python", "cpp")]
        requests = combine_requests(["python", "cpp"], *parts)
    else:
        requests = pl.concat([baseline(problems, lang, params) for lang in ("python", "cpp")])
    count = sum(chunk.height for chunk in frame_chunks(requests, 64))
    wall = time.perf_counter() - began
    with open("/proc/self/status") as handle:
        peak_kb = next(int(line.split()[1]) for line in handle if line.startswith("VmHWM:"))
    print("RESULT " + json.dumps({"requests": count, "wall_s": wall, "peak_mb": peak_kb / 1024}))

if __name__ == "__main__":
    main()
"""


def run(implementation: str, questions: int, samples: int) -> dict:
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, implementation, str(questions), str(samples)],
        cwd=Path(__file__).resolve().parents[1],  # the child reads conf/base
        capture_output=True,
        text=True,
        check=True,
    )
    line = next(x for x in completed.stdout.splitlines() if x.startswith("RESULT "))
    return json.loads(line.removeprefix("RESULT "))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=17_500, help="per language")
    parser.add_argument("--samples", type=int, default=72, help="per question and language")
    args = parser.parse_args()
    results = {}
    for implementation in ("lazy", "baseline"):
        started = time.perf_counter()
        results[implementation] = run(implementation, args.questions, args.samples)
        print(
            f"{implementation:8s} {results[implementation]['requests']:,} requests: "
            f"{results[implementation]['wall_s']:.1f} s, peak {results[implementation]['peak_mb']:,.0f} MB "
            f"(process {time.perf_counter() - started:.1f} s)"
        )
    lazy, baseline = results["lazy"], results["baseline"]
    print(
        f"baseline / lazy: time {baseline['wall_s'] / lazy['wall_s']:.2f}x, "
        f"peak {baseline['peak_mb'] / lazy['peak_mb']:.2f}x"
    )


if __name__ == "__main__":
    main()
