"""vLLM engine start-up on CPU: in-process engines (this project's CPU default) against vLLM's own
multiprocess engine, measured in the same run.

A run of the embedded chain opens several engines one after another (teacher per language, critic,
one per evaluated model). Each case below starts `--engines` engines in a row in one fresh Python
process, completes one short request with each, and reports the wall time of every start (the first
includes importing vLLM). Peak RSS is the child's own.

    .venv/bin/python benchmarks/vllm_engine_start.py --engines 3
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

CHILD = r"""
import json, sys, time
from ocr2_kedro.generation import ChatRequest, SamplingConfig, create_backend

def main():
    in_process = json.loads(sys.argv[1])
    engines = int(sys.argv[2])
    config = {"backend": "vllm", "model": "embedded", "vllm": {
        "dtype": "float32", "enforce_eager": True, "max_model_len": 1024,
        "cpu_kvcache_space_gib": 1, "in_process": in_process}}
    request = [ChatRequest("r", ({"role": "user", "content": "Write hello world in Python."},))]
    starts = []
    for _ in range(engines):
        began = time.perf_counter()
        with create_backend(config) as backend:
            starts.append(time.perf_counter() - began)
            backend.generate(request, SamplingConfig(max_tokens=8))
    print("RESULT " + json.dumps(starts), flush=True)

if __name__ == "__main__":
    main()
"""


def run_case(in_process: bool, engines: int) -> dict:
    began = time.perf_counter()
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, json.dumps(in_process), str(engines)],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - began
    lines = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    if completed.returncode != 0 or not lines:
        sys.stderr.write(completed.stderr[-4000:])
        raise SystemExit(f"case in_process={in_process} failed (exit {completed.returncode})")
    peak_gib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20
    return {"starts": json.loads(lines[0][len("RESULT ") :]), "wall": wall, "peak_gib": peak_gib}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", type=int, default=3, help="engines started in a row per case")
    args = parser.parse_args()
    # The multiprocess case first: RUSAGE_CHILDREN is a running maximum over finished children.
    spawned = run_case(False, args.engines)
    in_process = run_case(True, args.engines)
    print(f"{'case':<14}{'starts (s)':<28}{'total wall (s)':>15}")
    for name, result in (("multiprocess", spawned), ("in-process", in_process)):
        starts = ", ".join(f"{s:.1f}" for s in result["starts"])
        print(f"{name:<14}{starts:<28}{result['wall']:>15.1f}")
    later = lambda r: sum(r["starts"][1:]) / max(1, len(r["starts"]) - 1)  # noqa: E731
    print(
        f"first start: {spawned['starts'][0] / in_process['starts'][0]:.1f}x faster in-process; "
        f"later starts: {later(spawned) / later(in_process):.1f}x; "
        f"whole case: {spawned['wall'] / in_process['wall']:.1f}x"
    )


if __name__ == "__main__":
    main()
