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
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

log() { echo "$(date -Is) $*" >> "$WS_SEED/logs/stage_times.txt"; }

if [ "${2:-}" = save ]; then  # pause the stages, snapshot the workspace beside this script, go on
  pids=$(pgrep -f "hymirec.cli stage" || true)
  [ -n "$pids" ] && kill -STOP $pids
  (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot save "$CARRIED/snapshot" --root "$WS_SEED" --note "${NOTE:-}")
  status=$?
  mkdir -p "$CARRIED/logs" && cp "$WS_SEED"/logs/* "$CARRIED/logs/" && cp "$WS_SEED/$CFG" "$CARRIED/"
  [ -n "$pids" ] && kill -CONT $pids
  exit $status
fi

if [ ! -d "$WS_SEED" ] && [ -f "$CARRIED/snapshot/manifest.json" ]; then  # a new machine: go on from the snapshot
  git clone -q "$MAIN" "$WS_SEED" && ln -s "$MAIN/.venv" "$WS_SEED/.venv" && cp -r "$CARRIED/logs" "$WS_SEED/logs" || exit 1
  (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot restore "$CARRIED/snapshot" --root "$WS_SEED") || exit 1
  cp "$CARRIED/${CFG##*/}" "$WS_SEED/$CFG" || exit 1
fi
if [ ! -d "$WS_SEED" ]; then
  git clone -q "$MAIN" "$WS_SEED" && ln -s "$MAIN/.venv" "$WS_SEED/.venv" && mkdir -p "$WS_SEED/logs" || exit 1
  for path in data/raw data/sequences data/embeddings models/codebook reports/codebook \
      reports/raw_logs.json reports/validated_sequences.json reports/item_embeddings.json reports/codebook.json; do
    rm -rf "${WS_SEED:?}/$path" && mkdir -p "$(dirname "$WS_SEED/$path")" && cp -a "$WS/$path" "$WS_SEED/$path" || exit 1
  done
  sed -e "s/^seed: .*/seed: $SEED/" \
      -e "s/^  variants: .*/  variants: [hymirec, hymirec_k1]/" \
      -e "s/^  train_text_twin: .*/  train_text_twin: false/" \
      -e "s/^comirec:/comirec:\n  enabled: false/" \
      "$WS/configs/benchmark_ml1m.yaml" > "$WS_SEED/$CFG" || exit 1
fi

for name in sasrec_model coarse_model llm_model evaluation_report; do
  log "start $name"
  if (cd "$WS_SEED" && HYMIREC_THREADS=1 .venv/bin/python -m hymirec.cli stage "$name" -c "$CFG" >> "logs/$name.log" 2>&1); then
    log "done $name"
  else
    log "FAILED $name"; exit 1
  fi
done
