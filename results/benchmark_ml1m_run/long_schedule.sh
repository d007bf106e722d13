#!/usr/bin/env bash
# HyMiRec on SASRec's schedule: the LLM model's cosine schedule stretched from 20 to 40 epochs.
#
#   bash results/benchmark_ml1m_run/long_schedule.sh        # from the main checkout, after `make venv`
#   bash results/benchmark_ml1m_run/long_schedule.sh save   # snapshot the unfinished run into long_schedule/
#
# Every LLM variant of the benchmark had its best validation NDCG@10 at epochs 16–19 of a 20-epoch cosine
# schedule, while SASRec's schedule is 40 epochs (best at 32). A flat end of a cosine schedule is the
# learning rate reaching 0, not proof of convergence: this run asks whether HyMiRec was stopped early.
# Clones this checkout into $WS_LONG (default ../bench_long_schedule), copies in the seed-42 workspace's
# ($WS) data stages and its finished sasrec_model and coarse_model outputs (their settings are unchanged),
# and trains, one torch thread, hymirec with llm.max_epochs 40 (patience stays 8), then evaluation_report.
# Resumable and carried like seed.sh (long_schedule/: snapshot, logs, config). Published in
# ../benchmark_ml1m_long_schedule/ (its provenance note says how the run went).
set -u
MAIN=$(cd "$(dirname "$0")/../.." && pwd)
source "$MAIN/results/benchmark_ml1m_run/common.sh"
WS_LONG=${WS_LONG:-$MAIN/../bench_long_schedule}
CFG=configs/benchmark_ml1m_long_schedule.yaml

carry "${1:-}" "$WS_LONG" "$RUN/long_schedule" "$CFG"  # save: snapshot into long_schedule/ and stop here
if [ ! -d "$WS_LONG" ]; then
  variant_workspace "$WS_LONG" "$CFG" "
/^llm:/,/^[a-z]/s/^  max_epochs: 20$/  max_epochs: 40/
s/^  variants: .*/  variants: [hymirec]/" \
    raw_logs validated_sequences item_embeddings codebook sasrec_model coarse_model || exit 1
  grep -A40 "^llm:" "$WS_LONG/$CFG" | grep -q "^  max_epochs: 40$" || { echo "llm.max_epochs not set to 40" >&2; exit 1; }
fi
train_rest "$WS_LONG" "$CFG"
