#!/usr/bin/env python3
"""Writes a small labelled image data set in the `npy` layout of nsl-run fit
(and broken variants of it) for the tests of nsl-run fit and evaluate.

Usage: make_image_dataset.py DIR [--channels 3] [--size 14] [--train 100]
                                 [--test 30] [--classes 10]

DIR/{train,test}_{images,labels}.npy: uint8 images [N, C, S, S] whose mean
brightness depends on the label (so a network can learn something) plus
seeded noise; int64 labels. Broken copies for the error tests:
DIR-badlabel (a test label = classes), DIR-channels (one channel more),
DIR-truncated (train_images.npy cut short).
"""
import argparse
import os
import shutil

import numpy as np


def write(folder, images, labels, split):
    np.save(os.path.join(folder, f"{split}_images.npy"), images)
    np.save(os.path.join(folder, f"{split}_labels.npy"), labels)


def make(rng, count, channels, size, classes):
    labels = rng.integers(0, classes, count).astype(np.int64)
    base = (labels * (200 // classes))[:, None, None, None]
    noise = rng.integers(0, 56, (count, channels, size, size))
    return (base + noise).astype(np.uint8), labels


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("dir")
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--size", type=int, default=14)
    parser.add_argument("--train", type=int, default=100)
    parser.add_argument("--test", type=int, default=30)
    parser.add_argument("--classes", type=int, default=10)
    a = parser.parse_args()
    rng = np.random.default_rng(7)
    splits = {"train": make(rng, a.train, a.channels, a.size, a.classes),
              "test": make(rng, a.test, a.channels, a.size, a.classes)}
    for suffix in ("", "-badlabel", "-channels", "-truncated"):
        folder = a.dir + suffix
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        for split, (images, labels) in splits.items():
            if suffix == "-badlabel" and split == "test":
                labels = labels.copy()
                labels[3] = a.classes
            if suffix == "-channels":
                images = np.concatenate([images, images[:, :1]], axis=1)
            write(folder, images, labels, split)
    path = os.path.join(a.dir + "-truncated", "train_images.npy")
    with open(path, "rb+") as f:
        f.truncate(os.path.getsize(path) - 100)


if __name__ == "__main__":
    main()
