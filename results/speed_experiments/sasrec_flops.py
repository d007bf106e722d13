"""FLOPs of one SASRec training epoch at RecBole's settings (bench.recbole.MATCHED), counted by torch's FlopCounterMode
on the first N batches and extrapolated; and the fp32 matmul rate of this machine at the loss's shapes (2 threads).

python sasrec_flops.py WORKSPACE N -> one JSON line: epoch TFLOP, achieved GFLOP/s at a given epoch time, matmul peak.
"""
import json, sys, time
from pathlib import Path
import numpy as np, torch
from torch.utils.flop_counter import FlopCounterMode
from hymirec.bench.recbole import MATCHED
from hymirec.models.sasrec import SASRec, training_batch
from hymirec.paths import Layout
from hymirec.sequences import training_sequences
from hymirec.stages.common import load_sequence_data
from hymirec.training import TrainingSchedule, batch_order, make_optimizer, seed_everything

torch.set_num_threads(2)
layout, n = Layout(Path(sys.argv[1]).resolve()), int(sys.argv[2])
data = load_sequence_data(layout)
seed_everything(42)
model = SASRec(MATCHED, data.num_items).train()
sequences = training_sequences(data.sequences)
order = batch_order(sequences, MATCHED.batch_size, np.random.default_rng(43), len)
optimizer = make_optimizer(model, TrainingSchedule.of(MATCHED))
# the loss's key gradient accumulates in place (addmm_), which torch's registry does not count: count it as addmm
counter = FlopCounterMode(display=False, custom_mapping={
    torch.ops.aten.addmm_: lambda self_shape, a_shape, b_shape, *args, out_shape=None, **kwargs: 2 * a_shape[0] * a_shape[1] * b_shape[1]})
with counter:
    for indices in order[:n]:
        batch = training_batch([sequences[i] for i in indices], MATCHED.max_length)
        loss = model.loss(batch)
        loss.backward(); optimizer.step(); optimizer.zero_grad()
flops = counter.get_total_flops() * len(order) / n
a, b = torch.randn(12800, 64), torch.randn(64, 3706)
for _ in range(3): a @ b.T.contiguous().T
start = time.perf_counter()
for _ in range(20): a @ b
rate = 2 * 12800 * 64 * 3706 * 20 / (time.perf_counter() - start)
c = torch.randn(2048, 2048); c @ c
start = time.perf_counter()
for _ in range(5): c @ c
square = 2 * 2048**3 * 5 / (time.perf_counter() - start)
print(json.dumps({"batches_counted": n, "batches_per_epoch": len(order), "epoch_tflop": round(flops / 1e12, 3),
                  "matmul_gflops_loss_shape": round(rate / 1e9, 1), "matmul_gflops_square_2048": round(square / 1e9, 1)}))
