"""h5py side of the shard round-trip tests (docs/design.md §4).

  shards.py read FILE           print a JSON summary of a Timbre audio/latent shard
  shards.py write-audio FILE    write a small audio shard with h5py (libver='earliest')
  shards.py write-bad FILE KIND write a shard broken in one way (KIND: offsets, missing, format, nan)
"""
import json
import sys

import h5py
import numpy as np

META = ["utterance_id", "speaker", "text", "description", "language", "variant", "attributes"]


def read(path):
    with h5py.File(path, "r") as f:
        out = {k: (v.decode() if isinstance(v, bytes) else (v.tolist() if hasattr(v, "tolist") else v)) for k, v in f.attrs.items()}
        for k in META:
            out[k] = [s.decode() if isinstance(s, bytes) else s for s in f[k][()]]
        if "audio" in f:
            a = f["audio"][()]
            off = f["offsets"][()]
            out["dtype"] = str(a.dtype)
            out["offsets"] = off.tolist()
            out["clip_sums"] = [float(a[off[i]:off[i + 1]].astype(np.float64).sum()) for i in range(len(off) - 1)]
            out["fletcher32"] = {k: bool(f[k].fletcher32) for k in ("audio", "offsets")}
        else:
            lat = f["latents"][()]
            out["latents_shape"] = list(lat.shape)
            out["frame_offsets"] = f["frame_offsets"][()].tolist()
            out["latents_sum"] = float(lat.astype(np.float64).sum())
            out["fletcher32"] = {k: bool(f[k].fletcher32) for k in ("latents", "frame_offsets")}
    print(json.dumps(out))


def write_audio(path, bad=None):
    rng = np.random.default_rng(0)
    clips = [rng.integers(-3000, 3000, size=n).astype(np.int16) for n in (441, 1000, 3)]
    audio = np.concatenate(clips)
    offsets = np.cumsum([0] + [len(c) for c in clips]).astype(np.int64)
    if bad == "offsets":
        offsets[2] = offsets[1] - 5
    with h5py.File(path, "w", libver="earliest") as f:
        if bad == "nan":
            audio = audio.astype(np.float32) / 32768
            audio[7] = np.nan
        f.create_dataset("audio", data=audio, chunks=(256,))
        f.create_dataset("offsets", data=offsets)
        s = h5py.string_dtype("utf-8")
        for k in META:
            if bad == "missing" and k == "speaker":
                continue
            vals = {"text": ["héllo wörld", "[S1] hi [S2] there", "ünïcode ✓"],
                    "attributes": ['{"gender":"female"}', "{}", "{}"]}.get(k, [f"{k}-{i}" for i in range(3)])
            f.create_dataset(k, data=np.array(vals, dtype=object), dtype=s)
        f.attrs["format"] = "timbre.latent" if bad == "format" else "timbre.audio"
        f.attrs["version"] = 1
        f.attrs["sample_rate"] = 44100
    print(json.dumps({"clip_sums": [float(c.astype(np.float64).sum()) for c in clips]}))


if __name__ == "__main__":
    cmd, path = sys.argv[1], sys.argv[2]
    if cmd == "read":
        read(path)
    elif cmd == "write-audio":
        write_audio(path)
    elif cmd == "write-bad":
        write_audio(path, bad=sys.argv[3])
