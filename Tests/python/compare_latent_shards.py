"""Compares the latent shards of two `timbre vae encode` runs (one process against an MPI job).

  compare_latent_shards.py DIR_A DIR_B

Prints JSON: the number of shards, the datasets or attributes that differ in any way (file:name),
and the largest relative difference of the latent statistics, which are sums that the two runs
may add in another order.
"""
import glob
import json
import os
import sys

import h5py
import numpy as np

a_dir, b_dir = sys.argv[1], sys.argv[2]
differing, stats_rel = [], 0.0
files = sorted(os.path.basename(p) for p in glob.glob(os.path.join(a_dir, "*.latent.h5")))
for name in files:
    with h5py.File(os.path.join(a_dir, name), "r") as a, h5py.File(os.path.join(b_dir, name), "r") as b:
        if sorted(a.keys()) != sorted(b.keys()) or sorted(a.attrs.keys()) != sorted(b.attrs.keys()):
            differing.append(f"{name}:keys")
            continue
        for k in a.keys():
            if not np.array_equal(a[k][()], b[k][()]):
                differing.append(f"{name}:{k}")
        for k in a.attrs.keys():
            x, y = np.asarray(a.attrs[k]), np.asarray(b.attrs[k])
            if k in ("latent_mean", "latent_std"):
                x, y = x.astype(np.float64), y.astype(np.float64)
                stats_rel = max(stats_rel, float(np.max(np.abs(x - y) / np.maximum(np.abs(x), 1e-30))))
            elif not np.array_equal(x, y):
                differing.append(f"{name}:@{k}")
print(json.dumps({"shards": len(files), "differing": differing, "stats_max_rel": stats_rel}))
