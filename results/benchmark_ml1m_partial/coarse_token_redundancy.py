"""How alike are the coarse model's M context tokens: the last M states vs states spread over the history (test users)."""
import sys
from pathlib import Path
import numpy as np, torch
from hymirec.cli import configure_torch
configure_torch()
from hymirec.config import load_config
from hymirec.paths import Layout
from hymirec.sequences import split_view
from hymirec.serving import load_trained
from hymirec.stages.common import load_sequence_data
from hymirec.models.base import left_pad

root, config = Path(sys.argv[1]), load_config(Path(sys.argv[2]))
layout = Layout(root); data = load_sequence_data(layout)
view = split_view(data.sequences, "test")
coarse = load_trained("coarse_codebook", root / "models/coarse/codebook", layout)
model = coarse.model if hasattr(coarse, "model") else coarse
R, M, L = config.llm.recent_items, config.coarse.num_tokens, config.coarse.max_length
rng = np.random.default_rng(0)
users = [u for u in rng.permutation(len(view.histories)) if len(view.histories[u]) > R + 4 * M][:1000]
befores = [view.histories[u][:-R][-L:] for u in users]
tokens = left_pad(befores, L)
with torch.no_grad():
    states = model(tokens)  # [B L H]
def mean_pairwise_cos(x):
    x = torch.nn.functional.normalize(x, dim=-1); s = x @ x.transpose(1, 2); m = x.shape[1]
    return float((s.sum((1, 2)) - m).mean() / (m * (m - 1)))
last = states[:, -M:]
lengths = torch.tensor([len(b) for b in befores])
ends = torch.stack([L - lengths + torch.div(lengths * (m + 1), M, rounding_mode="floor") - 1 for m in range(M)], 1)
spread = states[torch.arange(len(users))[:, None], ends]
print(f"users {len(users)}, mean history before window {lengths.float().mean():.0f}; mean pairwise cosine of the M tokens: last {mean_pairwise_cos(last):.3f}, spread {mean_pairwise_cos(spread):.3f}")
