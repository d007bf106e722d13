"""Re-score the converged coarse model of results/converged_small_ml1m (workspace /work/conv_small) on the validation split: dot products as trained, then with unit item vectors (cosine)."""
import sys, numpy as np, torch
sys.path.insert(0, "/work/main")
from pathlib import Path
from hymirec.config import load_config
from hymirec.paths import Layout
from hymirec.stages.common import load_sequence_data
from hymirec.sequences import split_view
from hymirec.evaluation import evaluate
from hymirec.models.coarse import CoarseModel
from hymirec.codebook import load_reconstructions
from hymirec.models.base import evaluating
torch.set_num_threads(1)
root = Path("/work/conv_small"); layout = Layout(root)
config = load_config(root / "configs/converged_small_ml1m.yaml")
data = load_sequence_data(layout); valid = split_view(data.sequences, "valid")
emb = np.load(layout.item_embeddings)
m = CoarseModel.from_embeddings(config.coarse, load_reconstructions(layout.codebook_dir), emb)
m.load_state_dict(torch.load(layout.coarse_dir / "codebook" / "model.pt")); m.eval()
norms = m.item_vectors().norm(dim=-1).detach()
print("item norm stats", norms.min().item(), norms.mean().item(), norms.max().item())
base = m.score_items
print("dot", evaluate(base, valid, config.evaluation, model_name="c", with_top_items=False).metrics["ndcg@10"])
orig = m.item_vectors
m.item_vectors = lambda: torch.nn.functional.normalize(orig(), dim=-1)
print("cos", evaluate(m.score_items, valid, config.evaluation, model_name="c", with_top_items=False).metrics["ndcg@10"])
