# Shared by run.sh and seed.sh (sourced): run a stage in a workspace, clone a workspace, snapshot one.
# Expects MAIN (the main checkout) to be set.
export HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

stage() {  # stage ROOT NAME CONFIG: one torch thread, log appended to ROOT/logs/NAME.log, times to stage_times.txt
  local root=$1 name=$2 cfg=$3
  echo "$(date -Is) start $name ($root)" >> "$root/logs/stage_times.txt"
  if (cd "$root" && HYMIREC_THREADS=1 .venv/bin/python -m hymirec.cli stage "$name" -c "$cfg" >> "logs/$name.log" 2>&1); then
    echo "$(date -Is) done $name ($root)" >> "$root/logs/stage_times.txt"
  else
    echo "$(date -Is) FAILED $name ($root)" >> "$root/logs/stage_times.txt"; return 1
  fi
}

clone_workspace() {  # clone_workspace ROOT [LOGS]: a clone of MAIN using its .venv, with LOGS (if given) as its logs/
  git clone -q "$MAIN" "$1" && ln -s "$MAIN/.venv" "$1/.venv" || return 1
  if [ -n "${2:-}" ] && [ -d "$2" ]; then cp -r "$2" "$1/logs"; else mkdir -p "$1/logs"; fi
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
