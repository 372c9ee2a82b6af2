"""Checkpoints of ``nsl-run fit`` in PyTorch.

``nsl-run fit`` writes safetensors files (the format of the ``safetensors``
package, which Debian does not ship, so this module reads it itself):

* ``model.safetensors``: the trained model as a ``state_dict`` — parameters,
  buffers and each batch norm's ``num_batches_tracked`` — for
  ``module.load_state_dict(..., strict=True)``;
* ``checkpoint.safetensors``: the same plus the optimizer state
  (``<param>.momentum_buffer``, ``<param>.exp_avg``, ... and
  ``optimizer.step``), from which ``nsl-run fit --resume`` continues.

Both carry the input normalisation the model was trained with in their
metadata (:func:`input_normalization`)::

    model = nsl.paper_cifar_net(in_channels=1)
    nsl.checkpoint.load_into(model, "nsl-fit/model.safetensors")
"""

import json
import struct

import numpy as np
import torch

_DTYPES = {"F32": np.float32, "F64": np.float64, "I64": np.int64,
           "I32": np.int32, "U8": np.uint8}

# Names of the optimizer state that train_step keeps beside the parameters.
_OPTIMIZER_SUFFIXES = (".momentum_buffer", ".exp_avg", ".exp_avg_sq",
                       ".max_exp_avg_sq")


def read(path):
    """Returns ``(tensors, metadata)`` of the safetensors file at ``path``:
    a dict of name → ``torch.Tensor`` and a dict of strings."""
    with open(path, "rb") as f:
        data = f.read()
    if len(data) < 8:
        raise ValueError(f"{path}: not a safetensors file (too short)")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise ValueError(f"{path}: header length {length} exceeds the file")
    header = json.loads(data[8:8 + length])
    metadata = header.pop("__metadata__", {}) or {}
    body = data[8 + length:]
    tensors = {}
    for name, entry in header.items():
        dtype = _DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype "
                             f"{entry['dtype']}")
        begin, end = entry["data_offsets"]
        array = np.frombuffer(body[begin:end], dtype=dtype)
        tensors[name] = torch.from_numpy(
            array.reshape(entry["shape"]).copy())
    return tensors, metadata


def is_optimizer_state(name):
    return name == "optimizer.step" or name.endswith(_OPTIMIZER_SUFFIXES)


def state_dict(path):
    """The model's ``state_dict`` in a model or checkpoint file (the
    optimizer state left out)."""
    tensors, _ = read(path)
    return {name: tensor for name, tensor in tensors.items()
            if not is_optimizer_state(name)}


def load_into(module, path, strict=True):
    """``module.load_state_dict(state_dict(path), strict=strict)``."""
    return module.load_state_dict(state_dict(path), strict=strict)


def input_normalization(path):
    """``{"input": name, "mean": [...], "std": [...]}`` the model was
    trained with, or None."""
    _, metadata = read(path)
    text = metadata.get("nsl.input_normalization")
    return json.loads(text) if text else None
