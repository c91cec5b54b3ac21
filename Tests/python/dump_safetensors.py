"""Loads a safetensors file with the reference library and prints, per tensor, its dtype, shape,
sum (float64) and first three values as JSON, for comparison with Timbre's own view."""
import json
import sys

import numpy as np
from safetensors.numpy import load_file

tensors = load_file(sys.argv[1])
print(json.dumps({
    name: {"dtype": str(a.dtype), "shape": list(a.shape), "sum": float(a.astype(np.float64).sum()),
           "first": [float(x) for x in a.reshape(-1)[:3]]}
    for name, a in tensors.items()
}))
