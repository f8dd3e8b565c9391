"""A PATH that lacks one program: every other program of the current PATH, linked into a folder."""

from __future__ import annotations

import os
from pathlib import Path


def path_without(program: str, folder: Path) -> str:
    """Link every executable of the current PATH except `program` into `folder` (the first of a
    name wins, as in a lookup) and return `folder` as a PATH value."""
    folder.mkdir(parents=True, exist_ok=True)
    for directory in os.environ.get("PATH", "").split(os.pathsep):
        if not directory or not os.path.isdir(directory):
            continue
        for name in os.listdir(directory):
            link = folder / name
            source = os.path.join(directory, name)
            if name == program or link.is_symlink() or not os.access(source, os.X_OK):
                continue
            if os.path.isfile(source):
                link.symlink_to(source)
    return str(folder)
