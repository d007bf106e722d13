"""What the diagnostics scripts here share: one trained LLM model of a workspace and one split's users.

usage from a script: ``name, view, model = workspace_model.from_arguments(sys.argv)`` for
``WORKSPACE MODEL [valid|test]`` (run from main's checkout, one torch thread).
"""
from pathlib import Path

import torch
from hymirec.paths import Layout
from hymirec.sequences import SplitView, split_view
from hymirec.serving import load_trained
from hymirec.stages.common import load_sequence_data


def from_arguments(argv: list[str]) -> tuple[str, SplitView, torch.nn.Module]:
    root, name = Path(argv[1]), argv[2]
    split = argv[3] if len(argv) > 3 else "valid"
    torch.set_num_threads(1)
    layout = Layout(root)
    view = split_view(load_sequence_data(layout).sequences, split)
    model = load_trained(name, layout.llm_dir / name, layout)
    model.eval()
    return name, view, model
