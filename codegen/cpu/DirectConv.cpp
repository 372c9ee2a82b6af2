//===- DirectConv.cpp - Register-blocked, vectorised convolutions ---------===//
#include "codegen/cpu/DirectConv.h"
#include "codegen/common/LinalgBuilder.h"
#include "dialect/NSLOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::nsl;

/// Accumulator registers a block may hold: 24 of AVX-512's 32 vector
/// registers, 12 of AVX2's 16.
static int64_t registerBudget(int64_t lanes) { return lanes >= 16 ? 24 : 12; }

bool mlir::nsl::canEmitDirectConv(const ConvGroup &group) {
  // A SphereConv of any variant: g(θ) of the cosine in the epilogue.
  if (group.sphereConv())
    return true;
  SphereConv2dOp predictor = group.predictor;
  if (!predictor)
    return true;
  auto taps =
      cast<RankedTensorType>(predictor.getWeight().getType()).getDimSize(0);
  return predictor.getVariant() == SphereVariant::Cosine &&
         taps <= registerBudget(16);
}

namespace {

/// Index and vector helpers at one location.
struct Emitter {
  OpBuilder &b;
  Location loc;
  VectorType vec;

  Value index(int64_t v) { return arith::ConstantIndexOp::create(b, loc, v); }
  Value add(Value x, int64_t v) {
    return v == 0 ? x : arith::AddIOp::create(b, loc, x, index(v));
  }
  Value f32(double v) {
    return arith::ConstantOp::create(b, loc, b.getF32FloatAttr(v));
  }
  Value splat(Value scalar) {
    return vector::BroadcastOp::create(b, loc, vec, scalar);
  }
  Value zeros() { return splat(f32(0.0)); }
  /// A vector at [indices…] (the last index is the first lane), masked to
  /// `lanes` lanes when fewer than a full vector are valid.
  Value load(Value memref, ValueRange indices, int64_t lanes) {
    if (lanes >= vec.getNumElements())
      return vector::LoadOp::create(b, loc, vec, memref, indices);
    Value mask = vector::ConstantMaskOp::create(
        b, loc, VectorType::get(vec.getShape(), b.getI1Type()),
        ArrayRef<int64_t>{lanes});
    return vector::MaskedLoadOp::create(b, loc, vec, memref, indices, mask,
                                        zeros());
  }
  void store(Value value, Value memref, ValueRange indices, int64_t lanes) {
    if (lanes >= vec.getNumElements()) {
      vector::StoreOp::create(b, loc, value, memref, indices);
      return;
    }
    Value mask = vector::ConstantMaskOp::create(
        b, loc, VectorType::get(vec.getShape(), b.getI1Type()),
        ArrayRef<int64_t>{lanes});
    vector::MaskedStoreOp::create(b, loc, memref, indices, mask, value);
  }
  /// for (i = 0; i < count; ++i) body(i, carried) with carried values.
  SmallVector<Value>
  loop(int64_t count, ValueRange init,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    return loop(index(0), index(count), init, body);
  }
  /// for (i = lower; i < upper; ++i) body(i, carried).
  SmallVector<Value>
  loop(Value lower, Value upper, ValueRange init,
       function_ref<SmallVector<Value>(Value, ValueRange)> body) {
    auto forOp = scf::ForOp::create(
        b, loc, lower, upper, index(1), init,
        [&](OpBuilder &nested, Location nestedLoc, Value i, ValueRange iter) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(nested.getInsertionBlock());
          SmallVector<Value> yielded = body(i, iter);
          scf::YieldOp::create(b, nestedLoc, yielded);
        });
    return SmallVector<Value>(forOp.getResults());
  }
};

/// The sizes of the layer and of its register blocks.
struct DirectConvShape {
  int64_t c, h, w, o, kh, kw, ho, wo, ph, pw, dh, dw, sh, sw;
  int64_t lanes, pixelVectors, block, channelsPerBlock, fullBlocks, tail;
  /// The padded input [C, Hp, sw, Wq]: column x·sw + q of the padded row is
  /// phase q, position x, so that the input of consecutive output pixels
  /// (x·sw + kx·dw) is contiguous in each phase even with a stride; wide
  /// enough for every vector load of the last (possibly partial) block.
  int64_t paddedHeight, paddedWidth;
  int64_t taps() const { return kh * kw; }
};

/// The dimensions of a tensor or memref value.
ArrayRef<int64_t> dims(Value value) {
  return cast<ShapedType>(value.getType()).getShape();
}

/// From the shapes of the input, the weight and the output (only their
/// dimensions after the batch are read).
DirectConvShape shapeOf(const ConvGroup &group, ArrayRef<int64_t> in,
                        ArrayRef<int64_t> ws, ArrayRef<int64_t> out,
                        const DirectConvTiling &tiling) {
  DirectConvShape s;
  s.c = in[1], s.h = in[2], s.w = in[3];
  s.o = ws[0], s.kh = ws[2], s.kw = ws[3];
  s.ho = out[2], s.wo = out[3];
  s.ph = group.padding()[0], s.pw = group.padding()[1];
  s.dh = group.dilation()[0], s.dw = group.dilation()[1];
  s.sh = group.stride()[0], s.sw = group.stride()[1];
  s.lanes = tiling.vectorWidth;
  // Fewer vectors than a full block when the row is short.
  s.pixelVectors = std::min(std::max<int64_t>(tiling.pixelVectors, 1),
                            (s.wo + s.lanes - 1) / s.lanes);
  s.block = s.pixelVectors * s.lanes;
  // The requested block when it divides O; otherwise the largest divisor of
  // O up to what the accumulator registers hold: O = 9 or 81 (a predictor)
  // still gets full blocks.
  // A row shorter than the requested pixel vectors keeps the requested
  // number of accumulators with more output channels (7×7 and 14×14 layers:
  // 16 channels × 1 vector instead of 8 × 1).
  int64_t requested = tiling.outputChannels *
                      std::max<int64_t>(tiling.pixelVectors, 1) /
                      s.pixelVectors;
  requested = std::min(requested, registerBudget(s.lanes) / s.pixelVectors);
  int64_t limit =
      s.o % requested == 0
          ? requested
          : std::max(requested, registerBudget(s.lanes) / s.pixelVectors);
  s.channelsPerBlock = 1;
  for (int64_t candidate = std::min(limit, s.o); candidate >= 1; --candidate)
    if (s.o % candidate == 0) {
      s.channelsPerBlock = candidate;
      break;
    }
  s.fullBlocks = s.wo / s.block;
  s.tail = s.wo - s.fullBlocks * s.block;
  s.paddedWidth = std::max(((s.wo + s.block - 1) / s.block) * s.block +
                               (s.kw - 1) * s.dw / s.sw,
                           (s.w + 2 * s.pw - 1) / s.sw + 1);
  s.paddedHeight = s.h + 2 * s.ph;
  return s;
}

/// The group's operands as buffers of this sample.
struct DirectConvBuffers {
  Value input, weight, output;
  /// The mask or M_p, or the prediction P that γ·P + I is made of.
  Value mask, gamma;
  /// A fused SphereConv predictor's weights.
  Value predictorWeight;
  /// A learned-sigmoid SphereConv's k' per output channel.
  Value kParam;
  ChannelParameters epilogue;
};

DirectConvBuffers buffersOf(const ConvGroup &group, const IRMapping &buffers,
                            Value output) {
  auto lookup = [&](Value value) {
    return value ? buffers.lookup(value) : Value();
  };
  DirectConvBuffers d;
  d.input = lookup(group.input());
  d.weight = lookup(group.weight());
  d.output = output;
  d.mask = lookup(group.similaritySource());
  d.gamma = lookup(group.gamma());
  if (SphereConv2dOp predictor = group.predictor)
    d.predictorWeight = lookup(predictor.getWeight());
  if (SphereConv2dOp sphere = group.sphereConv())
    d.kParam = lookup(sphere.getKParam());
  d.epilogue.bias = lookup(group.epilogue.bias);
  if (BatchNormOp bn = group.epilogue.batchNorm) {
    d.epilogue.bnWeight = lookup(bn.getWeight());
    d.epilogue.bnBias = lookup(bn.getBias());
    d.epilogue.bnMean = lookup(bn.getRunningMean());
    d.epilogue.bnVar = lookup(bn.getRunningVar());
    d.epilogue.bnEpsilon = bn.getEpsilon().convertToDouble();
  }
  return d;
}

/// Emits the direct convolution of one group (see DirectConv.h): the
/// per-call preparation before the sample loop (`pe`), then the sample's
/// rows of pixel blocks (`e`).
class DirectConvEmitter {
public:
  DirectConvEmitter(OpBuilder &b, Location loc, Operation *sampleLoop,
                    const ConvGroup &group, const DirectConvBuffers &buffers,
                    const DirectConvShape &shape, const DirectConvSplit &split)
      : e{b, loc, VectorType::get({shape.lanes}, b.getF32Type())},
        pb(sampleLoop), pe{pb, loc, e.vec}, group(group), d(buffers), s(shape),
        split(split) {}

  void emit(Value chunk) {
    chunkBounds(chunk);
    prepare();
    e.loop(rowBegin, rowEnd, {}, [&](Value y, ValueRange) {
      if (s.fullBlocks > 0)
        e.loop(s.fullBlocks, {}, [&](Value xb, ValueRange) {
          emitBlock(y, arith::MulIOp::create(e.b, e.loc, xb, e.index(s.block)),
                    s.block);
          return SmallVector<Value>{};
        });
      if (s.tail > 0)
        emitBlock(y, e.index(s.fullBlocks * s.block), s.tail);
      return SmallVector<Value>{};
    });
  }

private:
  bool sphere() const { return group.kind == ConvKind::Sphere; }
  bool mixing() const { return group.kind == ConvKind::UNS; }
  bool masked() const {
    return group.kind == ConvKind::DNS && (d.mask || group.predictor);
  }
  double normEpsilon() const {
    if (SphereConv2dOp predictor = group.predictor)
      return predictor.getEpsilon().convertToDouble();
    return sphere() ? group.sphereConv().getEpsilon().convertToDouble() : 0.0;
  }

  void chunkBounds(Value chunk);
  void prepare();
  void copyIntoPadded();
  Value tap(Value ci, Value y, Value x, int64_t ky, int64_t kx);
  Value weightNorms(Value weight, int64_t outputs, double epsilon);
  Value packWeights(Value weight, int64_t outputs, int64_t channelsPerBlock);
  void emitBlock(Value y, Value x0, int64_t valid);
  int64_t validIn(int64_t valid, int64_t j) const {
    return std::clamp<int64_t>(valid - j * s.lanes, 0, s.lanes);
  }
  SmallVector<Value> patchInverseNorms(Value y, Value x0);
  void predictMask(Value y, Value x0, ArrayRef<Value> inverseNorms);
  Value maskVector(int64_t index, Value y, Value x, int64_t lanes,
                   double identity);
  void storeMaskedTaps(Value y, Value x0, int64_t valid);
  void storeMixedTaps(Value y, Value x0, int64_t valid);
  void emitChannelBlocks(Value y, Value x0, int64_t valid,
                         ArrayRef<Value> inverseNorms);
  void storeChannel(Value oi, Value y, Value x0, int64_t valid,
                    ArrayRef<Value> accumulators, ArrayRef<Value> inverseNorms);

  Emitter e;
  OpBuilder pb;
  Emitter pe;
  const ConvGroup &group;
  const DirectConvBuffers &d;
  const DirectConvShape &s;
  const DirectConvSplit &split;
  // This iteration's output rows and blocks of output channels.
  Value rowBegin, rowEnd, blockBegin, blockEnd;
  // Scratch and per-call values made by prepare().
  Value padded, mixed, norms, predictorPacked, predictorNorms, maskBlock,
      gammaVector;
};

/// The rows [rowBegin, rowEnd) and channel blocks [blockBegin, blockEnd) of
/// `chunk` (DirectConvSplit: rows major); the whole sample without one.
void DirectConvEmitter::chunkBounds(Value chunk) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t blocks = s.o / s.channelsPerBlock;
  if (!chunk || split.chunks() == 1) {
    rowBegin = e.index(0), rowEnd = e.index(s.ho);
    blockBegin = e.index(0), blockEnd = e.index(blocks);
    return;
  }
  // [min(k·size, extent), min((k + 1)·size, extent)) of ⌈extent / parts⌉.
  auto range = [&](Value k, int64_t extent, int64_t parts, Value &begin,
                   Value &end) {
    int64_t size = (extent + parts - 1) / parts;
    Value first = arith::MulIOp::create(b, loc, k, e.index(size));
    begin = arith::MinSIOp::create(b, loc, first, e.index(extent));
    end = arith::MinSIOp::create(b, loc, e.add(first, size), e.index(extent));
  };
  Value channels = e.index(split.channelChunks);
  range(arith::DivUIOp::create(b, loc, chunk, channels), s.ho, split.rowChunks,
        rowBegin, rowEnd);
  range(arith::RemUIOp::create(b, loc, chunk, channels), blocks,
        split.channelChunks, blockBegin, blockEnd);
}

/// The per-call scratch and the work on the weights alone, in the order the
/// emitted IR has them: the padded input (zero borders once per call, this
/// sample into its interior), the tap scratch, ‖w_o‖, the fused
/// predictor's packed weights and norms, γ.
void DirectConvEmitter::prepare() {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  padded = memref::AllocOp::create(
      pb, loc,
      MemRefType::get({s.c, s.paddedHeight, s.sw, s.paddedWidth},
                      pb.getF32Type()));
  linalg::FillOp::create(pb, loc, pe.f32(0.0), padded);
  copyIntoPadded();
  if (mixing() || masked())
    mixed = memref::AllocOp::create(
        b, loc, MemRefType::get({s.c, s.taps(), s.block}, b.getF32Type()));
  if (sphere() && !group.sphereConv().getInputOnly())
    norms = weightNorms(d.weight, s.o, normEpsilon());
  // The layer's weights are read where they are: the B values a block
  // broadcasts for one (c, tap) lie C·K apart, but packing them per call
  // costs more than it saves (≈ 0.8 ms of a 512→512 3×3 layer at 7×7,
  // batch 1, on AVX-512) and is repeated by every thread of a split sample.
  // The fused predictor: its weights as one block of K channels, its norms,
  // and the K mask vectors of the current block of pixels.
  if (group.predictor) {
    predictorPacked = packWeights(d.predictorWeight, s.taps(), s.taps());
    if (SphereConv2dOp predictor = group.predictor; !predictor.getInputOnly())
      predictorNorms = weightNorms(d.predictorWeight, s.taps(), normEpsilon());
    maskBlock = memref::AllocOp::create(
        b, loc, MemRefType::get({s.taps(), s.block}, b.getF32Type()));
  }
  // γ of a fused predicted mask (rank 0 or [1]).
  if (d.gamma) {
    SmallVector<Value> at(cast<MemRefType>(d.gamma.getType()).getRank(),
                          e.index(0));
    gammaVector =
        e.splat(memref::LoadOp::create(b, loc, d.gamma, ValueRange(at)));
  }
}

/// This sample into the interior of the padded input: with unit stride a
/// row at a time in vectors (the last one masked, so the right border stays
/// zero); with a stride, element by element into the phases.
void DirectConvEmitter::copyIntoPadded() {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t rowVectors = (s.w + s.lanes - 1) / s.lanes;
  // The input rows that output rows [rowBegin, rowEnd) read: from
  // rowBegin·sh − ph to (rowEnd − 1)·sh + (kh − 1)·dh − ph, within [0, H).
  Value first = arith::MulIOp::create(b, loc, rowBegin, e.index(s.sh));
  Value last = arith::MulIOp::create(b, loc, rowEnd, e.index(s.sh));
  Value inputBegin = arith::MaxSIOp::create(
      b, loc, arith::SubIOp::create(b, loc, first, e.index(s.ph)), e.index(0));
  Value inputEnd = arith::MinSIOp::create(
      b, loc, e.add(last, (s.kh - 1) * s.dh - s.ph - s.sh + 1), e.index(s.h));
  e.loop(s.c, {}, [&](Value ci, ValueRange) {
    e.loop(inputBegin, inputEnd, {}, [&](Value yi, ValueRange) {
      if (s.sw == 1) {
        for (int64_t v = 0; v < rowVectors; ++v) {
          int64_t valid = std::min(s.lanes, s.w - v * s.lanes);
          Value row = e.load(
              d.input, ValueRange{e.index(0), ci, yi, e.index(v * s.lanes)},
              valid);
          e.store(row, padded,
                  ValueRange{ci, e.add(yi, s.ph), e.index(0),
                             e.index(s.pw + v * s.lanes)},
                  valid);
        }
        return SmallVector<Value>{};
      }
      for (int64_t xi = 0; xi < s.w; ++xi) {
        Value value = memref::LoadOp::create(
            e.b, e.loc, d.input, ValueRange{e.index(0), ci, yi, e.index(xi)});
        memref::StoreOp::create(e.b, e.loc, value, padded,
                                ValueRange{ci, e.add(yi, s.ph),
                                           e.index((xi + s.pw) % s.sw),
                                           e.index((xi + s.pw) / s.sw)});
      }
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
}

/// The input vector of tap (ky, kx) for output pixels [x, x + V) of row y.
Value DirectConvEmitter::tap(Value ci, Value y, Value x, int64_t ky,
                             int64_t kx) {
  Value row =
      s.sh == 1 ? y : arith::MulIOp::create(e.b, e.loc, y, e.index(s.sh));
  return vector::LoadOp::create(e.b, e.loc, e.vec, padded,
                                ValueRange{ci, e.add(row, ky * s.dh),
                                           e.index(kx * s.dw % s.sw),
                                           e.add(x, kx * s.dw / s.sw)});
}

/// ‖w_o‖ = sqrt(Σ W[o]² + ε) of every filter, once per call.
Value DirectConvEmitter::weightNorms(Value weight, int64_t outputs,
                                     double epsilon) {
  Location loc = e.loc;
  Value result = memref::AllocOp::create(
      pb, loc, MemRefType::get({outputs}, pb.getF32Type()));
  pe.loop(outputs, {}, [&](Value oi, ValueRange) -> SmallVector<Value> {
    SmallVector<Value> total =
        pe.loop(s.c, {pe.f32(0.0)},
                [&](Value ci, ValueRange acc) -> SmallVector<Value> {
                  Value sum = acc[0];
                  for (int64_t ky = 0; ky < s.kh; ++ky)
                    for (int64_t kx = 0; kx < s.kw; ++kx) {
                      Value v = memref::LoadOp::create(
                          pb, loc, weight,
                          ValueRange{oi, ci, pe.index(ky), pe.index(kx)});
                      sum = math::FmaOp::create(pb, loc, v, v, sum);
                    }
                  return {sum};
                });
    Value norm = math::SqrtOp::create(
        pb, loc, arith::AddFOp::create(pb, loc, total[0], pe.f32(epsilon)));
    memref::StoreOp::create(pb, loc, norm, result, ValueRange{oi});
    return {};
  });
  return result;
}

/// The weights packed as [O/B, C, K, B] once per call (a fused predictor's
/// K×C×K weights, read for every block of pixels): the B values a block
/// broadcasts for one (c, tap) are adjacent (one cache line instead of B).
Value DirectConvEmitter::packWeights(Value weight, int64_t outputs,
                                     int64_t channelsPerBlock) {
  Location loc = e.loc;
  int64_t blocks = outputs / channelsPerBlock, k = s.taps();
  Value result = memref::AllocOp::create(
      pb, loc,
      MemRefType::get({blocks, s.c, k, channelsPerBlock}, pb.getF32Type()));
  pe.loop(blocks, {}, [&](Value ob, ValueRange) {
    pe.loop(s.c, {}, [&](Value ci, ValueRange) {
      for (int64_t i = 0; i < channelsPerBlock; ++i) {
        Value oi = arith::AddIOp::create(
            pb, loc,
            arith::MulIOp::create(pb, loc, ob, pe.index(channelsPerBlock)),
            pe.index(i));
        for (int64_t t = 0; t < k; ++t) {
          Value v = memref::LoadOp::create(
              pb, loc, weight,
              ValueRange{oi, ci, pe.index(t / s.kw), pe.index(t % s.kw)});
          memref::StoreOp::create(pb, loc, v, result,
                                  ValueRange{ob, ci, pe.index(t), pe.index(i)});
        }
      }
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  return result;
}

/// One block of output pixels [x0, x0 + valid) of row y.
void DirectConvEmitter::emitBlock(Value y, Value x0, int64_t valid) {
  SmallVector<Value> inverseNorms;
  if (sphere() || group.predictor)
    inverseNorms = patchInverseNorms(y, x0);
  if (group.predictor)
    predictMask(y, x0, inverseNorms);
  if (masked())
    storeMaskedTaps(y, x0, valid);
  if (mixing())
    storeMixedTaps(y, x0, valid);
  emitChannelBlocks(y, x0, valid, inverseNorms);
}

/// 1/‖x_p‖ of a SphereConv (or the fused predictor) for each pixel vector
/// of the block, from the rows the channel blocks read next.
SmallVector<Value> DirectConvEmitter::patchInverseNorms(Value y, Value x0) {
  OpBuilder &b = e.b;
  SmallVector<Value> init(s.pixelVectors, e.zeros());
  SmallVector<Value> sums =
      e.loop(s.c, init, [&](Value ci, ValueRange acc) -> SmallVector<Value> {
        SmallVector<Value> next(acc);
        for (int64_t ky = 0; ky < s.kh; ++ky)
          for (int64_t kx = 0; kx < s.kw; ++kx)
            for (int64_t j = 0; j < s.pixelVectors; ++j) {
              Value v = tap(ci, y, e.add(x0, j * s.lanes), ky, kx);
              next[j] = vector::FMAOp::create(b, e.loc, v, v, next[j]);
            }
        return next;
      });
  SmallVector<Value> inverse;
  for (Value sum : sums)
    inverse.push_back(math::RsqrtOp::create(
        b, e.loc,
        arith::AddFOp::create(b, e.loc, sum, e.splat(e.f32(normEpsilon())))));
  return inverse;
}

/// The fused predictor: P = cos θ of the K channels for this block, then
/// M_p = γ·P + 1 into the mask block the channel blocks read.
void DirectConvEmitter::predictMask(Value y, Value x0,
                                    ArrayRef<Value> inverseNorms) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t k = s.taps(), vectors = s.pixelVectors;
  SmallVector<Value> init(k * vectors, e.zeros());
  SmallVector<Value> acc = e.loop(
      s.c, init, [&](Value ci, ValueRange carried) -> SmallVector<Value> {
        SmallVector<Value> next(carried);
        for (int64_t t = 0; t < k; ++t) {
          SmallVector<Value> xs;
          for (int64_t j = 0; j < vectors; ++j)
            xs.push_back(
                tap(ci, y, e.add(x0, j * s.lanes), t / s.kw, t % s.kw));
          for (int64_t i = 0; i < k; ++i) {
            Value wv = e.splat(memref::LoadOp::create(
                b, loc, predictorPacked,
                ValueRange{e.index(0), ci, e.index(t), e.index(i)}));
            for (int64_t j = 0; j < vectors; ++j) {
              Value &slot = next[i * vectors + j];
              slot = vector::FMAOp::create(b, loc, wv, xs[j], slot);
            }
          }
        }
        return next;
      });
  for (int64_t i = 0; i < k; ++i) {
    Value scale = gammaVector;
    if (predictorNorms)
      scale = arith::DivFOp::create(
          b, loc, scale,
          e.splat(memref::LoadOp::create(b, loc, predictorNorms,
                                         ValueRange{e.index(i)})));
    for (int64_t j = 0; j < vectors; ++j) {
      Value cos =
          arith::MulFOp::create(b, loc, acc[i * vectors + j], inverseNorms[j]);
      Value m = vector::FMAOp::create(b, loc, cos, scale, e.splat(e.f32(1.0)));
      vector::StoreOp::create(b, loc, m, maskBlock,
                              ValueRange{e.index(i), e.index(j * s.lanes)});
    }
  }
}

/// Channel `index` of the mask (or M_p) operand at [y, x, x + V): γ·P +
/// `identity` when the mask is predicted here.
Value DirectConvEmitter::maskVector(int64_t index, Value y, Value x,
                                    int64_t lanes, double identity) {
  Value m = e.load(d.mask, ValueRange{e.index(0), e.index(index), y, x}, lanes);
  if (gammaVector)
    m = vector::FMAOp::create(e.b, e.loc, m, gammaVector,
                              e.splat(e.f32(identity)));
  return m;
}

/// DNS: the masked taps m[t]·X_p[c,t] of this block into the tap scratch,
/// computed once for all output channel blocks.
void DirectConvEmitter::storeMaskedTaps(Value y, Value x0, int64_t valid) {
  for (int64_t j = 0; j < s.pixelVectors; ++j) {
    if (validIn(valid, j) == 0)
      continue;
    for (int64_t t = 0; t < s.taps(); ++t) {
      Value m = maskBlock ? Value(vector::LoadOp::create(
                                e.b, e.loc, e.vec, maskBlock,
                                ValueRange{e.index(t), e.index(j * s.lanes)}))
                          : maskVector(t, y, e.add(x0, j * s.lanes),
                                       validIn(valid, j), 1.0);
      e.loop(s.c, {}, [&](Value ci, ValueRange) {
        Value v = tap(ci, y, e.add(x0, j * s.lanes), t / s.kw, t % s.kw);
        vector::StoreOp::create(
            e.b, e.loc, arith::MulFOp::create(e.b, e.loc, v, m), mixed,
            ValueRange{ci, e.index(t), e.index(j * s.lanes)});
        return SmallVector<Value>{};
      });
    }
  }
}

/// UNS: Z[c, t, x] = Σ_s M_p[t,s]·X_p[c,s] for this block, computed once
/// for all output channels; per pixel vector j and tap t the row M_p[t, ·]
/// stays in registers over the channels.
void DirectConvEmitter::storeMixedTaps(Value y, Value x0, int64_t valid) {
  int64_t k = s.taps();
  for (int64_t j = 0; j < s.pixelVectors; ++j) {
    if (validIn(valid, j) == 0)
      continue;
    for (int64_t t = 0; t < k; ++t) {
      SmallVector<Value> row;
      for (int64_t src = 0; src < k; ++src)
        row.push_back(maskVector(t * k + src, y, e.add(x0, j * s.lanes),
                                 validIn(valid, j), t == src ? 1.0 : 0.0));
      e.loop(s.c, {}, [&](Value ci, ValueRange) {
        Value z = e.zeros();
        for (int64_t src = 0; src < k; ++src) {
          Value v = tap(ci, y, e.add(x0, j * s.lanes), src / s.kw, src % s.kw);
          z = vector::FMAOp::create(e.b, e.loc, row[src], v, z);
        }
        vector::StoreOp::create(
            e.b, e.loc, z, mixed,
            ValueRange{ci, e.index(t), e.index(j * s.lanes)});
        return SmallVector<Value>{};
      });
    }
  }
}

/// Every block of B output channels: B × P accumulators over the channels
/// and taps, then the epilogue.
void DirectConvEmitter::emitChannelBlocks(Value y, Value x0, int64_t valid,
                                          ArrayRef<Value> inverseNorms) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  int64_t vectors = s.pixelVectors, perBlock = s.channelsPerBlock;
  e.loop(blockBegin, blockEnd, {}, [&](Value ob, ValueRange) {
    Value o0 = arith::MulIOp::create(b, loc, ob, e.index(perBlock));
    SmallVector<Value> init(perBlock * vectors, e.zeros());
    SmallVector<Value> acc = e.loop(
        s.c, init, [&](Value ci, ValueRange carried) -> SmallVector<Value> {
          SmallVector<Value> next(carried);
          for (int64_t t = 0; t < s.taps(); ++t) {
            SmallVector<Value> xs;
            for (int64_t j = 0; j < vectors; ++j)
              xs.push_back(
                  mixed
                      ? Value(vector::LoadOp::create(
                            b, loc, e.vec, mixed,
                            ValueRange{ci, e.index(t), e.index(j * s.lanes)}))
                      : tap(ci, y, e.add(x0, j * s.lanes), t / s.kw, t % s.kw));
            for (int64_t i = 0; i < perBlock; ++i) {
              Value wv = e.splat(memref::LoadOp::create(
                  b, loc, d.weight,
                  ValueRange{e.add(o0, i), ci, e.index(t / s.kw),
                             e.index(t % s.kw)}));
              for (int64_t j = 0; j < vectors; ++j) {
                Value &slot = next[i * vectors + j];
                slot = vector::FMAOp::create(b, loc, wv, xs[j], slot);
              }
            }
          }
          return next;
        });
    for (int64_t i = 0; i < perBlock; ++i)
      storeChannel(e.add(o0, i), y, x0, valid,
                   ArrayRef(acc).slice(i * vectors, vectors), inverseNorms);
    return SmallVector<Value>{};
  });
}

/// The epilogue of output channel `oi` (ConvGroup.h: 1/‖w_o‖, bias, batch
/// norm, activation) on its accumulators, then the stores.
void DirectConvEmitter::storeChannel(Value oi, Value y, Value x0, int64_t valid,
                                     ArrayRef<Value> accumulators,
                                     ArrayRef<Value> inverseNorms) {
  OpBuilder &b = e.b;
  Location loc = e.loc;
  auto perChannel = [&](Value memref) -> Value {
    return memref
               ? Value(memref::LoadOp::create(b, loc, memref, ValueRange{oi}))
               : Value();
  };
  Value scale;
  if (norms)
    scale = arith::DivFOp::create(b, loc, e.f32(1.0), perChannel(norms));
  ChannelParameters parameters = d.epilogue;
  for (Value *p : {&parameters.bias, &parameters.bnWeight, &parameters.bnBias,
                   &parameters.bnMean, &parameters.bnVar})
    *p = perChannel(*p);
  // A SphereConv other than cosine maps cos θ (the 1/‖w_o‖ applied first)
  // through its g(θ) before the affine epilogue.
  SphereConv2dOp layer = sphere() ? group.sphereConv() : SphereConv2dOp();
  bool mapped = layer && layer.getVariant() != SphereVariant::Cosine;
  ChannelAffine affine =
      channelAffine(b, loc, mapped ? Value() : scale, parameters);
  for (int64_t j = 0; j < s.pixelVectors; ++j) {
    if (validIn(valid, j) == 0)
      continue;
    Value v = accumulators[j];
    if (sphere())
      v = arith::MulFOp::create(b, loc, v, inverseNorms[j]);
    if (mapped) {
      if (scale)
        v = arith::MulFOp::create(b, loc, v, e.splat(scale));
      v = lowering::sphereOutput(b, loc, v, layer.getVariant(),
                                 layer.getSigmoidK().convertToDouble(),
                                 perChannel(d.kParam));
    }
    v = applyEpilogue(b, loc, v, affine, group.epilogue.activation);
    e.store(v, d.output, ValueRange{e.index(0), oi, y, e.add(x0, j * s.lanes)},
            validIn(valid, j));
  }
}

} // namespace

DirectConvSplit
mlir::nsl::chooseDirectConvSplit(const ConvGroup &group, int64_t samples,
                                 int64_t iterations,
                                 const DirectConvTiling &tiling) {
  DirectConvShape s = shapeOf(group, dims(group.input()), dims(group.weight()),
                              dims(group.result), tiling);
  DirectConvSplit split;
  int64_t wanted = (iterations + samples - 1) / std::max<int64_t>(samples, 1);
  if (wanted <= 1)
    return split;
  int64_t blocks = s.o / s.channelsPerBlock;
  bool perPixelWork = group.kind == ConvKind::UNS ||
                      (group.kind == ConvKind::DNS &&
                       (group.similaritySource() || group.predictor));
  if (perPixelWork || s.ho >= 2 * wanted) {
    split.rowChunks = std::min(s.ho, wanted);
    return split;
  }
  split.channelChunks = std::min(blocks, wanted);
  split.rowChunks =
      std::min(s.ho, (wanted + split.channelChunks - 1) / split.channelChunks);
  return split;
}

void mlir::nsl::emitDirectConv(OpBuilder &b, Location loc,
                               const ConvGroup &group, const IRMapping &buffers,
                               Value output, Operation *sampleLoop,
                               const DirectConvTiling &tiling,
                               const DirectConvSplit &split, Value chunk) {
  DirectConvBuffers d = buffersOf(group, buffers, output);
  DirectConvShape s =
      shapeOf(group, dims(d.input), dims(d.weight), dims(output), tiling);
  DirectConvEmitter(b, loc, sampleLoop, group, d, s, split).emit(chunk);
}
