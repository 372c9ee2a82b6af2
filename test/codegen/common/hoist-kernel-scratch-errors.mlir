// RUN: nsl-opt %s --nsl-hoist-kernel-scratch --verify-diagnostics

// Scratch of a size known only at run time cannot have a planned place.
func.func @k(%n: index, %b: index, %e: index) attributes {nsl.kernel} {
  // expected-error @+1 {{kernel scratch must have a static shape and identity layout, got 'memref<?xf32>'}}
  %a = memref.alloc(%n) : memref<?xf32>
  return
}
