"""Run a ``hymirec`` command that stops itself just before a file is renamed into place, to be SIGKILLed there.

    python -P tests/kill_point.py PATTERN N hymirec-arguments…

(``-P``: not tests/ first on ``sys.path``, where tests/data_checks would shadow the real package.)

An audit hook (``sys.addaudithook``; Python raises ``os.rename`` before every ``os.rename`` and
``os.replace``) sends the process SIGSTOP the N-th time a rename's destination matches PATTERN
(``fnmatch``): the new file is then complete under its temporary name and the previous one still in
place. The crash tests wait for the stop, look at the files and SIGKILL the process group — an exact
moment without sleeps, and nothing in the library that exists for tests.
"""

from __future__ import annotations

import fnmatch
import os
import signal
import sys
from typing import Any


def stop_before_rename(pattern: str, nth: int) -> None:
    seen = 0

    def hook(event: str, args: tuple[Any, ...]) -> None:
        nonlocal seen
        if event == "os.rename" and fnmatch.fnmatch(os.fsdecode(args[1]), pattern):
            seen += 1
            if seen == nth:
                os.kill(os.getpid(), signal.SIGSTOP)

    sys.addaudithook(hook)


if __name__ == "__main__":
    pattern, nth, *arguments = sys.argv[1:]
    stop_before_rename(pattern, int(nth))
    from hymirec.cli import main

    sys.exit(main(arguments))
