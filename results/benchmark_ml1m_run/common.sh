# Shared by run.sh, seed.sh, lora_encoder.sh and long_schedule.sh (sourced): run a stage in a workspace,
# clone a workspace, copy stages' outputs between workspaces, set up a variant's workspace, snapshot one,
# train what is left, carry an unfinished run.
# Expects MAIN (the main checkout) to be set; WS is the seed-42 workspace the other runs copy from.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1
RUN=$MAIN/results/benchmark_ml1m_run
WS=${WS:-$MAIN/../bench_full}

stage() {  # stage ROOT NAME CONFIG: HYMIREC_THREADS torch threads (default one), log appended to ROOT/logs/NAME.log, times to stage_times.txt
  local root=$1 name=$2 cfg=$3
  echo "$(date -Is) start $name ($root)" >> "$root/logs/stage_times.txt"
  if (cd "$root" && HYMIREC_THREADS=${HYMIREC_THREADS:-1} .venv/bin/python -m hymirec.cli stage "$name" -c "$cfg" >> "logs/$name.log" 2>&1); then
    echo "$(date -Is) done $name ($root)" >> "$root/logs/stage_times.txt"
  else
    echo "$(date -Is) FAILED $name ($root)" >> "$root/logs/stage_times.txt"; return 1
  fi
}

clone_workspace() {  # clone_workspace ROOT [LOGS]: a clone of MAIN using its .venv, with LOGS (if given) as its logs/
  git clone -q "$MAIN" "$1" && ln -s "$MAIN/.venv" "$1/.venv" || return 1
  if [ -n "${2:-}" ] && [ -d "$2" ]; then cp -r "$2" "$1/logs"; else mkdir -p "$1/logs"; fi
}

copy_stages() {  # copy_stages SOURCE TARGET STAGE...: those data or training stages' outputs and records (hymirec.snapshot lists them)
  (cd "$MAIN" && .venv/bin/python -c '
import shutil, sys
from pathlib import Path
from hymirec.paths import Layout
from hymirec.snapshot import data_stage_outputs, training_stage_outputs
source, target = Layout(Path(sys.argv[1]).resolve()), Layout(Path(sys.argv[2]).resolve())
outputs = data_stage_outputs(source) | training_stage_outputs(source)
for stage in sys.argv[3:]:
    for path in [*outputs[stage], source.stage_metrics(stage)]:
        copy = target.root / path.relative_to(source.root)
        shutil.rmtree(copy, ignore_errors=True) if copy.is_dir() else copy.unlink(missing_ok=True)
        copy.parent.mkdir(parents=True, exist_ok=True)
        (shutil.copytree if path.is_dir() else shutil.copy2)(path, copy)
' "$@")
}

variant_workspace() {  # variant_workspace ROOT CONFIG SED STAGE...: a clone holding $WS's outputs of STAGE... and, at CONFIG, $WS's benchmark config edited by the sed script SED
  local root=$1 cfg=$2 script=$3; shift 3
  clone_workspace "$root" && copy_stages "$WS" "$root" "$@" && sed -e "$script" "$WS/configs/benchmark_ml1m.yaml" > "$root/$cfg"
}

restore_snapshot() {  # restore_snapshot DIR ROOT: with MAIN's code, whatever commit ROOT runs
  (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot restore "$1" --root "$2")
}

save_snapshot() {  # save_snapshot ROOT DIR: pause every running stage, snapshot ROOT into DIR with $NOTE, go on
  local pids status; pids=$(pgrep -f "hymirec.cli stage" || true)
  [ -n "$pids" ] && kill -STOP $pids
  (cd "$MAIN" && .venv/bin/python -m hymirec.cli snapshot save "$2" --root "$1" --note "${NOTE:-}")
  status=$?
  [ -n "$pids" ] && kill -CONT $pids
  return $status
}

train_rest() {  # train_rest ROOT CONFIG: the training stages not finished yet (outputs appear only once one has), then evaluation_report
  [ -d "$1/models/baselines" ] || stage "$1" sasrec_model "$2" || return 1
  [ -d "$1/models/coarse" ] || stage "$1" coarse_model "$2" || return 1
  stage "$1" llm_model "$2" && stage "$1" evaluation_report "$2"
}

carry_save() {  # carry_save ROOT CARRIED [CONFIG]: snapshot the unfinished run ROOT into CARRIED/snapshot, with its logs (and its untracked config)
  save_snapshot "$1" "$2/snapshot"
  local status=$?
  mkdir -p "$2/logs" && cp "$1"/logs/* "$2/logs/" || return 1
  if [ -n "${3:-}" ]; then cp "$1/$3" "$2/" || return 1; fi
  return $status
}

carry_restore() {  # carry_restore ROOT CARRIED CONFIG: on a new machine (no ROOT), a fresh clone holding what carry_save wrote
  [ ! -d "$1" ] && [ -f "$2/snapshot/manifest.json" ] || return 0
  clone_workspace "$1" "$2/logs" && restore_snapshot "$2/snapshot" "$1" && cp "$2/${3##*/}" "$1/$3"
}

carry() {  # carry MODE ROOT CARRIED CONFIG: MODE "save" carries ROOT and exits the script; otherwise restores it if need be
  if [ "$1" = save ]; then
    carry_save "$2" "$3" "$4"
    exit $?
  fi
  carry_restore "$2" "$3" "$4" || exit 1
}
