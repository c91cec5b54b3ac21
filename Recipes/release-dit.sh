#!/usr/bin/env bash
# Evaluates an MM-DiT training run and writes a released model folder:
#   Recipes/release-dit.sh RUN_DIR CORPUS_DIR VAE OUT_DIR
# e.g. Recipes/release-dit.sh Checkpoints/dit-small /data/small Checkpoints/released/vae-small Checkpoints/released/dit-small
# CORPUS_DIR is the audio corpus whose latents trained the run (its test split is evaluated);
# VAE the VAE that encoded them. OUT_DIR gets model.safetensors (fp16 EMA weights, with the latent
# statistics and corpus speaking rate the checkpoint carries), recipe.json, release.json,
# REPORT.md and eval-metrics.json (the eval-dit suite), samples.md (Recipes/samples.json) and
# training-metrics.jsonl (every 10th step). Reports with audio stay in RUN_DIR/report*/ (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."
run=${1:?run directory}; data=${2:?corpus directory}; vae=${3:?VAE}; out=${4:?output folder}
bin="$(swift build -c release --show-bin-path)/timbre"
"$bin" eval --recipe Recipes/eval-dit.json --checkpoint "$run" --vae "$vae" --data "$data" --out "$run/report"
"$bin" eval --recipe Recipes/samples.json --checkpoint "$run" --vae "$vae" --data "$data" --out "$run/report-samples"
"$bin" export --checkpoint "$run" --out "$out"
cp "$run/report/report.md" "$out/REPORT.md"
cp "$run/report/metrics.json" "$out/eval-metrics.json"
cp "$run/report-samples/report.md" "$out/samples.md"
awk 'NR % 10 == 0' "$run/metrics.jsonl" > "$out/training-metrics.jsonl"
echo "released: $out ($(du -sh "$out" | cut -f1)); reports: $run/report/report.html, $run/report-samples/report.html"
