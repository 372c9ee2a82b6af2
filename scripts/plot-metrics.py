#!/usr/bin/env python3
"""Plots the curves of one or more `nsl-run fit` runs as a PNG: the training
loss per step (with its moving average) and the test accuracy per epoch.

Usage: scripts/plot-metrics.py RUN_DIR [RUN_DIR ...] -o curves.png
                               [--labels A,B,...] [--title TEXT]

RUN_DIR is a --output-dir of nsl-run fit, holding metrics.jsonl (or
steps.csv and epochs.csv). Needs Debian's python3-matplotlib.
"""
import argparse
import csv
import json
import os
import sys

import matplotlib
import matplotlib.ticker

matplotlib.use("Agg")  # No display: write files only.
import matplotlib.pyplot as plt  # noqa: E402


def read_run(folder):
    """(steps, epochs): lists of dicts of the run's metrics."""
    jsonl = os.path.join(folder, "metrics.jsonl")
    if os.path.exists(jsonl):
        steps, epochs = [], []
        with open(jsonl) as f:
            for number, line in enumerate(f, 1):
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as e:
                    sys.exit(f"plot-metrics: error: {jsonl}:{number}: {e}")
                (steps if record.get("kind") == "step" else epochs).append(
                    record)
        return steps, epochs
    steps_csv = os.path.join(folder, "steps.csv")
    epochs_csv = os.path.join(folder, "epochs.csv")
    if not os.path.exists(steps_csv):
        sys.exit(f"plot-metrics: error: {folder} holds neither metrics.jsonl "
                 "nor steps.csv (is it an nsl-run fit --output-dir?)")

    def rows(path):
        if not os.path.exists(path):
            return []
        with open(path) as f:
            return [{k: float(v) for k, v in row.items() if v != ""}
                    for row in csv.DictReader(f)]

    return rows(steps_csv), rows(epochs_csv)


def moving_average(values, window):
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("runs", nargs="+", metavar="RUN_DIR")
    parser.add_argument("-o", "--output", required=True, help="PNG file")
    parser.add_argument("--labels", help="comma-separated, one per run")
    parser.add_argument("--title", default="nsl-run fit")
    args = parser.parse_args()
    labels = args.labels.split(",") if args.labels else [
        os.path.basename(os.path.normpath(r)) for r in args.runs]
    if len(labels) != len(args.runs):
        sys.exit("plot-metrics: error: --labels needs one label per run")

    figure, (loss_axis, accuracy_axis) = plt.subplots(1, 2, figsize=(11, 4))
    for run, label in zip(args.runs, labels):
        steps, epochs = read_run(run)
        if steps:
            x = [s["step"] for s in steps]
            loss = [s["loss"] for s in steps]
            window = max(1, len(loss) // 50)
            line, = loss_axis.plot(x, loss, alpha=0.25, linewidth=0.6)
            loss_axis.plot(x, moving_average(loss, window),
                           color=line.get_color(), label=label)
        tested = [e for e in epochs if e.get("test_accuracy") is not None]
        if tested:
            accuracy_axis.plot([e["epoch"] for e in tested],
                               [100 * e["test_accuracy"] for e in tested],
                               marker="o", label=label)
    loss_axis.set(xlabel="step", ylabel="training loss", yscale="log",
                  title="training loss (moving average)")
    accuracy_axis.set(xlabel="epoch", ylabel="test accuracy (%)",
                      title="test accuracy")
    accuracy_axis.xaxis.set_major_locator(
        matplotlib.ticker.MaxNLocator(integer=True))
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        axis.legend()
    figure.suptitle(args.title)
    figure.tight_layout()
    figure.savefig(args.output, dpi=110)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
