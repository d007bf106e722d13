#!/usr/bin/env bash
# A seed run of the full-size benchmark: the models the seed study repeats, retrained at another seed.
#
#   bash results/benchmark_ml1m_run/seed.sh 43        # from the main checkout, after `make venv`
#   bash results/benchmark_ml1m_run/seed.sh 43 save   # snapshot the unfinished run into seed43/
#
# Clones this checkout into $WS_SEED (default ../bench_seed<SEED>), copies in the seed-42 workspace's
# ($WS) data stages' outputs — validated sequences, item embeddings and codebook — so the seeds differ
# only in training (the precedent of results/converged_small_ml1m_seed43: the codebook is fitted once),
# and trains, one torch thread: sasrec_model (sasrec only), coarse_model (the coarse pair, which
# HyMiRec reads and the compression check compares; no comirec), llm_model (hymirec, then
# hymirec_k1, the ablation the seed-42 runs could not tell from it) and evaluation_report. Every
# training stage checkpoints each epoch and resumes where it stopped: run it again to go on (on a new
# machine it restores seed<SEED>/snapshot, with that run's config and logs, into a fresh clone first).
set -u
SEED=${1:?usage: $0 SEED}
MAIN=$(cd "$(dirname "$0")/../.." && pwd)
WS=${WS:-$MAIN/../bench_full}
WS_SEED=${WS_SEED:-$MAIN/../bench_seed$SEED}
CFG=configs/benchmark_ml1m_seed$SEED.yaml
CARRIED=$MAIN/results/benchmark_ml1m_run/seed$SEED  # snapshot/, logs/ and the config of an unfinished run
source "$MAIN/results/benchmark_ml1m_run/common.sh"

if [ "${2:-}" = save ]; then
  save_snapshot "$WS_SEED" "$CARRIED/snapshot"
  status=$?
  mkdir -p "$CARRIED/logs" && cp "$WS_SEED"/logs/* "$CARRIED/logs/" && cp "$WS_SEED/$CFG" "$CARRIED/"
  exit $status
fi

if [ ! -d "$WS_SEED" ] && [ -f "$CARRIED/snapshot/manifest.json" ]; then  # a new machine: go on from the snapshot
  clone_workspace "$WS_SEED" "$CARRIED/logs" && restore_snapshot "$CARRIED/snapshot" "$WS_SEED" || exit 1
  cp "$CARRIED/${CFG##*/}" "$WS_SEED/$CFG" || exit 1
fi
if [ ! -d "$WS_SEED" ]; then
  clone_workspace "$WS_SEED" || exit 1
  # the data stages' outputs and records, as hymirec.snapshot lists them
  (cd "$MAIN" && .venv/bin/python -c '
import shutil, sys
from pathlib import Path
from hymirec.paths import Layout
from hymirec.snapshot import data_outputs
source, target = Layout(Path(sys.argv[1]).resolve()), Layout(Path(sys.argv[2]).resolve())
records = [source.stage_metrics(stage) for stage in ("raw_logs", "validated_sequences", "item_embeddings", "codebook")]
for path in [*data_outputs(source), *records]:
    copy = target.root / path.relative_to(source.root)
    shutil.rmtree(copy, ignore_errors=True) if copy.is_dir() else copy.unlink(missing_ok=True)
    copy.parent.mkdir(parents=True, exist_ok=True)
    (shutil.copytree if path.is_dir() else shutil.copy2)(path, copy)
' "$WS" "$WS_SEED") || exit 1
  sed -e "s/^seed: .*/seed: $SEED/" \
      -e "s/^  variants: .*/  variants: [hymirec, hymirec_k1]/" \
      -e "s/^  train_text_twin: .*/  train_text_twin: false/" \
      -e "s/^comirec:/comirec:\n  enabled: false/" \
      "$WS/configs/benchmark_ml1m.yaml" > "$WS_SEED/$CFG" || exit 1
fi

# a stage's outputs appear only once it has finished (atomically): skip the finished training stages
[ -d "$WS_SEED/models/baselines" ] || stage "$WS_SEED" sasrec_model "$CFG" || exit 1
[ -d "$WS_SEED/models/coarse" ] || stage "$WS_SEED" coarse_model "$CFG" || exit 1
stage "$WS_SEED" llm_model "$CFG" && stage "$WS_SEED" evaluation_report "$CFG"
