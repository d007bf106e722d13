"""``python -m hymirec.bench.peak_memory PEAK_JSON MODULE ARGS…``: run MODULE as ``python -m`` would, then
write this process's peak RSS to PEAK_JSON (also when the module exits with an error)."""

from __future__ import annotations

import json
import runpy
import sys
from pathlib import Path

from hymirec.bench.timing import own_peak_rss_mb


def main() -> None:
    peak_file, module = Path(sys.argv[1]), sys.argv[2]
    sys.argv = [module, *sys.argv[3:]]
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    finally:
        peak_file.write_text(json.dumps({"peak_rss_mb": own_peak_rss_mb()}))


if __name__ == "__main__":
    main()
