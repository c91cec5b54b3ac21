#!/usr/bin/env bash
# Can a VAE recipe learn pitch at all? Overfits it on the first 4 training clips of the tiny
# espeak corpus (one voice, YIN F0 111-138 Hz, 9.9 s) and reconstructs those same clips:
#   Recipes/pitch-probe.sh [--tones saw|vowel] [--steps N] [RECIPE] [OUT_DIR]
# RECIPE (default Recipes/vae-pitch-probe.json: vae-small's model, 16,384-sample crops, lr 6e-4,
# 1,000 steps, ~12 min on 2 cores) is used as it is when it has "data": {"max_clips": 4}; any
# other VAE recipe (vae-small-pitch.json, …) contributes its model and losses to the probe's data
# and training settings (OUT_DIR/probe-recipe.json). --steps N trains N steps instead. For each
# checkpoint it prints, per clip, the share of the original's voiced frames still voiced
# (voiced_recall), the share voiced within 5 % of the original's F0 (f0_5pct), the F0 RMSE over
# frames voiced in both, the share whose best period is within 5 % whatever YIN's voicing
# threshold says (best_5pct) and the median aperiodicity there (aper; voiced below 0.1), the mel distance, the MR-STFT distance, STOI, and the comb share: the
# share of the reconstruction's 50-400 Hz energy within 1 Hz of multiples of 86.13 Hz (the grid
# a pitch-free decoder renders voicing on; the originals score 0.003-0.021). A model that memorises these
# clips should keep their pitch; vae-small's design kept none (README, Checkpoints/released).
# --tones trains on synthetic harmonic glides instead (F0 80-175 Hz, Recipes/pitch-probe-tones.py):
# `saw` has a dominant fundamental (vae-small's design learned the pitch of one such set of clips in
# 600 steps, not of this one); `vowel` (formants, weak fundamental, syllable gating) reproduces the
# espeak failure within 200 steps. Default OUT_DIR: Checkpoints/pitch-probe[-saw|-vowel].
# Needs Recipes/setup.sh's Python environment (h5py, numpy) to make and cut the clips.
set -euo pipefail
cd "$(dirname "$0")/.."
tones=
if [ "${1:-}" = --tones ]; then
  tones=${2:-}; shift 2 || true
  [ "$tones" = saw ] || [ "$tones" = vowel ] || { echo "pitch-probe.sh: --tones takes saw or vowel, not '$tones'" >&2; exit 2; }
fi
steps=
if [ "${1:-}" = --steps ]; then
  steps=${2:-}; shift 2 || true
  [[ "$steps" =~ ^[1-9][0-9]*$ ]] || { echo "pitch-probe.sh: --steps takes a positive whole number, not '$steps'" >&2; exit 2; }
fi
recipe=${1:-Recipes/vae-pitch-probe.json}; out=${2:-Checkpoints/pitch-probe${tones:+-$tones}}
[ -f "$recipe" ] || { echo "pitch-probe.sh: no recipe at $recipe" >&2; exit 2; }
mkdir -p "$out"
python3 - "$recipe" Recipes/vae-pitch-probe.json "$out/probe-recipe.json" "$steps" <<'PY'
import json, sys
recipe, base = (json.load(open(p)) for p in sys.argv[1:3])
if (recipe.get("data") or {}).get("max_clips") != 4:
    base["model"], base["losses"] = recipe["model"], recipe.get("losses", base["losses"])
    recipe = base
if sys.argv[4]:
    recipe["training"]["steps"] = int(sys.argv[4])
    recipe["training"]["checkpoint_every"] = min(recipe["training"]["checkpoint_every"], int(sys.argv[4]))
json.dump(recipe, open(sys.argv[3], "w"), indent=2)
PY
recipe=$out/probe-recipe.json
bin="$(swift build -c release --show-bin-path)/timbre"
if [ -z "$tones" ]; then
  corpus=Checkpoints/tiny-corpus
  [ -f "$corpus/manifest.json" ] || "$bin" corpus build --recipe Datasets/tiny.json --out "$corpus"
else
  corpus=Checkpoints/pitch-probe-$tones-corpus
  if [ ! -f "$corpus/manifest.json" ]; then
    .build/python/bin/python Recipes/pitch-probe-tones.py "$tones" "$corpus.src"
    "$bin" corpus import --audio "$corpus.src/audio" --metadata "$corpus.src/meta.csv" --out "$corpus" --held-out-fraction 0.2
  fi
fi
mkdir -p "$out/clips"
.build/python/bin/python - "$corpus" "$out/clips" <<'PY'
import sys, glob, wave, h5py
shard = sorted(glob.glob(sys.argv[1] + "/train-*.audio.h5"))[0]
with h5py.File(shard) as f:
    audio, offsets = f["audio"], f["offsets"][:]
    for i in range(4):
        with wave.open(f"{sys.argv[2]}/{i}.wav", "wb") as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(44100)
            w.writeframes(audio[offsets[i]:offsets[i + 1]].astype("<i2").tobytes())
PY
[ -f "$out/metrics.jsonl" ] && resume=(--resume auto) || resume=()
"$bin" train vae --recipe "$recipe" --data "$corpus" --out "$out" "${resume[@]}"
for ck in "$out"/step-*; do
  for i in 0 1 2 3; do
    "$bin" vae reconstruct --checkpoint "$ck" "$out/clips/$i.wav" "$out/clips/$i-$(basename "$ck").wav" >/dev/null
    "$bin" compare "$out/clips/$i.wav" "$out/clips/$i-$(basename "$ck").wav" --json | .build/python/bin/python -c '
import json, sys, wave
import numpy as np
m = json.load(sys.stdin); f = lambda k, p: "-" if m.get(k) is None else p % m[k]
with wave.open(sys.argv[3]) as w:
    x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(float)
p = np.abs(np.fft.rfft(x)) ** 2
hz = np.fft.rfftfreq(len(x), 1 / 44100)
band = (hz >= 50) & (hz <= 400)
grid = np.abs(hz - np.round(hz / (44100 / 512)) * (44100 / 512)) <= 1
m["comb"] = p[band & grid].sum() / max(p[band].sum(), 1e-30)
print(sys.argv[1], "clip", sys.argv[2], "voiced_recall", f("voiced_recall", "%.2f"), "f0_5pct", f("f0_within_5pct", "%.2f"), "best_5pct", f("f0_best_within_5pct", "%.2f"), "aper", f("aperiodicity", "%.2f"),
      "f0_rmse", f("f0_rmse", "%.1f"), "F0", f("f0_median_ref", "%.1f"), "->", f("f0_median", "%.1f"), "mel", f("mel", "%.3f"),
      "mrstft", f("mrstft", "%.3f"), "stoi", f("stoi", "%.3f"), "comb", f("comb", "%.3f"))' "$(basename "$ck")" "$i" "$out/clips/$i-$(basename "$ck").wav"
  done
done
