// --nsl-emit-cpu-kernel-abi: each lowered kernel (nsl.kernel) keeps its body
// as an internal @k_impl and gets the exported nsl-cpu-1 entry
// `void k(void *const *buffers, int64_t begin, int64_t end)`.
// RUN: nsl-opt %s --nsl-emit-cpu-kernel-abi --split-input-file | FileCheck %s

// CHECK-LABEL: llvm.func internal @k_impl(%{{.*}}: !llvm.ptr, %{{.*}}: !llvm.ptr, %{{.*}}: i64, %{{.*}}: i64)
// CHECK: llvm.func @k(%[[BUFFERS:.*]]: !llvm.ptr, %[[BEGIN:.*]]: i64, %[[END:.*]]: i64)
// CHECK-SAME: nsl.kernel
// CHECK-SAME: nsl.parallel_extent = 4 : i64
// CHECK: %[[S0:.*]] = llvm.getelementptr %[[BUFFERS]][0] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[P0:.*]] = llvm.load %[[S0]] : !llvm.ptr -> !llvm.ptr
// CHECK: %[[S1:.*]] = llvm.getelementptr %[[BUFFERS]][1] : (!llvm.ptr) -> !llvm.ptr, !llvm.ptr
// CHECK: %[[P1:.*]] = llvm.load %[[S1]] : !llvm.ptr -> !llvm.ptr
// CHECK: llvm.call @k_impl(%[[P0]], %[[P1]], %[[BEGIN]], %[[END]])
// A function that is not a kernel keeps its name and signature.
// CHECK-LABEL: llvm.func @helper(%{{.*}}: f32)
llvm.func @k(%x: !llvm.ptr, %y: !llvm.ptr, %b: i64, %e: i64) attributes {nsl.kernel, nsl.parallel_extent = 4 : i64} {
  llvm.return
}
llvm.func @helper(%v: f32) {
  llvm.return
}
