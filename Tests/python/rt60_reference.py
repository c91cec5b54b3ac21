"""numpy implementation of docs/design.md §6's RT60 estimate (same definition as TimbreMetrics'
Reverberation), for checking the Swift one.

usage: rt60_reference.py RATE A.f32 [B.f32 ...]  -> JSON {"A.f32": rt60 or null, ...}
"""
import json
import sys

import numpy as np

FRAME, ACTIVE_DB, MIN_RUN, MIN_GAP, MAX_WINDOW = 0.01, 20.0, 10, 15, 1.0


def offsets(x, sr):
    n = int(sr * FRAME)
    frames = len(x) // n
    e = np.array([np.mean(x[f * n:(f + 1) * n].astype(np.float64) ** 2) for f in range(frames)])
    if frames == 0 or e.max() <= 0:
        return []
    active = e >= e.max() * 10 ** (-ACTIVE_DB / 10)
    out, f = [], 0
    while f < frames:
        if not active[f]:
            f += 1
            continue
        end = f
        while end + 1 < frames and active[end + 1]:
            end += 1
        nxt = end + 1
        while nxt < frames and not active[nxt]:
            nxt += 1
        if end - f + 1 >= MIN_RUN and nxt - end - 1 >= MIN_GAP:
            stop = end + 1
            while stop < nxt and e[stop] <= e[stop - 1] * 10 ** 0.3:
                stop += 1
            start = end * n
            out.append((start, min(stop * n, len(x), start + int(MAX_WINDOW * sr)) - start))
        f = nxt
    return out


def decay_rt60(v, sr):
    v = v.astype(np.float64)
    edc = np.cumsum((v ** 2)[::-1])[::-1]
    if edc[0] <= 0:
        return None
    db = 10 * np.log10(np.maximum(edc / edc[0], 1e-300))
    below = np.nonzero(db < -25)[0]
    if len(below) == 0:
        return None
    stop = below[0]
    idx = np.nonzero(db[:stop] <= -5)[0]
    if len(idx) < 2:
        return None
    slope = np.polyfit(idx / sr, db[idx], 1)[0]
    return -60 / slope if slope < 0 else None


def rt60(x, sr):
    est = [r for s, l in offsets(x, sr) if (r := decay_rt60(x[s:s + l], sr)) is not None]
    return float(np.median(est)) if est else None


if __name__ == "__main__":
    sr = int(sys.argv[1])
    json.dump({p: rt60(np.fromfile(p, dtype="<f4"), sr) for p in sys.argv[2:]}, sys.stdout)
