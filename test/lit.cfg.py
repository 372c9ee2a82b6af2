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
