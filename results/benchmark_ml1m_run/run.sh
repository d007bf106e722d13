#!/usr/bin/env bash
# The full-size benchmark (configs/benchmark_ml1m.yaml, seed 42), carried from one machine to the next.
#
#   bash results/benchmark_ml1m_run/run.sh resume   # from the main checkout, after `make venv`
#   bash results/benchmark_ml1m_run/run.sh save     # pause the training, snapshot into this folder, go on
#
# resume: clones this checkout into $WS and restores snapshot/ into it when $WS does not exist (the data
# stages run instead when there is no snapshot), parks every LLM variant published in models/llm/ under
# checkpoints/ (park_variants.py: publishing removed the parked copies) and runs, one torch thread (or
# HYMIREC_THREADS), what is left of the config: sasrec_model and coarse_model when missing, llm_model (it
# trains only the variants not parked: hymirec_smollm2 since seed 42's others were published) and
# evaluation_report.
# Every epoch leaves a checkpoint, so the stage may stop at any point. seed.sh trains the seed runs.
# The snapshot is written and read by this checkout's code, whatever commit the workspace runs.
# save: pauses the running stages, writes `hymirec snapshot save` of $WS to snapshot/ and its logs to
# logs/, and lets the stages go on.
set -u
MAIN=$(cd "$(dirname "$0")/../.." && pwd)
source "$MAIN/results/benchmark_ml1m_run/common.sh"
CFG=configs/benchmark_ml1m.yaml

workspace() {  # a clone of this checkout holding the snapshot (or the data stages' outputs)
  [ -d "$WS" ] && return 0
  clone_workspace "$WS" "$RUN/logs" || return 1
  if [ -f "$RUN/snapshot/manifest.json" ]; then
    restore_snapshot "$RUN/snapshot" "$WS" || return 1
  else
    for name in raw_logs validated_sequences item_embeddings codebook; do stage "$WS" "$name" "$CFG" || return 1; done
  fi
}

resume() {
  workspace || exit 1
  (cd "$WS" && .venv/bin/python "$RUN/park_variants.py" "$CFG" "$WS" "$WS" >> logs/park.log 2>&1) || exit 1
  train_rest "$WS" "$CFG"
}

case "${1:-}" in
  resume) resume ;;
  save) carry_save "$WS" "$RUN" ;;  # the config is the tracked one
  *) echo "usage: $0 resume|save" >&2; exit 2 ;;
esac
