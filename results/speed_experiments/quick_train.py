"""Quick experiment: train one model on ML-1M (workspace /work/main), print per-epoch valid ndcg and time."""
import os, sys, time, logging, numpy as np, torch, yaml
from pathlib import Path
sys.path.insert(0, "/work/exp_wt")
from hymirec.config import load_config, HyMiRecConfig, Variant
from hymirec.paths import Layout
from hymirec.stages.common import load_sequence_data
from hymirec.sequences import split_view, training_sequences
from hymirec.evaluation import evaluate
from hymirec.training import train_with_early_stopping, TrainingSchedule, seed_everything
from hymirec.codebook import load_reconstructions
logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
torch.set_num_threads(int(sys.argv[3]) if len(sys.argv) > 3 else 2)
which = sys.argv[1]; overrides = yaml.safe_load(sys.argv[2]) if len(sys.argv) > 2 else {}
raw = yaml.safe_load(open("/work/bench_small/configs/converged_small_ml1m.yaml"))
def merge(a, b):
    for k, v in b.items():
        if isinstance(v, dict): merge(a.setdefault(k, {}), v)
        else: a[k] = v
merge(raw, overrides)
config = HyMiRecConfig.model_validate(raw)
layout = Layout(Path("/work/bench_small"))
data = load_sequence_data(layout)
valid = split_view(data.sequences, "valid")
seqs = training_sequences(data.sequences)
emb = np.load(layout.item_embeddings)
seed_everything(config.seed)
from hymirec.models.sasrec import SASRec, SASRecText, training_batch
from hymirec.models.comirec import ComiRec
from hymirec.models.coarse import CoarseModel
from hymirec.models.llm import build_hymirec, training_windows, llm_batch
val = lambda m: evaluate(m.score_items, valid, config.evaluation, model_name=which, with_top_items=False).metrics
t0 = time.time()
if which in ("sasrec", "sasrec_text", "comirec", "coarse"):
    section = {"sasrec": config.sasrec, "sasrec_text": config.sasrec, "comirec": config.comirec, "coarse": config.coarse}[which]
    model = {"sasrec": lambda: SASRec(config.sasrec, data.num_items), "sasrec_text": lambda: SASRecText.from_embeddings(config.sasrec, emb),
             "comirec": lambda: ComiRec(config.comirec, data.num_items),
             "coarse": lambda: CoarseModel.from_embeddings(config.coarse, load_reconstructions(layout.codebook_dir), emb)}[which]()
    out = train_with_early_stopping(model, seqs, lambda b: training_batch(b, section.max_length), val, TrainingSchedule.of(section), seed=config.seed)
    if which == "coarse":
        torch.save(model.state_dict(), "/tmp/exp/coarse.pt")
else:
    variant = Variant(which)
    coarse_state = torch.load(os.environ.get("COARSE", "/work/bench_small/models/coarse/codebook/model.pt")) if variant in (Variant.HYMIREC,) else None
    model = build_hymirec(config.llm, variant, config.coarse, emb, load_reconstructions(layout.codebook_dir), layout.pretrained_cache, coarse_state)
    llm = config.llm
    out = train_with_early_stopping(model, lambda e: training_windows(seqs, llm.recent_items, llm.windows_per_user, config.seed, e),
        lambda b: llm_batch(b, llm.recent_items, llm.target_window), val, TrainingSchedule.of(llm), seed=config.seed)
print("RESULT", which, overrides, "best", out.best_epoch, round(out.best_valid["ndcg@10"], 4), "epochs", out.epochs_trained, "secs", round(time.time() - t0, 1))
for h in out.history: print(h["epoch"], round(h["train_loss"], 4), round(h["valid_ndcg@10"], 4))
