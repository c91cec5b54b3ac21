"""Synthetic corpora for Recipes/pitch-probe.sh: six 2.5 s clips of harmonic tones whose F0
glides between 80 and 175 Hz (0.4 Hz vibrato-like sweep, a different phase and offset per clip).

  python Recipes/pitch-probe-tones.py saw|vowel OUT_DIR     (writes OUT_DIR/audio/*.wav, meta.csv)

saw:   harmonics at 1/k amplitude under a slow fade: the fundamental carries 80 % of the energy.
       vae-small's design learned the pitch of one set of four such clips within 600 steps, but
       not of this script's four (one clip differs), still on its grid at 1,000.
vowel: the same glides differentiated (a weak fundamental, 4-7 % of the energy below 300 Hz; the
       espeak clips have 11-18 %), through three formant resonators (F1 400-800 Hz and
       F2 1,300-1,550 Hz by clip, F3 2,600 Hz) and gated into 3.5 Hz syllables. It reproduces the
       espeak failure in 200 steps: reconstructions voiced at 86.1-86.2 Hz whatever the clip's F0.
Needs numpy only (Recipes/setup.sh's environment)."""
import sys, wave, os
import numpy as np

SR, SECONDS, CLIPS = 44100, 2.5, 6


def resonator(x, f, bw):
    """Two-pole resonance at f Hz (bandwidth bw Hz), f may vary per sample."""
    r = np.exp(-np.pi * bw / SR)
    a1 = -2 * r * np.cos(2 * np.pi * np.broadcast_to(f, x.shape) / SR)
    y, y1, y2 = np.zeros_like(x), 0.0, 0.0
    for n in range(len(x)):
        y[n] = x[n] - a1[n] * y1 - r * r * y2
        y1, y2 = y[n], y1
    return y


def clip(kind, i):
    t = np.arange(int(SECONDS * SR)) / SR
    f0 = 110 + 30 * np.sin(2 * np.pi * 0.4 * t + i) + 5 * i
    phase = 2 * np.pi * np.cumsum(f0) / SR
    harmonics = range(1, 30) if kind == "saw" else range(1, 60)
    top = 8000 if kind == "saw" else 10000
    x = sum(np.sin(k * phase) / k for k in harmonics if k * f0.max() < top)
    if kind == "saw":
        x = x * np.clip(np.sin(np.pi * t / SECONDS) * 1.5, 0, 1)
        return 0.2 * x / np.abs(x).max()
    src = np.diff(x, prepend=0)
    x = (resonator(src, 600 + 200 * np.sin(i), 90)
         + 0.7 * resonator(src, 1300 + 50 * i, 110) + 0.3 * resonator(src, 2600, 160))
    x = x * np.clip(np.sin(2 * np.pi * 3.5 * t + i) * 3, 0, 1)
    return 0.5 * x / np.abs(x).max()


def main():
    if len(sys.argv) != 3 or sys.argv[1] not in ("saw", "vowel"):
        sys.exit("usage: pitch-probe-tones.py saw|vowel OUT_DIR")
    kind, out = sys.argv[1], sys.argv[2]
    os.makedirs(f"{out}/audio", exist_ok=True)
    rows = ["file,text,speaker"]
    for i in range(CLIPS):
        with wave.open(f"{out}/audio/{i}.wav", "wb") as w:
            w.setnchannels(1); w.setsampwidth(2); w.setframerate(SR)
            w.writeframes((clip(kind, i) * 32767).astype("<i2").tobytes())
        rows.append(f"{i}.wav,{kind} tone {i},{kind}{i % 2}")
    with open(f"{out}/meta.csv", "w") as f:
        f.write("\n".join(rows) + "\n")


main()
