// scripts/gpu-prepare.sh compiles every example network and every forward
// model of the end-to-end op tests for CUDA (NSL_PREPARE_QUICK=1 leaves out
// the batch-128 benchmark layers); it refuses to run without nslc.
// RUN: rm -rf %t && env NSLC=`command -v nslc` NSL_PREPARE_QUICK=1 %nsl_src/scripts/gpu-prepare.sh %t | FileCheck %s
// RUN: ls %t/models %t/ops | FileCheck %s --check-prefix=FILES
// RUN: FileCheck %s --check-prefix=MANIFEST < %t/ops/conv-ops.dynamic_dns.nslm/manifest.json
// RUN: env NSLC=%t/no-nslc not %nsl_src/scripts/gpu-prepare.sh %t.none 2>&1 | FileCheck %s --check-prefix=NONSLC

// CHECK: gpu-prepare: wrote {{[0-9]+}} CUDA artifacts (sm_90) to
// FILES-DAG: dynamic_nsn.nslm
// FILES-DAG: plain_cnn.nslm
// FILES-DAG: conv-ops.dynamic_dns.nslm
// FILES-DAG: other-ops.max_pool.nslm
// FILES-DAG: sphere-ops.sphere_cosine.nslm
// MANIFEST: "target": "cuda-sm_90"
// NONSLC: gpu-prepare: error: no nslc at '{{.*}}no-nslc' (build it with scripts/build.sh, or set NSLC)
