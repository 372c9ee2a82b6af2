//===- DirectConv.cpp - Register-blocked, vectorised convolutions ---------===//
#include "codegen/DirectConv.h"
#include "dialect/NSLOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

using namespace mlir;
using namespace mlir::nsl;

namespace {

/// The convolution at the head of a group, as the emitter sees it.
struct ConvView {
  Value input, weight, mask, bias;
  ArrayRef<int64_t> padding, dilation, stride;
  bool sphere = false, inputOnly = false;
  double epsilon = 0.0;
  /// UNS: the taps of each patch are mixed by M_p ([1, K·K, Ho, Wo]) first.
  bool mixing = false;
};

std::optional<ConvView> viewConv(Operation *op) {
  if (auto conv = dyn_cast<SimConv2dOp>(op)) {
    ConvView view{conv.getInput(), conv.getWeight(),  {},
                  conv.getBias(),  conv.getPadding(), conv.getDilation(),
                  conv.getStride()};
    if (conv.getStructure() == Structure::Identity && !conv.getDynamic())
      return view;
    if ((conv.getStructure() == Structure::Diagonal ||
         conv.getStructure() == Structure::Full) &&
        conv.getDynamic()) {
      view.mask = conv.getSimilarity()[0];
      view.mixing = conv.getStructure() == Structure::Full;
      return view;
    }
    return std::nullopt;
  }
  if (auto sphere = dyn_cast<SphereConv2dOp>(op)) {
    if (sphere.getVariant() != SphereVariant::Cosine)
      return std::nullopt;
    ConvView view{
        sphere.getInput(),    sphere.getWeight(), {}, {}, sphere.getPadding(),
        sphere.getDilation(), sphere.getStride()};
    view.sphere = true;
    view.inputOnly = sphere.getInputOnly();
    view.epsilon = sphere.getEpsilon().convertToDouble();
    return view;
  }
  return std::nullopt;
}

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
    auto forOp = scf::ForOp::create(
        b, loc, index(0), index(count), index(1), init,
        [&](OpBuilder &nested, Location nestedLoc, Value i, ValueRange iter) {
          OpBuilder::InsertionGuard guard(b);
          b.setInsertionPointToStart(nested.getInsertionBlock());
          SmallVector<Value> yielded = body(i, iter);
          scf::YieldOp::create(b, nestedLoc, yielded);
        });
    return SmallVector<Value>(forOp.getResults());
  }
};

/// The per-output-channel epilogue: scale·v + shift (bias and batch norm
/// folded together), then relu.
struct Epilogue {
  Value bias, bnWeight, bnBias, bnMean, bnVar;
  double bnEpsilon = 0.0;
  bool relu = false;
};

} // namespace

/// The group's convolution and epilogue: after the predicted mask, and
/// after the SphereConv predicting it when that is fused too.
static ArrayRef<Operation *> convAndEpilogue(ArrayRef<Operation *> group) {
  if (group.size() >= 2 && isa<SphereConv2dOp>(group[0]) &&
      isa<PredictedSimilarityOp>(group[1]))
    return group.drop_front(2);
  if (!group.empty() && isa<PredictedSimilarityOp>(group.front()))
    return group.drop_front();
  return group;
}

/// A SphereConv predictor fused into the DNS convolution it drives: it reads
/// the same padded input through the same window, K channels.
static bool fusablePredictor(SphereConv2dOp sphere, SimConv2dOp conv,
                             int64_t registerBudget, int64_t pixelVectors) {
  auto ws = cast<RankedTensorType>(sphere.getWeight().getType()).getShape();
  auto wc = cast<RankedTensorType>(conv.getWeight().getType()).getShape();
  return sphere.getVariant() == SphereVariant::Cosine &&
         sphere.getInput() == conv.getInput() &&
         conv.getStructure() == Structure::Diagonal && ws[2] == wc[2] &&
         ws[3] == wc[3] && ws[0] == wc[2] * wc[3] &&
         sphere.getStride() == conv.getStride() &&
         sphere.getPadding() == conv.getPadding() &&
         sphere.getDilation() == conv.getDilation() &&
         ws[0] * pixelVectors <= registerBudget;
}

bool mlir::nsl::canEmitDirectConv(ArrayRef<Operation *> group) {
  ArrayRef<Operation *> rest = convAndEpilogue(group);
  if (rest.empty() || !viewConv(rest.front()))
    return false;
  if (rest.size() + 2 == group.size() &&
      !fusablePredictor(cast<SphereConv2dOp>(group[0]),
                        dyn_cast<SimConv2dOp>(rest.front()), 24, 1))
    return false;
  for (Operation *op : rest.drop_front())
    if (!isa<BatchNormOp, ReluOp>(op))
      return false;
  return true;
}

void mlir::nsl::emitDirectConv(OpBuilder &b, Location loc,
                               ArrayRef<Operation *> group,
                               const IRMapping &buffers, Value output,
                               Operation *sampleLoop,
                               const DirectConvTiling &tiling) {
  ArrayRef<Operation *> rest = convAndEpilogue(group);
  ConvView conv = *viewConv(rest.front());
  Value prediction, gamma;
  // A fused SphereConv predictor computes the mask per block of pixels.
  SphereConv2dOp predictor = rest.size() + 2 == group.size()
                                 ? cast<SphereConv2dOp>(group[0])
                                 : SphereConv2dOp();
  if (auto predicted =
          dyn_cast<PredictedSimilarityOp>(group[predictor ? 1 : 0])) {
    if (!predictor)
      prediction = buffers.lookup(predicted.getPrediction());
    gamma = buffers.lookup(predicted.getGamma());
  }
  Epilogue epilogue;
  epilogue.bias = conv.bias ? buffers.lookup(conv.bias) : Value();
  for (Operation *op : rest.drop_front()) {
    if (auto bn = dyn_cast<BatchNormOp>(op)) {
      epilogue.bnWeight = buffers.lookup(bn.getWeight());
      epilogue.bnBias = buffers.lookup(bn.getBias());
      epilogue.bnMean = buffers.lookup(bn.getRunningMean());
      epilogue.bnVar = buffers.lookup(bn.getRunningVar());
      epilogue.bnEpsilon = bn.getEpsilon().convertToDouble();
    } else {
      epilogue.relu = true;
    }
  }
  Value input = buffers.lookup(conv.input);
  Value weight = buffers.lookup(conv.weight);
  // The mask buffer, or the prediction it is computed from.
  Value mask = prediction ? prediction
                          : (conv.mask ? buffers.lookup(conv.mask) : Value());

  auto inType = cast<MemRefType>(input.getType());
  auto wType = cast<MemRefType>(weight.getType());
  auto outType = cast<MemRefType>(output.getType());
  int64_t c = inType.getDimSize(1), h = inType.getDimSize(2),
          w = inType.getDimSize(3);
  int64_t o = wType.getDimSize(0), kh = wType.getDimSize(2),
          kw = wType.getDimSize(3);
  int64_t ho = outType.getDimSize(2), wo = outType.getDimSize(3);
  int64_t ph = conv.padding[0], pw = conv.padding[1];
  int64_t dh = conv.dilation[0], dw = conv.dilation[1];

  int64_t lanes = tiling.vectorWidth;
  int64_t pixelVectors = std::max<int64_t>(tiling.pixelVectors, 1);
  // Fewer vectors than a full block when the row is short.
  pixelVectors = std::min(pixelVectors, (wo + lanes - 1) / lanes);
  int64_t block = pixelVectors * lanes;
  // The requested block when it divides O; otherwise the largest divisor of
  // O up to what the accumulator registers hold (24 of AVX-512's 32, 12 of
  // AVX2's 16): O = 9 or 81 (a predictor) still gets full blocks.
  int64_t registerBudget = lanes >= 16 ? 24 : 12;
  int64_t limit =
      o % tiling.outputChannels == 0
          ? tiling.outputChannels
          : std::max(tiling.outputChannels, registerBudget / pixelVectors);
  int64_t channelsPerBlock = 1;
  for (int64_t candidate = std::min(limit, o); candidate >= 1; --candidate)
    if (o % candidate == 0) {
      channelsPerBlock = candidate;
      break;
    }
  int64_t fullBlocks = wo / block, tail = wo - fullBlocks * block;

  Emitter e{b, loc, VectorType::get({lanes}, b.getF32Type())};

  // The zero-padded input of this sample as [C, Hp, sw, Wq]: column
  // x·sw + q of the padded row is phase q, position x, so that the input of
  // consecutive output pixels (x·sw + kx·dw) is contiguous in each phase even
  // with a stride. Wide enough for every vector load of the last (possibly
  // partial) block.
  int64_t sh = conv.stride[0], sw = conv.stride[1];
  int64_t paddedWidth =
      std::max(((wo + block - 1) / block) * block + (kw - 1) * dw / sw,
               (w + 2 * pw - 1) / sw + 1);
  int64_t paddedHeight = h + 2 * ph;
  // Work that does not depend on the sample runs once per kernel call,
  // before the loop over the samples: the zero borders of the padded input
  // (each sample only overwrites the interior), weight packing and norms.
  OpBuilder pb(sampleLoop);
  Emitter pe{pb, loc, e.vec};
  Value padded = memref::AllocOp::create(
      pb, loc,
      MemRefType::get({c, paddedHeight, sw, paddedWidth}, pb.getF32Type()));
  linalg::FillOp::create(pb, loc, pe.f32(0.0), padded);
  // This sample into the interior of the padded input: with unit stride a
  // row at a time in vectors (the last one masked, so the right border stays
  // zero); with a stride, element by element into the phases.
  int64_t rowVectors = (w + lanes - 1) / lanes;
  e.loop(c, {}, [&](Value ci, ValueRange) {
    e.loop(h, {}, [&](Value yi, ValueRange) {
      if (sw == 1) {
        for (int64_t v = 0; v < rowVectors; ++v) {
          int64_t valid = std::min(lanes, w - v * lanes);
          Value row = e.load(
              input, ValueRange{e.index(0), ci, yi, e.index(v * lanes)}, valid);
          e.store(row, padded,
                  ValueRange{ci, e.add(yi, ph), e.index(0),
                             e.index(pw + v * lanes)},
                  valid);
        }
        return SmallVector<Value>{};
      }
      for (int64_t xi = 0; xi < w; ++xi) {
        Value value = memref::LoadOp::create(
            b, loc, input, ValueRange{e.index(0), ci, yi, e.index(xi)});
        memref::StoreOp::create(b, loc, value, padded,
                                ValueRange{ci, e.add(yi, ph),
                                           e.index((xi + pw) % sw),
                                           e.index((xi + pw) / sw)});
      }
      return SmallVector<Value>{};
    });
    return SmallVector<Value>{};
  });
  // The input vector of tap (ky, kx) for output pixels [x, x + V) of row y.
  auto tap = [&](Value ci, Value y, Value x, int64_t ky, int64_t kx) {
    Value row = sh == 1 ? y : arith::MulIOp::create(b, loc, y, e.index(sh));
    return vector::LoadOp::create(b, loc, e.vec, padded,
                                  ValueRange{ci, e.add(row, ky * dh),
                                             e.index(kx * dw % sw),
                                             e.add(x, kx * dw / sw)});
  };
  int64_t k = kh * kw;
  // UNS: the mixed taps Z of one block of pixels, for all channels.
  // DNS: the masked taps m[t]·X_p[c,t] of one block, likewise computed once
  // for all output channel blocks (not once per block).
  bool masked = !conv.mixing && (mask || predictor);
  Value mixed;
  if (conv.mixing || masked)
    mixed = memref::AllocOp::create(
        b, loc, MemRefType::get({c, k, block}, b.getF32Type()));

  // SphereConv: ‖w_o‖.
  auto normsOf = [&](Value weight, int64_t o, double epsilon) {
    Value weightNorms =
        memref::AllocOp::create(pb, loc, MemRefType::get({o}, pb.getF32Type()));
    pe.loop(o, {}, [&](Value oi, ValueRange) -> SmallVector<Value> {
      Value sum = pe.f32(0.0);
      SmallVector<Value> total = pe.loop(
          c, {sum}, [&](Value ci, ValueRange acc) -> SmallVector<Value> {
            Value s = acc[0];
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                Value v = memref::LoadOp::create(
                    pb, loc, weight,
                    ValueRange{oi, ci, pe.index(ky), pe.index(kx)});
                s = math::FmaOp::create(pb, loc, v, v, s);
              }
            return {s};
          });
      Value norm = math::SqrtOp::create(
          pb, loc, arith::AddFOp::create(pb, loc, total[0], pe.f32(epsilon)));
      memref::StoreOp::create(pb, loc, norm, weightNorms, ValueRange{oi});
      return {};
    });
    return weightNorms;
  };
  Value weightNorms;
  if (conv.sphere && !conv.inputOnly)
    weightNorms = normsOf(weight, o, conv.epsilon);

  Value zeroIndex = e.index(0);
  // The weights packed as [O/B, C, K, B]: the B values a block broadcasts
  // for one (c, tap) are adjacent (one cache line instead of B).
  auto pack = [&](Value weight, int64_t o, int64_t channelsPerBlock) {
    int64_t blocks = o / channelsPerBlock;
    Value packed = memref::AllocOp::create(
        pb, loc,
        MemRefType::get({blocks, c, k, channelsPerBlock}, pb.getF32Type()));
    pe.loop(blocks, {}, [&](Value ob, ValueRange) {
      pe.loop(c, {}, [&](Value ci, ValueRange) {
        for (int64_t i = 0; i < channelsPerBlock; ++i) {
          Value oi = arith::AddIOp::create(
              pb, loc,
              arith::MulIOp::create(pb, loc, ob, pe.index(channelsPerBlock)),
              pe.index(i));
          for (int64_t t = 0; t < k; ++t) {
            Value v = memref::LoadOp::create(
                pb, loc, weight,
                ValueRange{oi, ci, pe.index(t / kw), pe.index(t % kw)});
            memref::StoreOp::create(
                pb, loc, v, packed,
                ValueRange{ob, ci, pe.index(t), pe.index(i)});
          }
        }
        return SmallVector<Value>{};
      });
      return SmallVector<Value>{};
    });
    return packed;
  };
  Value packed = pack(weight, o, channelsPerBlock);
  // The fused predictor: its weights as one block of K channels, its norms,
  // and the K mask vectors of the current block of pixels.
  Value predictorPacked, predictorNorms, maskBlock;
  double normEpsilon = conv.epsilon;
  if (predictor) {
    Value predictorWeight = buffers.lookup(predictor.getWeight());
    predictorPacked = pack(predictorWeight, k, k);
    normEpsilon = predictor.getEpsilon().convertToDouble();
    if (!predictor.getInputOnly())
      predictorNorms = normsOf(predictorWeight, k, normEpsilon);
    maskBlock = memref::AllocOp::create(
        b, loc, MemRefType::get({k, block}, b.getF32Type()));
  }
  // γ of a fused predicted mask (rank 0 or [1]).
  Value gammaVector;
  if (gamma) {
    SmallVector<Value> at(cast<MemRefType>(gamma.getType()).getRank(),
                          zeroIndex);
    gammaVector =
        e.splat(memref::LoadOp::create(b, loc, gamma, ValueRange(at)));
  }
  // One block of output pixels [x0, x0 + validLanes) of row y.
  auto emitBlock = [&](Value y, Value x0, int64_t valid) {
    auto validIn = [&](int64_t j) {
      return std::clamp<int64_t>(valid - j * lanes, 0, lanes);
    };
    // ‖x_p‖ of a SphereConv from the rows the channel blocks read next.
    SmallVector<Value> inverseNorms;
    if (conv.sphere || predictor) {
      SmallVector<Value> init(pixelVectors, e.zeros());
      SmallVector<Value> sums =
          e.loop(c, init, [&](Value ci, ValueRange acc) -> SmallVector<Value> {
            SmallVector<Value> next(acc);
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx)
                for (int64_t j = 0; j < pixelVectors; ++j) {
                  Value v = tap(ci, y, e.add(x0, j * lanes), ky, kx);
                  next[j] = vector::FMAOp::create(b, loc, v, v, next[j]);
                }
            return next;
          });
      for (Value sum : sums)
        inverseNorms.push_back(math::RsqrtOp::create(
            b, loc,
            arith::AddFOp::create(b, loc, sum, e.splat(e.f32(normEpsilon)))));
    }
    // The fused predictor: P = cos θ of the K channels for this block, then
    // M_p = γ·P + 1 into the mask block the channel blocks read.
    if (predictor) {
      SmallVector<Value> init(k * pixelVectors, e.zeros());
      SmallVector<Value> acc = e.loop(
          c, init, [&](Value ci, ValueRange carried) -> SmallVector<Value> {
            SmallVector<Value> next(carried);
            for (int64_t t = 0; t < k; ++t) {
              SmallVector<Value> xs;
              for (int64_t j = 0; j < pixelVectors; ++j)
                xs.push_back(tap(ci, y, e.add(x0, j * lanes), t / kw, t % kw));
              for (int64_t i = 0; i < k; ++i) {
                Value wv = e.splat(memref::LoadOp::create(
                    b, loc, predictorPacked,
                    ValueRange{zeroIndex, ci, e.index(t), e.index(i)}));
                for (int64_t j = 0; j < pixelVectors; ++j) {
                  Value &slot = next[i * pixelVectors + j];
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
        for (int64_t j = 0; j < pixelVectors; ++j) {
          Value cos = arith::MulFOp::create(b, loc, acc[i * pixelVectors + j],
                                            inverseNorms[j]);
          Value m =
              vector::FMAOp::create(b, loc, cos, scale, e.splat(e.f32(1.0)));
          vector::StoreOp::create(b, loc, m, maskBlock,
                                  ValueRange{e.index(i), e.index(j * lanes)});
        }
      }
    }
    // UNS: Z[c, t, x] = Σ_s M_p[t,s]·X_p[c,s] for this block, computed
    // once for all output channels; per pixel vector j and tap t the row
    // M_p[t, ·] stays in registers over the channels.
    if (masked) {
      for (int64_t j = 0; j < pixelVectors; ++j) {
        if (validIn(j) == 0)
          continue;
        for (int64_t t = 0; t < k; ++t) {
          Value m;
          if (maskBlock) {
            m = vector::LoadOp::create(
                b, loc, e.vec, maskBlock,
                ValueRange{e.index(t), e.index(j * lanes)});
          } else {
            m = e.load(
                mask,
                ValueRange{zeroIndex, e.index(t), y, e.add(x0, j * lanes)},
                validIn(j));
            if (gammaVector) // M_p = γ·P + 1, as loaded.
              m = vector::FMAOp::create(b, loc, m, gammaVector,
                                        e.splat(e.f32(1.0)));
          }
          e.loop(c, {}, [&](Value ci, ValueRange) {
            Value v = tap(ci, y, e.add(x0, j * lanes), t / kw, t % kw);
            vector::StoreOp::create(
                b, loc, arith::MulFOp::create(b, loc, v, m), mixed,
                ValueRange{ci, e.index(t), e.index(j * lanes)});
            return SmallVector<Value>{};
          });
        }
      }
    }
    if (conv.mixing) {
      for (int64_t j = 0; j < pixelVectors; ++j) {
        if (validIn(j) == 0)
          continue;
        for (int64_t t = 0; t < k; ++t) {
          SmallVector<Value> row;
          for (int64_t src = 0; src < k; ++src) {
            Value m = e.load(mask,
                             ValueRange{zeroIndex, e.index(t * k + src), y,
                                        e.add(x0, j * lanes)},
                             validIn(j));
            if (gammaVector) // M_p = γ·P + I, as loaded.
              m = vector::FMAOp::create(b, loc, m, gammaVector,
                                        e.splat(e.f32(t == src ? 1.0 : 0.0)));
            row.push_back(m);
          }
          e.loop(c, {}, [&](Value ci, ValueRange) {
            Value z = e.zeros();
            for (int64_t src = 0; src < k; ++src) {
              Value v = tap(ci, y, e.add(x0, j * lanes), src / kw, src % kw);
              z = vector::FMAOp::create(b, loc, row[src], v, z);
            }
            vector::StoreOp::create(
                b, loc, z, mixed,
                ValueRange{ci, e.index(t), e.index(j * lanes)});
            return SmallVector<Value>{};
          });
        }
      }
    }
    e.loop(o / channelsPerBlock, {}, [&](Value ob, ValueRange) {
      Value o0 = arith::MulIOp::create(b, loc, ob, e.index(channelsPerBlock));
      SmallVector<Value> init(channelsPerBlock * pixelVectors, e.zeros());
      SmallVector<Value> acc = e.loop(
          c, init, [&](Value ci, ValueRange carried) -> SmallVector<Value> {
            SmallVector<Value> next(carried);
            for (int64_t ky = 0; ky < kh; ++ky)
              for (int64_t kx = 0; kx < kw; ++kx) {
                SmallVector<Value> xs;
                for (int64_t j = 0; j < pixelVectors; ++j) {
                  if (mixed) {
                    xs.push_back(vector::LoadOp::create(
                        b, loc, e.vec, mixed,
                        ValueRange{ci, e.index(ky * kw + kx),
                                   e.index(j * lanes)}));
                    continue;
                  }
                  xs.push_back(tap(ci, y, e.add(x0, j * lanes), ky, kx));
                }
                for (int64_t i = 0; i < channelsPerBlock; ++i) {
                  Value wv = e.splat(memref::LoadOp::create(
                      b, loc, packed,
                      ValueRange{ob, ci, e.index(ky * kw + kx), e.index(i)}));
                  for (int64_t j = 0; j < pixelVectors; ++j) {
                    Value &slot = next[i * pixelVectors + j];
                    slot = vector::FMAOp::create(b, loc, wv, xs[j], slot);
                  }
                }
              }
            return next;
          });
      for (int64_t i = 0; i < channelsPerBlock; ++i) {
        Value oi = e.add(o0, i);
        // scale·v + shift per output channel: 1/‖w_o‖, bias and BN folded.
        Value scale = e.f32(1.0), shift = e.f32(0.0);
        if (weightNorms)
          scale = arith::DivFOp::create(
              b, loc, scale,
              memref::LoadOp::create(b, loc, weightNorms, ValueRange{oi}));
        if (epilogue.bias)
          shift = memref::LoadOp::create(b, loc, epilogue.bias, ValueRange{oi});
        if (epilogue.bnWeight) {
          auto param = [&](Value memref) {
            return memref::LoadOp::create(b, loc, memref, ValueRange{oi});
          };
          // (v·s + t − mean)·γ/sqrt(var + ε) + β.
          Value inv = math::RsqrtOp::create(
              b, loc,
              arith::AddFOp::create(b, loc, param(epilogue.bnVar),
                                    e.f32(epilogue.bnEpsilon)));
          Value gamma =
              arith::MulFOp::create(b, loc, param(epilogue.bnWeight), inv);
          scale = arith::MulFOp::create(b, loc, scale, gamma);
          Value centred =
              arith::SubFOp::create(b, loc, shift, param(epilogue.bnMean));
          shift = arith::AddFOp::create(
              b, loc, arith::MulFOp::create(b, loc, centred, gamma),
              param(epilogue.bnBias));
        }
        Value scaleV = e.splat(scale), shiftV = e.splat(shift);
        for (int64_t j = 0; j < pixelVectors; ++j) {
          if (validIn(j) == 0)
            continue;
          Value v = acc[i * pixelVectors + j];
          if (conv.sphere)
            v = arith::MulFOp::create(b, loc, v, inverseNorms[j]);

          v = vector::FMAOp::create(b, loc, v, scaleV, shiftV);
          if (epilogue.relu)
            v = arith::MaximumFOp::create(b, loc, v, e.zeros());
          e.store(v, output, ValueRange{zeroIndex, oi, y, e.add(x0, j * lanes)},
                  validIn(j));
        }
      }
      return SmallVector<Value>{};
    });
  };

  e.loop(ho, {}, [&](Value y, ValueRange) {
    if (fullBlocks > 0)
      e.loop(fullBlocks, {}, [&](Value xb, ValueRange) {
        emitBlock(y, arith::MulIOp::create(b, loc, xb, e.index(block)), block);
        return SmallVector<Value>{};
      });
    if (tail > 0)
      emitBlock(y, e.index(fullBlocks * block), tail);
    return SmallVector<Value>{};
  });
}
