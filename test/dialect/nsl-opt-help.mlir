// nsl-opt lists the nsl passes and pipeline in its help.
// RUN: nsl-opt --help | FileCheck %s
// CHECK-DAG: --nsl-export-graph
// CHECK-DAG: --nsl-fold-static-similarity
// CHECK-DAG: --nsl-optimize
// CHECK-DAG: Available Dialects: {{.*}}nsl
