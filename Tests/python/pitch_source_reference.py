"""Replays the pitch source of a dumped VAE step (docs/pitch.md, "The source").

Usage: pitch_source_reference.py STEP.safetensors
Renders the harmonic part of the excitation from `batch.pitch` with the documented equations
(float64) and compares it with `batch.source`, which adds sigma * N(0, 1) noise. Prints
{"residual_mean", "residual_std", "harmonic_rms", "max_abs_residual"}.
"""
import json
import sys

import numpy as np
from safetensors import safe_open

path = sys.argv[1]
with safe_open(path, "np") as f:
    meta = f.metadata()
    pitch = f.get_tensor("batch.pitch").astype(np.float64)
    source = f.get_tensor("batch.source").astype(np.float64)
config = json.loads(meta["config"])
hop = int(np.prod(config["strides"]))
p = config["pitch"]
r, K, a = p.get("per_frame", 4), p.get("harmonics", 8), p.get("amplitude", 0.1)
B, C, F = pitch.shape
T = F * hop
n = np.arange(T)
residual, harmonic = [], []
for b in range(B):
    lf0 = pitch[b, :r, :].T.reshape(-1)   # value j = frame j // r, sub-index j % r
    v = pitch[b, r:, :].T.reshape(-1)
    pos = (np.arange(F * r) + 0.5) * hop / r
    lf0_n, v_n = np.interp(n, pos, lf0), np.interp(n, pos, v)
    f0 = np.clip(np.exp(lf0_n), 40, 1000)
    phase = 2 * np.pi * np.cumsum(f0) / 44100
    e = np.zeros(T)
    for k in range(1, K + 1):
        e += np.where(k * f0 < 22050, np.sin(k * phase) / k, 0)
    e *= np.clip(v_n, 0, 1) * a
    residual.append(source[b, 0] - e)
    harmonic.append(e)
res, har = np.concatenate(residual), np.concatenate(harmonic)
print(json.dumps({"residual_mean": float(res.mean()), "residual_std": float(res.std()),
                  "harmonic_rms": float(np.sqrt((har ** 2).mean())), "max_abs_residual": float(np.abs(res).max())}))
