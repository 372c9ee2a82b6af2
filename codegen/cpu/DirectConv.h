//===- DirectConv.h - Register-blocked, vectorised convolutions -*- C++ -*-===//
//
// The fast path of the convolution family on the CPU: one sample of a
// convolution group (codegen/common/ConvGroup.h) — a similarity convolution
// (plain after folding, dynamic DNS with its tap mask or UNS with its tap
// mixing; any stride, padding and dilation) or SphereConv (any variant), with
// the group's epilogue (bias, inference batch norm, relu) fused — emitted
// directly as scf + vector loops on memrefs:
//
//   for y, for each block of P·V output pixels (x), for each block of B
//   output channels (o):  acc[B][P] = Σ_c Σ_ky Σ_kx W[o,c,ky,kx] ·
//       (m[t,y,x..x+V] ·) Xpad[c, y+ky·dh, x+kx·dw .. +V]
//
// W broadcasts against contiguous vector loads of the zero-padded input
// (kept in the workspace). DNS: per block of pixels the masked taps
// m[t]·X_p[c,t] (the mask loaded, γ·P + 1 of a fused prediction, or the
// mask block of a fused SphereConv predictor) go to a [C, K, pixels]
// scratch once, shared by all output channel blocks; UNS likewise holds the
// taps mixed by M_p. A SphereConv's ‖x_p‖ is accumulated from the same rows
// before the channel blocks and applied in the epilogue.
// B (output channels), P (pixel vectors) and V (vector width) are explicit.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_CODEGEN_CPU_DIRECTCONV_H
#define NSL_CODEGEN_CPU_DIRECTCONV_H

#include "codegen/common/ConvGroup.h"

#include "mlir/IR/Builders.h"
#include "mlir/IR/IRMapping.h"

namespace mlir::nsl {

struct DirectConvTiling {
  /// Lanes of one vector (16 for AVX-512, 8 for AVX2).
  int64_t vectorWidth = 16;
  /// Output channels per register block when it divides O; otherwise the
  /// largest divisor of O that the accumulator registers hold. A row too
  /// short for `pixelVectors` vectors gets proportionally more channels (the
  /// same number of accumulators).
  int64_t outputChannels = 8;
  /// Vectors of output pixels per register block.
  int64_t pixelVectors = 2;
};

/// How one sample's convolution is cut into independent chunks, which the
/// kernel runs as parallel iterations next to the samples (iteration
/// i = sample · chunks + chunk): rows of output pixels × blocks of output
/// channels. One chunk (the default) is the whole sample.
struct DirectConvSplit {
  int64_t rowChunks = 1;
  int64_t channelChunks = 1;
  int64_t chunks() const { return rowChunks * channelChunks; }
};

/// The split that gives a kernel over `samples` samples at least
/// `iterations` parallel iterations where the layer allows: rows when the
/// sample has at least two per wanted chunk or when per-pixel work (masked
/// or mixed taps, a fused predictor) would be repeated per channel chunk,
/// else blocks of output channels (few pixels, many channels), then rows.
DirectConvSplit chooseDirectConvSplit(const ConvGroup &group, int64_t samples,
                                      int64_t iterations,
                                      const DirectConvTiling &tiling);

/// Whether the direct emitter handles `group`: every kind (a SphereConv of
/// any variant, g(θ) applied in the epilogue); a fused predictor only when
/// it is cosine and its K accumulators fit the registers.
bool canEmitDirectConv(const ConvGroup &group);

/// Emits one sample of the group at the builder's insertion point.
/// `buffers` maps each operand of the group's ops to the memref holding it
/// for this sample ([1, …] slices for per-sample operands); `output` is the
/// [1, O, Ho, Wo] slice of the group's result. Work on the weights alone
/// (norms, a fused predictor's packed weights) is emitted once, before
/// `sampleLoop`, the loop over the samples that holds the insertion point. With
/// a split of more than one chunk, `chunk` (an index in [0, split.chunks()))
/// selects the rows and output channels emitted.
void emitDirectConv(OpBuilder &b, Location loc, const ConvGroup &group,
                    const IRMapping &buffers, Value output,
                    Operation *sampleLoop, const DirectConvTiling &tiling,
                    const DirectConvSplit &split = {}, Value chunk = {});

} // namespace mlir::nsl

#endif // NSL_CODEGEN_CPU_DIRECTCONV_H
