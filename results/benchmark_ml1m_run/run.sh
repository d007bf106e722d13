#!/usr/bin/env bash
# The full-size benchmark (configs/benchmark_ml1m.yaml, seed 42), carried from one machine to the next.
#
#   bash results/benchmark_ml1m_run/run.sh resume   # from the main checkout, after `make venv`
#   bash results/benchmark_ml1m_run/run.sh save     # pause the training, snapshot into this folder, go on
#
# resume: clones this checkout into $WS and restores snapshot/ into it when $WS does not exist (the data
# stages run instead when there is no snapshot), parks every LLM variant published in models/llm/ under
# checkpoints/ (park_variants.py: publishing removed the parked copies) and runs, one torch thread, what
# is left of the config: sasrec_model and coarse_model when missing, llm_model (it trains only the
# variants not parked: hymirec_smollm2 since seed 42's others were published) and evaluation_report.
# Every epoch leaves a checkpoint, so the stage may stop at any point. seed.sh trains the seed runs.
# The snapshot is written and read by this checkout's code, whatever commit the workspace runs.
# save: SIGSTOPs the running stages, writes `hymirec snapshot save` of $WS to snapshot/ and its logs to
# logs/, and SIGCONTs the stages.
set -u
MAIN=$(cd "$(dirname "$0")/../.." && pwd)
RUN="$MAIN/results/benchmark_ml1m_run"
WS=${WS:-$MAIN/../bench_full}
CFG=configs/benchmark_ml1m.yaml
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

log() { echo "$(date -Is) $*" >> "$WS/logs/stage_times.txt"; }

stage() {  # stage NAME
  log "start $1 ($WS)"
  if (cd "$WS" && HYMIREC_THREADS=1 .venv/bin/python -m hymirec.cli stage "$1" -c "$CFG" >> "logs/$1.log" 2>&1); then
    log "done $1 ($WS)"
  else
    log "FAILED $1 ($WS)"; return 1
  fi
}

workspace() {  # a clone of this checkout holding the snapshot (or the data stages' outputs)
  [ -d "$WS" ] && return 0
  git clone -q "$MAIN" "$WS" && ln -s "$MAIN/.venv" "$WS/.venv" && mkdir -p "$WS/logs" || return 1
  cp -n "$RUN"/logs/* "$WS/logs/" 2>/dev/null
  if [ -f "$RUN/snapshot/manifest.json" ]; then
    (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot restore "$RUN/snapshot" --root "$WS") || return 1
  else
    for name in raw_logs validated_sequences item_embeddings codebook; do stage "$name" || return 1; done
  fi
}

resume() {
  workspace || exit 1
  (cd "$WS" && .venv/bin/python "$RUN/park_variants.py" "$CFG" "$WS" "$WS" >> logs/park.log 2>&1) || exit 1
  [ -d "$WS/models/baselines" ] || stage sasrec_model || exit 1
  [ -d "$WS/models/coarse" ] || stage coarse_model || exit 1
  stage llm_model && stage evaluation_report
}

save() {
  local pids; pids=$(pgrep -f "hymirec.cli stage" || true)
  [ -n "$pids" ] && kill -STOP $pids
  (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot save "$RUN/snapshot" --root "$WS" --note "${NOTE:-}")
  local status=$?
  mkdir -p "$RUN/logs" && cp "$WS"/logs/*.log "$WS"/logs/*.txt "$RUN/logs/"
  [ -n "$pids" ] && kill -CONT $pids
  return $status
}

case "${1:-}" in
  resume) resume ;;
  save) save ;;
  *) echo "usage: $0 resume|save" >&2; exit 2 ;;
esac
