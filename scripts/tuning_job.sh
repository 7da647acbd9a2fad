#!/usr/bin/env bash
# The fair-fight tuning queue (sweeps/budget.json), one study at a time on one core, resumable.
#
#   nohup scripts/tuning_job.sh > artifacts/tuning_job.log 2>&1 &
#
# Works on sweeps/studies/live.db (git-ignored, copied from the committed studies.db the first
# time). After every study, and every SNAPSHOT_MINUTES while one runs, it copies live.db
# consistently to studies.db and exports the trials to sweeps/studies/<dataset>/<label>.json,
# ready to commit. Killing it loses at most the running trial: `tune` marks it failed and
# the next start of this script goes on from there (finished studies run no more trials).
set -uo pipefail
cd "$(dirname "$0")/.."

LIVE=sweeps/studies/live.db
COMMITTED=sweeps/studies/studies.db
SNAPSHOT_MINUTES=${SNAPSHOT_MINUTES:-30}
export SESSREC_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

# (dataset, label): rsc15_100k first (the complete fight, minutes per trial), then GRU4Rec on the
# larger datasets (6-24 minutes per trial). The kNN family, SR and Item-KNN already have their
# studies on every dataset.
QUEUE=(
  "rsc15_100k gru4rec-xe" "rsc15_100k gru4rec-bprmax"
  "rsc15_100k sasrec" "rsc15_100k narm" "rsc15_100k srgnn"
  "yoochoose1_64 gru4rec-xe" "diginetica gru4rec-xe"
  "yoochoose1_64 gru4rec-bprmax" "diginetica gru4rec-bprmax"
  "retailrocket gru4rec-xe" "retailrocket gru4rec-bprmax"
)

[ -f "$LIVE" ] || cp "$COMMITTED" "$LIVE"

snapshot() {  # $1 dataset, $2 label
  python -m sessrec tune --dataset "data/$1" --storage "sqlite:///$LIVE" --snapshot "$COMMITTED" >/dev/null &&
    python -m sessrec tune --dataset "data/$1" --model "$2" --storage "sqlite:///$COMMITTED" --status \
      --export sweeps/studies --quiet
}

for entry in "${QUEUE[@]}"; do
  read -r dataset label <<<"$entry"
  if [ ! -d "data/$dataset" ]; then
    echo "$(date -u +%FT%TZ) skip $dataset/$label: data/$dataset is not prepared"
    continue
  fi
  echo "$(date -u +%FT%TZ) start $dataset/$label"
  nice -n 15 python -m sessrec tune --dataset "data/$dataset" --model "$label" \
    --storage "sqlite:///$LIVE" --only-worker --quiet &
  worker=$!
  while kill -0 "$worker" 2>/dev/null; do
    for _ in $(seq "$((SNAPSHOT_MINUTES * 6))"); do
      kill -0 "$worker" 2>/dev/null || break
      sleep 10
    done
    snapshot "$dataset" "$label"
  done
  wait "$worker"
  echo "$(date -u +%FT%TZ) end $dataset/$label (exit $?)"
  snapshot "$dataset" "$label"
done
echo "$(date -u +%FT%TZ) queue done"
