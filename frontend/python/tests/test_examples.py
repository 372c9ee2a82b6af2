"""examples/pytorch/make_models.py writes models that load and reproduce
their saved outputs."""

import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from tests.common import TestCase

REPOSITORY = Path(__file__).resolve().parents[3]
SCRIPT = REPOSITORY / "examples" / "pytorch" / "make_models.py"
MODELS = ["dynamic_nsn", "dynamic_uns", "plain_cnn", "shared_predictor",
          "static_nsn"]


class MakeModelsTest(TestCase):
    def test_models_load_and_reproduce_their_outputs(self):
        with tempfile.TemporaryDirectory() as directory:
            out = Path(directory)
            environment = dict(os.environ,
                               PYTHONPATH=str(REPOSITORY / "frontend" / "python"))
            subprocess.run([sys.executable, str(SCRIPT), "--out", directory],
                           check=True, env=environment, capture_output=True)
            names = sorted(p.name.split(".")[0] for p in out.glob("*.out.npy"))
            self.assertEqual(names, MODELS)
            for name in names:
                inputs = [torch.from_numpy(np.load(path)) for path in (
                    out / f"{name}.x.npy", out / f"{name}.labels.npy")
                    if path.exists()]
                expected = torch.from_numpy(np.load(out / f"{name}.out.npy"))
                for suffix in (".pt", ".traced.pt"):
                    with self.subTest(model=name + suffix):
                        model = torch.jit.load(str(out / (name + suffix)))
                        with torch.no_grad():
                            output = model(*inputs)
                        if isinstance(output, tuple):
                            output = output[0]
                        self.assertRelativeError(output, expected, 1e-6)
                        has_nsl = any(n.kind().startswith("nsl::")
                                      for n in model.inlined_graph.nodes())
                        self.assertEqual(has_nsl, name != "plain_cnn")
