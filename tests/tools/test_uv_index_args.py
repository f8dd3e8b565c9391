"""tools/uv_index_args.py: pip's effective index settings become uv options."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[2] / "tools" / "uv_index_args.py"
spec = importlib.util.spec_from_file_location("uv_index_args", SCRIPT)
uv_index_args = importlib.util.module_from_spec(spec)
spec.loader.exec_module(uv_index_args)


def test_the_environment_wins_over_files_and_lists_split_into_options():
    listing = "\n".join(
        [
            ":env:.find-links='/opt/wheels'",
            ":env:.default-timeout='180'",
            "global.find-links='/elsewhere'",
            "global.extra-index-url='file:///a/simple file:///b/simple'",
            "install.index-url='https://mirror.example/simple'",
            "global.index-url='https://ignored.example/simple'",
        ]
    )
    settings = uv_index_args.pip_settings(listing)
    assert settings == {
        "find-links": ["/opt/wheels"],
        "extra-index-url": ["file:///a/simple", "file:///b/simple"],
        "index-url": ["https://mirror.example/simple"],
    }
    assert uv_index_args.uv_arguments(settings) == [
        "--find-links",
        "/opt/wheels",
        "--extra-index-url",
        "file:///a/simple",
        "--extra-index-url",
        "file:///b/simple",
        "--index-url",
        "https://mirror.example/simple",
    ]


def test_no_configuration_gives_no_options():
    # pip reads no configuration file when PIP_CONFIG_FILE is the null device.
    environment = {"PIP_CONFIG_FILE": os.devnull, "PATH": "/usr/bin:/bin"}
    completed = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, env=environment, check=True
    )
    assert completed.stdout.strip() == ""
