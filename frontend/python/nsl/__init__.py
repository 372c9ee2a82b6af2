"""Neural similarity learning (NSL) layers for PyTorch.

Importing ``nsl`` registers the ``nsl::`` custom ops (``nsl.ops``), so that
models built from ``nsl.nn`` train in PyTorch and script or trace to
TorchScript graphs with one ``nsl::<op>`` node per NSL op, ready for the
``nslc`` compiler. The math is DESIGN.md §1.
"""

from . import checkpoint, models, ops
from .convert import to_dynamic_nsn, to_static_nsn
from .models import paper_cifar_net, small_cnn
from .nn import (
    DynamicSimConv2d,
    SharedPredictor,
    SimConv2d,
    SimLinear,
    SphereConv2d,
    SphereNetPredictor,
)

__all__ = [
    "DynamicSimConv2d",
    "SharedPredictor",
    "SimConv2d",
    "SimLinear",
    "SphereConv2d",
    "SphereNetPredictor",
    "checkpoint",
    "models",
    "ops",
    "paper_cifar_net",
    "small_cnn",
    "to_dynamic_nsn",
    "to_static_nsn",
]
