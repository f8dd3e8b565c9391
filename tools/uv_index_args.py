"""Print the `uv pip install` options that point uv where pip looks for packages.

uv does not read pip's configuration (pip.conf files, PIP_* variables), so a machine whose pip finds
wheels in a local store or mirror (find-links, index-url, extra-index-url) would send uv elsewhere.
This reads pip's effective configuration (`pip config list`, files and environment) and prints the
matching uv options, one shell word per line. Standard library only: it runs before the install.
"""

from __future__ import annotations

import shlex
import subprocess
import sys

# pip option -> uv option; pip's values are whitespace-separated lists.
OPTIONS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
}


# Which section wins for `pip install`: PIP_* variables, then [install], then [global].
SECTION_RANK = {":env:": 0, "install": 1, "global": 2}


def pip_settings(listing: str) -> dict[str, list[str]]:
    """`pip config list` lines (`<section>.<option>='<value>'`) -> option -> values of the section
    that pip's install command would use."""
    ranked: dict[str, tuple[int, list[str]]] = {}
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        section, _, option = key.rpartition(".")
        rank = SECTION_RANK.get(section)
        if option in OPTIONS and rank is not None and rank < ranked.get(option, (9, []))[0]:
            ranked[option] = (rank, shlex.split(value)[0].split() if value.strip() else [])
    return {option: values for option, (_, values) in ranked.items()}


def uv_arguments(settings: dict[str, list[str]]) -> list[str]:
    arguments = []
    for option, values in settings.items():
        for value in values:
            arguments += [OPTIONS[option], value]
    return arguments


def main() -> None:
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, check=False
    ).stdout
    print("\n".join(uv_arguments(pip_settings(listing))))


if __name__ == "__main__":
    main()
