"""Park the LLM variants published in some workspaces' models/llm/ under a workspace's checkpoints/.

A workspace's ``llm_model`` stage skips every variant parked under its checkpoints/ (keyed by the
variant's settings) and publishes models/llm/ once all are there; publishing removes the parked copies.
Run again with a longer variant list, it would retrain what it published (seed 42 published five
variants before ``hymirec_smollm2`` trains). Parking what models/llm/ holds first (``run.sh resume``)
lets the whole list train only what is new; a second workspace that trained some variants in parallel
parks its published ones into the first the same way.

    python park_variants.py CONFIG TARGET_WORKSPACE SOURCE_WORKSPACE...
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from hymirec.config import Variant, load_config
from hymirec.paths import Layout
from hymirec.stages.common import TRAINING_SUMMARY
from hymirec.stages.llm_model import variant_fingerprint


def park(config_path: Path, target: Path, sources: list[Path]) -> list[str]:
    config, layout = load_config(config_path), Layout(target)
    parked = []
    for source in sources:
        published = Layout(source).llm_dir
        for folder in sorted(published.iterdir()) if published.is_dir() else []:
            variant = Variant(folder.name)
            place = layout.checkpoint(f"llm_model-{variant.value}", variant_fingerprint(config, variant)).with_suffix("")
            if (folder / TRAINING_SUMMARY).exists() and not place.exists():
                shutil.copytree(folder, place)
                parked.append(f"{variant.value} from {source}")
    return parked


if __name__ == "__main__":
    print("parked:", park(Path(sys.argv[1]), Path(sys.argv[2]), [Path(arg) for arg in sys.argv[3:]]) or "nothing new")
