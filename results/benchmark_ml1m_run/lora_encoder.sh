#!/usr/bin/env bash
# The LoRA-adapted item encoder as a variant of the full-size benchmark (issue 10's next lever).
#
#   bash results/benchmark_ml1m_run/lora_encoder.sh        # from the main checkout, after `make venv`
#   bash results/benchmark_ml1m_run/lora_encoder.sh save   # snapshot the unfinished run into lora_encoder/
#
# Clones this checkout into $WS_LORA (default ../bench_lora_encoder), copies in the seed-42 workspace's
# ($WS) raw logs and validated sequences, and runs, one torch thread, the benchmark config with
# item_embeddings.adaptation on: MiniLM LoRA-tuned on 32,768 (item, next item) pairs of the training split
# (the stage's in-batch InfoNCE; 3 % of the split's pairs, 512 steps, ~25 minutes), then its codebook,
# sasrec (id-only: the same model as seed 42's, trained again so the report has its baseline), the
# codebook coarse model (no exact twin: the compression check belongs to the plain encoder), hymirec, and
# evaluation_report. Everything else equals seed 42's config, so hymirec here against hymirec there is
# the adapted encoder's effect. Resumable and carried like seed.sh (lora_encoder/: snapshot, logs, config).
set -u
MAIN=$(cd "$(dirname "$0")/../.." && pwd)
source "$MAIN/results/benchmark_ml1m_run/common.sh"
WS_LORA=${WS_LORA:-$MAIN/../bench_lora_encoder}
CFG=configs/benchmark_ml1m_lora_encoder.yaml

carry "${1:-}" "$WS_LORA" "$RUN/lora_encoder" "$CFG"  # save: snapshot into lora_encoder/ and stop here
[ -d "$WS_LORA" ] || variant_workspace "$WS_LORA" "$CFG" "
s/^    enabled: false/    enabled: true\n    max_pairs: 32768/
s/^  variants: .*/  variants: [hymirec]/
s/^  train_text_twin: .*/  train_text_twin: false/
s/^  train_exact_twin: .*/  train_exact_twin: false/
s/^comirec:/comirec:\n  enabled: false/" raw_logs validated_sequences || exit 1
# data outputs (ignored by git) appear only once their stage has finished
[ -d "$WS_LORA/data/embeddings" ] || stage "$WS_LORA" item_embeddings "$CFG" || exit 1
[ -d "$WS_LORA/models/codebook" ] || stage "$WS_LORA" codebook "$CFG" || exit 1
train_rest "$WS_LORA" "$CFG"
