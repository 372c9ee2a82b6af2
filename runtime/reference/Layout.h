//===- Layout.h - Reshapes, transposes, slices and reductions ---*- C++ -*-===//
//
// The reference forms of nsl.reshape, nsl.transpose, nsl.slice and the
// reductions nsl.reduce_sum/mean/max (dialect/NSLOps.td has the math), with
// the VJPs that are not themselves one of these ops. Double precision,
// row-major, any rank.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_REFERENCE_LAYOUT_H
#define NSL_RUNTIME_REFERENCE_LAYOUT_H

#include "runtime/reference/Tensor.h"

namespace nsl::reference {

/// The same elements in `shape` (same count, positive sizes, rank 1 to 6).
Tensor reshape(const Tensor &x, const Shape &shape);
/// x.permute(permutation).
Tensor transpose(const Tensor &x, const std::vector<int64_t> &permutation);
/// x.narrow(dim, start, size).
Tensor slice(const Tensor &x, int64_t dim, int64_t start, int64_t size);
/// The upstream gradient of a slice in x's shape, zero outside the slice.
Tensor sliceVJP(const Tensor &x, int64_t dim, int64_t start, int64_t size,
                const Tensor &gradOutput);

enum class Reduction { Sum, Mean, Max };
/// Reduces over `dims` (distinct, ascending); keepdim keeps them as size 1.
Tensor reduce(const Tensor &x, Reduction kind, const std::vector<int64_t> &dims,
              bool keepdim);
/// The upstream gradient spread over the reduced dimensions: as is for the
/// sum, divided by the count for the mean, shared evenly by the elements
/// equal to the maximum for the max (torch.amax).
Tensor reduceVJP(const Tensor &x, Reduction kind,
                 const std::vector<int64_t> &dims, bool keepdim,
                 const Tensor &gradOutput);

} // namespace nsl::reference

#endif // NSL_RUNTIME_REFERENCE_LAYOUT_H
