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
source "$MAIN/results/benchmark_ml1m_run/common.sh"
WS_SEED=${WS_SEED:-$MAIN/../bench_seed$SEED}
CFG=configs/benchmark_ml1m_seed$SEED.yaml

carry "${2:-}" "$WS_SEED" "$RUN/seed$SEED" "$CFG"  # save: snapshot into seed<SEED>/ (snapshot/, logs/, config) and stop here
[ -d "$WS_SEED" ] || variant_workspace "$WS_SEED" "$CFG" "
s/^seed: .*/seed: $SEED/
s/^  variants: .*/  variants: [hymirec, hymirec_k1]/
s/^  train_text_twin: .*/  train_text_twin: false/
s/^comirec:/comirec:\n  enabled: false/" raw_logs validated_sequences item_embeddings codebook || exit 1
train_rest "$WS_SEED" "$CFG"
