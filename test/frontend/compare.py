#!/usr/bin/env python3
"""Usage: compare.py OUTPUT.npy EXPECTED.npy [TOLERANCE]

Exits 1 when the relative error ||y - r||_2 / ||r||_2 of OUTPUT against
EXPECTED exceeds TOLERANCE (default 1e-5) or the shapes differ; prints the
relative and the maximum absolute error.
"""
import sys

import numpy as np

y = np.load(sys.argv[1]).astype(np.float64)
r = np.load(sys.argv[2]).astype(np.float64)
tolerance = float(sys.argv[3]) if len(sys.argv) > 3 else 1e-5
if y.shape != r.shape:
    print(f"shape mismatch: {y.shape} vs {r.shape}")
    sys.exit(1)
error = np.linalg.norm(y - r) / np.linalg.norm(r)
print(f"relative error {error:.3g}, max abs error {np.abs(y - r).max():.3g}")
sys.exit(0 if error <= tolerance else 1)
