"""The sandbox as the users it protects run it: the attack matrix as root (CI) and as a normal user
(an unused uid, no capabilities: a laptop or a Slurm job), and a host that refuses unprivileged user
namespaces. Every attack must fail in both modes; the suite fails if one gets through."""

from __future__ import annotations

import json
import os
import sys
import uuid

import pytest

from ocr2_kedro.execution import Verifier
from tests.support.attacks import BLOCKED_VERDICTS, PROJECT_DATA, run_matrix
from tests.support.parameters import merged, raw_parameters
from tests.support.unprivileged import run_unprivileged

root_only = pytest.mark.skipif(
    os.geteuid() != 0, reason="drops root to an unused uid (as a normal user the matrix test is it)"
)


def _assert_all_blocked(matrix: dict[str, dict]) -> None:
    assert set(matrix) == set(BLOCKED_VERDICTS)
    through = {name: row for name, row in matrix.items() if not row["blocked"]}
    assert through == {}, json.dumps(matrix, indent=1)


def test_attack_matrix_in_this_process(cpp_cache_dir):
    """Root in CI (leased uid, cgroups), or whoever runs the suite."""
    with Verifier(cache_dir=str(cpp_cache_dir), use_pch=False) as verifier:
        layers = verifier.isolation
        assert {"net_ns", "pid_ns", "mount_ns", "minimal_root", "private_tmp"} <= set(layers)
        _assert_all_blocked(run_matrix(verifier))


def _run_attacks_unprivileged(*args: str, no_user_namespaces: bool = False) -> dict:
    secret = f"secret{uuid.uuid4().hex}"
    # Made here, as the owner of the project: a file under data/ any local user could read.
    project_file = PROJECT_DATA / f".attack_expected_{uuid.uuid4().hex}.txt"
    project_file.parent.mkdir(parents=True, exist_ok=True)
    project_file.write_text(secret)
    os.chmod(project_file, 0o644)
    try:
        completed = run_unprivileged(
            [sys.executable, "-m", "tests.support.attacks", *args],
            env={"OCR2_ATTACK_SECRET": secret, "OCR2_ATTACK_PROJECT_FILE": str(project_file)},
            no_user_namespaces=no_user_namespaces,
            timeout=300,
        )
    finally:
        project_file.unlink()
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout)


@root_only
def test_attack_matrix_as_an_unprivileged_user():
    report = _run_attacks_unprivileged()
    assert report["uid"] != 0
    layers = set(report["layers"])
    assert {"user_ns", "no_caps", "net_ns", "pid_ns", "minimal_root", "nproc_limit"} <= layers
    # As a normal user there are no cgroups and no leased uid: the row says so.
    assert not {"setuid", "cgroup_memory", "cgroup_pids"} & layers
    _assert_all_blocked(report["attacks"])


@root_only
def test_no_user_namespaces_stops_before_the_first_solution():
    report = _run_attacks_unprivileged(no_user_namespaces=True)
    message = report["unavailable"]
    for missing in ("network namespace", "file system view", "PID namespace", "identity"):
        assert missing in message
    assert "verify.allow_weak_isolation: true" in message
    assert "user.max_user_namespaces" in message
    assert "attacks" not in report


@root_only
def test_weak_isolation_is_explicit_and_recorded_truthfully():
    """Accepted explicitly, the weak sandbox runs, says what it lacks on every row, and the matrix
    sees the leak that follows (so it can fail)."""
    report = _run_attacks_unprivileged(
        "--allow-weak", "--only", "read_caller_private_file", no_user_namespaces=True
    )
    layers = set(report["layers"])
    assert not {"net_ns", "mount_ns", "minimal_root", "private_tmp", "pid_ns", "user_ns"} & layers
    assert {"rlimits", "empty_env", "session"} <= layers
    assert report["attacks"]["read_caller_private_file"]["blocked"] is False


def test_unprivileged_helper_refuses_without_root():
    if os.geteuid() == 0:
        pytest.skip("as root the helper drops privileges (the tests above)")
    with pytest.raises(PermissionError):
        run_unprivileged(["true"])


@root_only
def test_a_run_that_verifies_stops_before_its_first_node():
    """The verify pipeline's start-up check on a host without user namespaces: what Kedro calls
    before any node (the project's ParametersHook, then the preflight) raises with what is
    missing; nothing was judged. With `allow_weak_isolation` it starts."""
    parameters = raw_parameters("base")
    weak = merged(parameters, {"verify": {"allow_weak_isolation": True}})
    script = (
        "import json, os\n"
        "from kedro.io import DataCatalog\n"
        "from ocr2_kedro.hooks import ParametersHook\n"
        "from ocr2_kedro.pipelines.verify.pipeline import create_pipeline\n"
        "from ocr2_kedro.preflight import PreflightError, check_run\n"
        "def start(parameters):\n"
        "    catalog = DataCatalog()\n"
        "    catalog['params:verify'] = parameters['verify']\n"
        "    hook = ParametersHook()\n"
        "    hook.after_catalog_created(catalog, {'parameters': parameters})\n"
        "    check_run(hook.settings, create_pipeline(), catalog, hook.problems)\n"
        "strict, weak = json.loads(os.environ['OCR2_TEST_PARAMETERS'])\n"
        "try:\n"
        "    start(strict)\n"
        "    print('STARTED')\n"
        "except PreflightError as error:\n"
        "    print('REFUSED', error)\n"
        "start(weak)\n"
        "print('WEAK STARTED')\n"
    )
    completed = run_unprivileged(
        [sys.executable, "-c", script],
        no_user_namespaces=True,
        env={"OCR2_TEST_PARAMETERS": json.dumps([parameters, weak])},
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    assert "REFUSED" in completed.stdout and "The sandbox cannot isolate" in completed.stdout
    assert "STARTED" not in completed.stdout.replace("WEAK STARTED", "")
    assert "WEAK STARTED" in completed.stdout


@root_only
def test_an_unprivileged_sandbox_refuses_nested_user_namespaces():
    """The sandbox's user namespace allows no user namespace below it: a test cannot give itself
    capabilities over namespaces of its own."""
    code = (
        "import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print(3 if libc.unshare(0x10000000) != 0 else 'made one')\n"
    )
    script = (
        "import tempfile\n"
        "from ocr2_kedro.execution import Verifier\n"
        "with Verifier(cache_dir=tempfile.mkdtemp(), use_pch=False) as verifier:\n"
        "    print(verifier.isolation)\n"
        f"    print(verifier.run_tests({code!r}, 'python', [{{'input': '', 'output': '3'}}]).verdict)\n"
    )
    completed = run_unprivileged([sys.executable, "-c", script], timeout=300)
    assert completed.returncode == 0, completed.stderr[-2000:]
    layers, verdict = completed.stdout.strip().splitlines()[-2:]
    assert "no_nested_userns" in layers
    assert verdict == "AC"
