"""Usage: make_converted.py OUT_DIR

A plain nn.Sequential CNN converted by nsl.to_static_nsn and
nsl.to_dynamic_nsn (the README's path from PyTorch), scripted and saved as
OUT_DIR/{static,dynamic}.pt with a fresh input (x.npy) and PyTorch's
outputs ({static,dynamic}.out.npy).
"""
import os
import sys

import numpy as np
import torch
from torch import nn

import nsl


def cnn():
    torch.manual_seed(3)
    model = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 10))
    # Non-trivial running statistics, as after training.
    bn = model[1]
    bn.running_mean.uniform_(-0.5, 0.5)
    bn.running_var.uniform_(0.5, 1.5)
    return model


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(7)
    x = torch.rand(2, 3, 16, 16) * 2 - 1
    np.save(os.path.join(out, "x.npy"), x.numpy())
    models = {"static": nsl.to_static_nsn(cnn(), structure="full"),
              "dynamic": nsl.to_dynamic_nsn(cnn(), structure="diagonal", gamma_init=0.3)}
    for name, model in models.items():
        model.eval()
        with torch.no_grad():
            # Move the similarities away from the identity they start at.
            for key, value in model.state_dict().items():
                if "similarity" in key:
                    value.add_(0.1 * torch.randn_like(value))
            y = model(x)
        torch.jit.script(model).save(os.path.join(out, name + ".pt"))
        np.save(os.path.join(out, name + ".out.npy"), y.numpy())


if __name__ == "__main__":
    main()
