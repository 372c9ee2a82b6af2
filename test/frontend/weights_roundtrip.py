#!/usr/bin/env python3
"""Usage: weights_roundtrip.py MODEL.pt ARTIFACT.nslm INPUT.npy

The artifact's weights.safetensors loads back into the PyTorch model by
name: every tensor of the file equals the model's state_dict entry of that
name exactly, every state_dict entry (but batch norm's num_batches_tracked,
which inference never reads) is in the file or aliases (shares storage
with) one that is, and a copy of the model whose state is loaded
from the file computes the same output as the model. Exits 1 otherwise.
"""
import json
import struct
import sys

import numpy as np
import torch

import nsl  # noqa: F401  (registers the nsl:: ops TorchScript needs)

DTYPES = {"F32": np.float32, "I64": np.int64}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + length])
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        if name == "__metadata__":
            continue
        begin, end = entry["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=DTYPES[entry["dtype"]])
        tensors[name] = torch.from_numpy(array.reshape(entry["shape"]).copy())
    return tensors


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    model = torch.jit.load(sys.argv[1])
    model.eval()
    weights = read_safetensors(sys.argv[2] + "/weights.safetensors")
    state = model.state_dict()
    failures = []
    for name, tensor in weights.items():
        if name.startswith("__constant_"):
            continue
        if name not in state:
            failures.append(f"'{name}' is not in the model's state_dict")
        elif not torch.equal(state[name], tensor):
            failures.append(f"'{name}' differs from the model's tensor")
    pointers = {state[name].data_ptr() for name in weights if name in state}
    for name, tensor in state.items():
        # Batch norm's update counter takes no part in inference.
        if name.endswith("num_batches_tracked"):
            continue
        if name not in weights and tensor.data_ptr() not in pointers:
            failures.append(f"the model's '{name}' is missing from the artifact")
    # Load the artifact's values into a second copy and run both.
    copy = torch.jit.load(sys.argv[1])
    copy.eval()
    with torch.no_grad():
        for name, tensor in weights.items():
            if name in state:
                dict(copy.state_dict())[name].copy_(tensor)
        x = torch.from_numpy(np.load(sys.argv[3]))
        y, r = copy(x), model(x)
    y = y[0] if isinstance(y, tuple) else y
    r = r[0] if isinstance(r, tuple) else r
    if not torch.equal(y, r):
        failures.append("the model with the artifact's weights computes something else")
    for failure in failures:
        print("weights: " + failure)
    print(f"weights: {len(weights)} tensors load back by name" if not failures else "")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
