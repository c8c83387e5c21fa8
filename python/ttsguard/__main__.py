"""The ``ttsguard`` command of the wheel: it replaces itself with the bundled binary."""

from __future__ import annotations

import os
import sys

from ._run import binary
from .errors import ToolError


def main() -> None:
    try:
        exe = binary()
    except ToolError as e:
        sys.stderr.write(f"ttsguard: {e}\n")
        sys.exit(3)
    os.execv(exe, [exe, *sys.argv[1:]])


if __name__ == "__main__":
    main()
