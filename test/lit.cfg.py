# lit configuration of the nsl compiler's tests.
import os

import lit.formats

config.name = "NSL"
config.test_format = lit.formats.ShTest(not lit_config.isWindows)
config.suffixes = [".mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.nsl_obj_root, "test")
config.excludes = ["reference", "Inputs"]

config.environment["PATH"] = os.pathsep.join(
    [os.path.join(config.nsl_obj_root, "bin"), config.llvm_tools_dir,
     config.environment.get("PATH", os.environ.get("PATH", ""))])
config.substitutions.append(("%python", config.python))
config.substitutions.append(("%nsl_src", config.nsl_src_root))

# CUDA: ptxas (PATH, $CUDA_HOME/bin or /usr/local/cuda/bin) assembles the PTX
# that nslc --target cuda:sm_XY writes; tests that need it say
# `REQUIRES: ptxas` and are skipped, with this note, where it is absent.
import shutil

_ptxas = shutil.which("ptxas", path=config.environment["PATH"])
_candidates = ["/usr/local/cuda/bin/ptxas"]
if os.environ.get("CUDA_HOME"):
    _candidates.insert(0, os.path.join(os.environ["CUDA_HOME"], "bin", "ptxas"))
for _candidate in _candidates:
    if not _ptxas and os.path.isfile(_candidate) and \
            os.access(_candidate, os.X_OK):
        _ptxas = _candidate
if _ptxas:
    config.available_features.add("ptxas")
    config.substitutions.append(("%ptxas", _ptxas))
else:
    lit_config.note("ptxas not found (PATH, $CUDA_HOME/bin, "
                    "/usr/local/cuda/bin): the tests that assemble PTX "
                    "(REQUIRES: ptxas) are skipped")
