"""Reference for the pitch track of a pitch-carrying VAE (docs/pitch.md, "The pitch track").

Usage: pitch_track_reference.py SIGNAL_16K.f32 CENTRES.json
Prints {"f0": [...], "lf0": [...], "voiced": [...]}.

An independent, direct implementation of the definition: YIN (40 ms windows at 16 kHz,
f0 in [50, 600] Hz, threshold 0.1) with the difference function summed term by term, on windows
centred at the given positions (zeros outside the signal); then the median of the voiced values
among the 5 centred on each voiced value, and log-F0 interpolated linearly through unvoiced runs
(flat at the ends, ln 100 when nothing is voiced).
"""
import json
import sys

import numpy as np

SR, W, FMIN, FMAX, THRESHOLD = 16000, 640, 50.0, 600.0, 0.1


def yin(p):
    tau_min, tau_max = int(SR / FMAX), int(SR / FMIN)
    if np.dot(p[:W], p[:W]) < 1e-7 * W:
        return 0.0
    d = np.zeros(tau_max + 2)
    for tau in range(1, tau_max + 2):
        diff = p[:W] - p[tau:tau + W]
        d[tau] = np.dot(diff, diff)
    dn = np.ones(tau_max + 2)
    running = np.cumsum(d[1:])
    for tau in range(1, tau_max + 2):
        r = running[tau - 1]
        dn[tau] = d[tau] * tau / r if r > 0 else 1.0
    found = -1
    tau = tau_min
    while tau <= tau_max:
        if dn[tau] < THRESHOLD:
            while tau + 1 <= tau_max and dn[tau + 1] < dn[tau]:
                tau += 1
            found = tau
            break
        tau += 1
    if found < 0:
        return 0.0
    t = float(found)
    a, b, c = dn[found - 1], dn[found], dn[found + 1]
    den = a - 2 * b + c
    if abs(den) > 1e-12:
        t += 0.5 * (a - c) / den
    return SR / t


def main():
    x = np.fromfile(sys.argv[1], dtype="<f4").astype(np.float64)
    centres = json.load(open(sys.argv[2]))
    tau_max = int(SR / FMIN)
    need = W + tau_max + 2
    pad = 4 * need
    xp = np.concatenate([np.zeros(pad), x, np.zeros(pad + need)])
    f0 = []
    for c in centres:
        start = int(np.floor(c + 0.5)) - W // 2 + pad
        f0.append(yin(xp[start:start + need]))
    f0 = np.array(f0)
    med = np.zeros_like(f0)
    for j in range(len(f0)):
        if f0[j] > 0:
            v = f0[max(0, j - 2):j + 3]
            med[j] = np.median(v[v > 0])
    voiced = (med > 0).astype(float)
    idx = np.nonzero(med > 0)[0]
    if len(idx) == 0:
        lf0 = np.full(len(med), np.log(100.0))
    else:
        lf0 = np.interp(np.arange(len(med)), idx, np.log(med[idx]))
    print(json.dumps({"f0": med.tolist(), "lf0": lf0.tolist(), "voiced": voiced.tolist()}))


main()
