#!/usr/bin/env python3
"""PyTorch oracle for the reference optimizers (TorchOptimTest.cpp).

Usage: torch_optim_oracle.py DIR

DIR holds `manifest.txt`, one case per line:

    NAME OP key=value key=value ...

OP is `sgd` (keys momentum, dampening, weight_decay, nesterov) or `adam`
(keys beta1, beta2, eps, weight_decay, amsgrad); `steps` is the number of
steps. The case's operands are `NAME.param.npy` (the initial parameter),
`NAME.grads.npy` (the gradient of every step, stacked: [steps, *shape]) and
`NAME.lr.npy` (the learning rate of every step, [steps]). This script runs
torch.optim.SGD / torch.optim.Adam of PyTorch 1.13 (their default
single-tensor path) on the parameter in float64, setting the group's lr and
the parameter's .grad before every step, and writes, stacked over the steps,
the parameter after each step (`NAME.params.npy`) and each tensor of the
optimizer's state after each step (`NAME.state.KEY.npy`: momentum_buffer;
exp_avg, exp_avg_sq, max_exp_avg_sq) and Adam's step count
(`NAME.state.step.npy`). A case that raises writes `NAME.error.txt` instead,
so that one bad case does not hide the others.
"""

import sys
import traceback

try:
    import numpy as np
    import torch
except ImportError as error:
    sys.exit(
        f"torch_optim_oracle: cannot import {error.name} with {sys.executable}: "
        "the PyTorch optimizer tests need numpy and torch 1.13 "
        "(Debian: python3-numpy python3-torch; scripts/setup.sh installs them)"
    )

F64 = torch.float64


def flag(attrs, key):
    return attrs[key] == "1"


def make_optimizer(op, param, attrs, lr):
    if op == "sgd":
        return torch.optim.SGD(
            [param],
            lr=lr,
            momentum=float(attrs["momentum"]),
            dampening=float(attrs["dampening"]),
            weight_decay=float(attrs["weight_decay"]),
            nesterov=flag(attrs, "nesterov"),
        )
    if op == "adam":
        return torch.optim.Adam(
            [param],
            lr=lr,
            betas=(float(attrs["beta1"]), float(attrs["beta2"])),
            eps=float(attrs["eps"]),
            weight_decay=float(attrs["weight_decay"]),
            amsgrad=flag(attrs, "amsgrad"),
        )
    raise ValueError(f"unknown optimizer {op}")


def run_case(directory, name, op, attrs):
    def load(operand):
        return torch.from_numpy(np.load(f"{directory}/{name}.{operand}.npy")).to(F64)

    param = load("param").clone().requires_grad_(True)
    grads = load("grads")
    lrs = load("lr")
    steps = int(attrs["steps"])
    if grads.shape != (steps, *param.shape) or lrs.shape != (steps,):
        raise ValueError(
            f"grads {tuple(grads.shape)} / lr {tuple(lrs.shape)} do not hold "
            f"{steps} steps of a {tuple(param.shape)} parameter"
        )
    optimizer = make_optimizer(op, param, attrs, float(lrs[0]))
    params, states = [], {}
    for s in range(steps):
        for group in optimizer.param_groups:
            group["lr"] = float(lrs[s])
        param.grad = grads[s].clone()
        optimizer.step()
        params.append(param.detach().clone())
        for key, value in optimizer.state[param].items():
            if value is None:
                continue
            value = torch.as_tensor(value).detach().to(F64).clone()
            states.setdefault(key, []).append(value)
    np.save(f"{directory}/{name}.params.npy", torch.stack(params).numpy())
    for key, values in states.items():
        if len(values) != steps:
            raise ValueError(f"state {key} exists after {len(values)} of {steps} steps")
        stacked = torch.stack(values)
        if key == "step":
            stacked = stacked.reshape(steps)
        np.save(f"{directory}/{name}.state.{key}.npy", stacked.numpy())


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: torch_optim_oracle.py DIR")
    directory = sys.argv[1]
    print(f"torch_optim_oracle: torch {torch.__version__}, numpy {np.__version__}")
    torch.set_default_dtype(F64)
    with open(f"{directory}/manifest.txt") as manifest:
        lines = [line.split() for line in manifest if line.strip()]
    for name, op, *pairs in lines:
        attrs = dict(pair.split("=", 1) for pair in pairs)
        try:
            run_case(directory, name, op, attrs)
        except Exception:  # reported per case by the C++ test
            with open(f"{directory}/{name}.error.txt", "w") as f:
                f.write(traceback.format_exc())
    print(f"torch_optim_oracle: {len(lines)} cases done")


if __name__ == "__main__":
    main()
