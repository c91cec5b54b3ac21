#!/usr/bin/env python3
"""Converts a legacy (pre-1.6, non-zip) torch checkpoint to safetensors with the standard library only.

usage: torch_legacy_to_safetensors.py IN.pt OUT.safetensors [--key model_state]

The legacy format is a sequence of pickles: magic number, protocol version (1001), system info,
the object (tensors appear as persistent ids naming a storage, rebuilt by
torch._utils._rebuild_tensor_v2), the list of storage keys, then each storage as a little-endian
int64 element count followed by its raw bytes. Only contiguous float32 tensors are supported —
enough for resemblyzer's pretrained.pt (the GE2E speaker encoder, docs/design.md §6).
"""
import json
import os
import pickle
import struct
import sys

MAGIC = 0x1950A86A20F9469CFC6C
ELEMENT = {"FloatStorage": ("F32", 4), "DoubleStorage": ("F64", 8), "LongStorage": ("I64", 8), "IntStorage": ("I32", 4)}


class Storage:
    def __init__(self, kind):
        self.kind = kind


class Tensor:
    def __init__(self, key, kind, offset, size, stride):
        self.key, self.kind, self.offset, self.size, self.stride = key, kind, offset, tuple(size), tuple(stride)


def rebuild_tensor(storage, offset, size, stride, *rest):
    key, kind = storage
    return Tensor(key, kind, offset, size, stride)


class Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if module == "torch._utils" and name in ("_rebuild_tensor", "_rebuild_tensor_v2"):
            return rebuild_tensor
        if module == "torch" and name.endswith("Storage"):
            return name
        if module == "collections" and name == "OrderedDict":
            import collections
            return collections.OrderedDict
        raise pickle.UnpicklingError(f"unsupported class {module}.{name}")

    kinds = {}

    def persistent_load(self, pid):
        # ('storage', storage_type, root_key, location, size, view_metadata)
        if pid[0] != "storage":
            raise pickle.UnpicklingError(f"unsupported persistent id {pid[0]!r}")
        Unpickler.kinds[pid[2]] = pid[1]
        return (pid[2], pid[1])


def read_legacy(path):
    with open(path, "rb") as f:
        if Unpickler(f).load() != MAGIC:
            raise SystemExit(f"{path}: not a legacy torch file (bad magic number; a zip-format file needs torch)")
        version = Unpickler(f).load()
        if version != 1001:
            raise SystemExit(f"{path}: protocol version {version}, expected 1001")
        Unpickler(f).load()  # system info
        obj = Unpickler(f).load()
        keys = Unpickler(f).load()
        storages = {}
        for key in keys:
            kind = Unpickler.kinds.get(key)
            if kind not in ELEMENT:
                raise SystemExit(f"{path}: storage {key} has unsupported type {kind}")
            (count,) = struct.unpack("<q", f.read(8))
            raw = f.read(count * ELEMENT[kind][1])
            if len(raw) != count * ELEMENT[kind][1]:
                raise SystemExit(f"{path}: truncated (storage {key} needs {count} elements)")
            storages[key] = (count, raw)
        return obj, storages


def contiguous(t):
    expected, acc = [], 1
    for s in reversed(t.size):
        expected.insert(0, acc)
        acc *= s
    return tuple(expected) == t.stride or acc <= 1


def main():
    args = sys.argv[1:]
    key = "model_state"
    if "--key" in args:
        i = args.index("--key")
        key = args[i + 1]
        del args[i:i + 2]
    if len(args) != 2:
        raise SystemExit(__doc__)
    src, dst = args
    obj, storages = read_legacy(src)
    state = obj[key] if key and isinstance(obj, dict) and key in obj else obj
    header, blobs, offset = {}, [], 0
    for name, t in state.items():
        if not isinstance(t, Tensor):
            continue
        if t.kind != "FloatStorage":
            raise SystemExit(f"{src}: {name} is {t.kind}; only float32 tensors are supported")
        if not contiguous(t):
            raise SystemExit(f"{src}: {name} is not contiguous (stride {t.stride})")
        count = 1
        for s in t.size:
            count *= s
        n_storage, raw = storages[t.key]
        data = raw[t.offset * 4:(t.offset + count) * 4]
        if len(data) != count * 4:
            raise SystemExit(f"{src}: {name} needs {count} floats at offset {t.offset}, storage holds {n_storage}")
        header[name] = {"dtype": "F32", "shape": list(t.size), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    header["__metadata__"] = {"format": "timbre", "source": os.path.basename(src), "converted_by": "torch_legacy_to_safetensors.py"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = dst + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, dst)
    print(f"{dst}: {len(blobs)} tensors, {offset // 4} parameters")


if __name__ == "__main__":
    main()
