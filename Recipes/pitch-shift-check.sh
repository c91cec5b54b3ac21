#!/usr/bin/env bash
# Does `vae reconstruct --pitch-shift` move the pitch by the intended ratio? For one clip of each
# of N held-out speakers (test split, first 5 s) of a corpus, reconstructs with shifts 0, +S and
# −S semitones and prints the median F0 (YIN, `timbre compare`) of the original and of each
# reconstruction, the ratios shifted/unshifted, and how far each is from 2^(±S/12):
#   Recipes/pitch-shift-check.sh VAE_CHECKPOINT CORPUS_DIR [N=12] [S=4] [OUT_DIR]
# Needs Recipes/setup.sh's Python environment (h5py, numpy) to cut the clips.
set -euo pipefail
cd "$(dirname "$0")/.."
ck=${1:?VAE checkpoint}; corpus=${2:?corpus directory}; n=${3:-12}; s=${4:-4}; out=${5:-Checkpoints/pitch-shift-check}
bin="$(swift build -c release --show-bin-path)/timbre"
mkdir -p "$out"
.build/python/bin/python - "$corpus" "$out" "$n" <<'PY'
import glob, sys, wave
import h5py, numpy as np
corpus, out, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
seen = set()
for shard in sorted(glob.glob(corpus + "/test-*.audio.h5")):
    with h5py.File(shard) as f:
        off, spk = f["offsets"][:], [s.decode() if isinstance(s, bytes) else s for s in f["speaker"][()]]
        for i, sp in enumerate(spk):
            if sp in seen or off[i + 1] - off[i] < 2 * 44100 or len(seen) >= n: continue
            seen.add(sp)
            x = f["audio"][off[i]:min(off[i + 1], off[i] + 5 * 44100)]
            with wave.open(f"{out}/{len(seen) - 1:02d}.wav", "wb") as w:
                w.setnchannels(1); w.setsampwidth(2); w.setframerate(44100); w.writeframes(x.astype("<i2").tobytes())
print(f"{len(seen)} clips of {len(seen)} speakers", file=sys.stderr)
PY
median() { "$bin" compare "$1" "$2" --json | .build/python/bin/python -c 'import json,sys; m=json.load(sys.stdin); print(m["f0_median_ref"] or "nan", m["f0_median"] or "nan")'; }
printf "%-6s %9s %9s %9s %9s %8s %8s\n" clip f0_orig f0_rec f0_up f0_down up/rec down/rec
for x in "$out"/[0-9][0-9].wav; do
  b=${x%.wav}
  for shift in 0 "$s" "-$s"; do "$bin" vae reconstruct --checkpoint "$ck" --pitch-shift "$shift" "$x" "$b-shift$shift.wav" >/dev/null; done
  read -r f0 r0 < <(median "$x" "$b-shift0.wav")
  read -r _ up < <(median "$x" "$b-shift$s.wav")
  read -r _ dn < <(median "$x" "$b-shift-$s.wav")
  .build/python/bin/python -c "
import sys; f0, r0, up, dn, s = map(float, sys.argv[1:6])
print(f'{sys.argv[6]:<6} {f0:9.1f} {r0:9.1f} {up:9.1f} {dn:9.1f} {up / r0:8.4f} {dn / r0:8.4f}')" "$f0" "$r0" "$up" "$dn" "$s" "$(basename "$b")"
done | tee "$out/shifts.txt"
.build/python/bin/python - "$out/shifts.txt" "$s" <<'PY'
import sys, math
s = float(sys.argv[2]); want_up, want_dn = 2 ** (s / 12), 2 ** (-s / 12)
rows = [l.split() for l in open(sys.argv[1]) if l.strip()]
ups = [float(r[5]) for r in rows if r[5] != "nan"]; dns = [float(r[6]) for r in rows if r[6] != "nan"]
err = lambda xs, w: [abs(x / w - 1) for x in xs]
for name, xs, w in (("+", ups, want_up), ("-", dns, want_dn)):
    e = err(xs, w)
    print(f"shift {name}{s:g}: intended ratio {w:.4f}; measured median {sorted(xs)[len(xs) // 2]:.4f}; "
          f"clips within 3 %: {sum(v <= 0.03 for v in e)}/{len(e)}; worst error {max(e) * 100:.1f} %")
PY
