"""Reference values for Timbre's evaluation metrics (docs/design.md §6), from outside implementations.

usage: metrics_reference.py RATE CLEAN.f32 OTHER.f32 [OTHER.f32 ...]
Files are raw float32. Prints JSON: {"OTHER.f32": {"stoi": .., "estoi": .., "si_sdr": .., ...}, ...}
STOI/ESTOI come from pystoi; SI-SDR, the DAC STFT distance (and at 44.1 kHz the DAC mel distance
and the MR-STFT distance, via dsp_golden.py's numpy versions) are the docs/design.md §6 definitions in numpy.
"""
import json
import sys

import numpy as np
from pystoi import stoi

from dsp_golden import mel_distance, mrstft, stft_mag


def si_sdr(ref, est, eps=1e-8):
    ref = ref - ref.mean()
    est = est - est.mean()
    alpha = np.dot(est, ref) / (np.dot(ref, ref) + eps)
    target = alpha * ref
    return float(10 * np.log10((np.sum(target ** 2) + eps) / (np.sum((target - est) ** 2) + eps)))


def stft_distance(pred, target, windows=(2048, 512)):
    """DAC MultiScaleSTFTLoss: L1 of log10(max(|X|, 1e-5)^2) plus L1 of |X|, summed over windows."""
    total = 0.0
    for w in windows:
        pm, tm = stft_mag(pred, w, w // 4, "reflect"), stft_mag(target, w, w // 4, "reflect")
        total += np.mean(np.abs(np.log10(np.maximum(pm, 1e-5) ** 2) - np.log10(np.maximum(tm, 1e-5) ** 2)))
        total += np.mean(np.abs(pm - tm))
    return float(total)


def main():
    rate = int(sys.argv[1])
    clean = np.fromfile(sys.argv[2], dtype="<f4").astype(np.float64)
    out = {}
    for path in sys.argv[3:]:
        other = np.fromfile(path, dtype="<f4").astype(np.float64)
        out[path] = {
            "stoi": float(stoi(clean, other, rate, extended=False)),
            "estoi": float(stoi(clean, other, rate, extended=True)),
            "si_sdr": si_sdr(clean, other),
            "stft": stft_distance(other, clean),
        }
        if rate == 44100:
            out[path]["mel"] = float(mel_distance(other, clean))
            out[path]["mrstft"] = float(mrstft(other, clean))
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
