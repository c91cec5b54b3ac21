#!/usr/bin/env bash
# Evaluates every checkpoint of a VAE training run and writes a released model folder:
#   Recipes/release-vae.sh RUN_DIR CORPUS_DIR OUT_DIR
# e.g. Recipes/release-vae.sh Checkpoints/vae-small /data/small Checkpoints/released/vae-small
# OUT_DIR gets model.safetensors (fp16 EMA weights), recipe.json, release.json, REPORT.md and
# eval-metrics.json (the eval-vae suite on every checkpoint) and training-metrics.jsonl (every
# 10th step and every held-out evaluation of the run). The full HTML report with audio stays in
# RUN_DIR/report/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:?run directory}; data=${2:?corpus directory}; out=${3:?output folder}
bin="$(swift build -c release --show-bin-path)/timbre"
"$bin" eval --recipe Recipes/eval-vae.json --vae "$run" --each-checkpoint --data "$data" --out "$run/report"
"$bin" export --checkpoint "$run" --out "$out"
cp "$run/report/report.md" "$out/REPORT.md"
cp "$run/report/metrics.json" "$out/eval-metrics.json"
awk 'NR % 10 == 0 || /"eval"/' "$run/metrics.jsonl" > "$out/training-metrics.jsonl"
echo "released: $out ($(du -sh "$out" | cut -f1)); full report: $run/report/report.html"
