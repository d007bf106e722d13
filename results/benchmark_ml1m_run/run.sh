#!/usr/bin/env bash
# The full-size benchmark (configs/benchmark_ml1m.yaml, seed 42), carried from one machine to the next.
#
#   bash results/benchmark_ml1m_run/run.sh resume   # from the main checkout, after `make venv`
#   bash results/benchmark_ml1m_run/run.sh save     # pause the trainings, snapshot into this folder, go on
#
# resume: clones this checkout into $WS and $WS2, restores snapshot/ into each (the data stages run
# instead when there is none) and trains what is left on two cores, one torch thread per stage:
# sasrec_model beside coarse_model; then llm_model in $WS with the variants $WS_VARIANTS beside
# llm_model in $WS2 with $WS2_VARIANTS (no variant in both); then, with everything either trained
# parked in $WS (park_variants.py), llm_model in $WS with the config's whole list (it trains only
# what is left) and evaluation_report. A variant parks under checkpoints/ when it finishes and every
# epoch leaves a checkpoint, so any stage may stop at any point.
# The snapshot is written and read by this checkout's code, whatever commit the workspaces run.
# save: SIGSTOPs the running stages, parks and copies $WS2's checkpoints of its variants into $WS, writes
# `hymirec snapshot save` of $WS to snapshot/ and the logs to logs/, and SIGCONTs the stages.
set -u
MAIN=$(cd "$(dirname "$0")/../.." && pwd)
RUN="$MAIN/results/benchmark_ml1m_run"
WS=${WS:-$MAIN/../bench_full}
WS2=${WS2:-$MAIN/../bench_ws2}
WS_VARIANTS=${WS_VARIANTS:-hymirec_no_coarse, hymirec_exact_history, hymirec_recent_only}
WS2_VARIANTS=${WS2_VARIANTS:-hymirec_smollm2}
CFG=configs/benchmark_ml1m.yaml
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

log() { echo "$(date -Is) $*" >> "$WS/logs/stage_times.txt"; }

stage() {  # stage ROOT NAME CONFIG
  local root=$1 name=$2 cfg=$3
  log "start $name ($root)"
  if (cd "$root" && HYMIREC_THREADS=1 .venv/bin/python -m hymirec.cli stage "$name" -c "$cfg" >> "logs/$name.log" 2>&1); then
    log "done $name ($root)"
  else
    log "FAILED $name ($root)"; return 1
  fi
}

workspace() {  # workspace ROOT: a clone of this checkout holding the snapshot (or the data stages' outputs)
  local root=$1
  [ -d "$root" ] && return 0
  git clone -q "$MAIN" "$root" && ln -s "$MAIN/.venv" "$root/.venv" && mkdir -p "$root/logs" || return 1
  if [ -f "$RUN/snapshot/manifest.json" ]; then
    (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot restore "$RUN/snapshot" --root "$root") || return 1
  else
    for name in raw_logs validated_sequences item_embeddings codebook; do
      (cd "$root" && HYMIREC_THREADS=2 .venv/bin/python -m hymirec.cli stage "$name" -c "$CFG" >> "logs/$name.log" 2>&1) || return 1
    done
  fi
}

with_variants() {  # with_variants ROOT NAME VARIANTS: the benchmark config of ROOT with another variant list
  sed "s/^  variants: .*/  variants: [$3]/" "$1/$CFG" > "$1/configs/$2.yaml" && echo "configs/$2.yaml"
}

park() {  # everything $WS and $WS2 have published in models/llm parks in $WS
  (cd "$WS" && .venv/bin/python "$RUN/park_variants.py" "$CFG" "$WS" "$WS" "$WS2" >> logs/park.log 2>&1)
}

resume() {
  workspace "$WS" || exit 1
  cp -n "$RUN"/logs/* "$WS/logs/" 2>/dev/null
  ( [ -d "$WS/models/baselines" ] || stage "$WS" sasrec_model "$CFG"
    workspace "$WS2" || exit 1
    for log in "$RUN"/logs/ws2_*.log; do [ -f "$log" ] && cp -n "$log" "$WS2/logs/${log##*/ws2_}"; done
    while [ ! -d "$WS/models/coarse" ]; do sleep 30; done
    [ -d "$WS2/models/coarse" ] || cp -a "$WS/models/coarse" "$WS2/models/"
    stage "$WS2" llm_model "$(with_variants "$WS2" benchmark_ml1m_ws2 "$WS2_VARIANTS")" ) &
  ( [ -d "$WS/models/coarse" ] || stage "$WS" coarse_model "$CFG" || exit 1
    stage "$WS" llm_model "$(with_variants "$WS" benchmark_ml1m_ws "$WS_VARIANTS")" ) &
  wait
  park && stage "$WS" llm_model "$CFG" && stage "$WS" evaluation_report "$CFG"
}

save() {
  local pids; pids=$(pgrep -f "hymirec.cli stage" || true)
  [ -n "$pids" ] && kill -STOP $pids
  park
  local variant  # only $WS2's own variants: its restored copies of $WS's checkpoints are stale
  for variant in ${WS2_VARIANTS//,/ }; do
    cp -ru "$WS2"/checkpoints/llm_model-"$variant"-* "$WS/checkpoints/" 2>/dev/null
  done
  (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot save "$RUN/snapshot" --root "$WS" --note "${NOTE:-}")
  local status=$?
  mkdir -p "$RUN/logs" && cp "$WS"/logs/*.log "$WS/logs/stage_times.txt" "$RUN/logs/"
  for log in "$WS2"/logs/*.log; do [ -f "$log" ] && cp "$log" "$RUN/logs/ws2_$(basename "$log")"; done
  [ -n "$pids" ] && kill -CONT $pids
  return $status
}

case "${1:-}" in
  resume) resume ;;
  save) save ;;
  *) echo "usage: $0 resume|save" >&2; exit 2 ;;
esac
