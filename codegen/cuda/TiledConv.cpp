//===- TiledConv.cpp - Implicit-GEMM similarity convolution kernels -------===//
//
// `nsl-tile-convs-for-gpu` (docs/gpu.md, "The tiled convolution"): a kernel
// group that is a convolution — `sim_conv2d` (plain, static similarity
// already folded into the weights, or dynamic DNS with its mask) or
// `sphere_conv2d` — with its epilogue (bias, inference batch_norm, relu) and,
// for DNS, the `predicted_similarity` that turns the predictor's output into
// the mask, becomes one implicit-GEMM kernel written directly in the
// gpu/scf/vector/memref dialects:
//
//   Y[o, p] = Σ_r A[o, r] · B[r, p],  r = (c, t),  A = W as [O, C·K],
//   B[r, p] = mask[t, p] · X_p[c, t]  (the im2col patch, never stored)
//
//   * grid (⌈P/BN⌉, ⌈O/BM⌉, N): one block per BM output channels × BN output
//     pixels of one sample; (BM/TM)·(BN/TN) threads, each owning a TM × TN
//     register tile of accumulators;
//   * the reduction over C·K runs in chunks of BK staged through shared
//     memory: A's chunk read with vector loads where rows allow it, B's chunk
//     gathered from the image (zero padding by predicate, the DNS mask —
//     γ·P + 1 when the prediction is fused — multiplied in as it is loaded);
//   * double buffering (stages = 2): the next chunk's global loads are issued
//     before the current chunk's products and stored to the other buffer
//     after them, one barrier per chunk;
//   * SphereConv accumulates Σ B² per pixel (the patch norm ‖x_p‖) and Σ A²
//     per filter (‖w_o‖) in the same pass and applies them in the epilogue;
//   * the epilogue adds the bias, applies batch norm and relu, and stores
//     TN consecutive pixels per vector store where the rows allow it.
//
// The tile sizes and the pipeline depth are explicit options
// (TiledConvOptions). With `emulate` the same block code is generated for the
// CPU instead — each phase between two barriers a loop over the thread ids,
// the per-thread accumulators in memory between phases — so the tiling is
// checked against the reference interpreter on machines without a GPU
// (nslc --emulate-cuda-tiles).
//
//===----------------------------------------------------------------------===//
#include "codegen/common/ConvGroup.h"
#include "codegen/common/KernelOutlining.h"
#include "codegen/common/LinalgBuilder.h"
#include "codegen/cuda/CudaCodegen.h"
#include "codegen/cuda/Passes.h"
#include "dialect/NSLOps.h"

#include "mlir/Dialect/Arith/IR/Arith.h"
#include "mlir/Dialect/Bufferization/IR/Bufferization.h"
#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/Dialect/GPU/IR/GPUDialect.h"
#include "mlir/Dialect/Math/IR/Math.h"
#include "mlir/Dialect/MemRef/IR/MemRef.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"

namespace mlir::nsl::cuda {
#define GEN_PASS_DEF_TILECONVSFORGPU
#include "codegen/cuda/Passes.h.inc"
} // namespace mlir::nsl::cuda

using namespace mlir;
using namespace mlir::nsl;
using namespace mlir::nsl::cuda;
using lowering::addf;
using lowering::cstf;
using lowering::divf;
using lowering::mulf;

namespace {

constexpr llvm::StringLiteral kModuleName = "nsl_kernels";

//===----------------------------------------------------------------------===//
// Matching a kernel group
//===----------------------------------------------------------------------===//

/// A kernel group the tiled kernel computes (ConvGroup.h), with the kernel
/// arguments of its operands. Plain data: the emulation replaces the ops
/// before building.
struct TiledGroup {
  // SphereConv (else sim_conv2d) and its attributes.
  bool sphere = false;
  SphereVariant variant = SphereVariant::Cosine;
  bool inputOnly = false;
  double epsilon = 0.0, sigmoidK = 0.0;
  bool masked = false;    // DNS (diagonal dynamic)
  bool predicted = false; // mask = γ·P + 1 computed here
  // The SphereConv predictor of the mask computed here too (first pass);
  // the SphereConv attributes above are then its own.
  bool fusedPredictor = false;
  KernelBuffer predictorWeight;
  bool batchNorm = false;
  double bnEpsilon = 0.0;
  Activation activation = Activation::None;
  KernelBuffer input, weight, bias, mask, gamma, kParam, output;
  KernelBuffer bnWeight, bnBias, bnMean, bnVar;
  // Geometry.
  int64_t batch = 0, channels = 0, height = 0, width = 0;
  int64_t outChannels = 0, outHeight = 0, outWidth = 0;
  int64_t kh = 0, kw = 0;
  SmallVector<int64_t, 2> stride, padding, dilation;
  int64_t taps() const { return kh * kw; }
  int64_t reduction() const { return channels * taps(); }
  int64_t pixels() const { return outHeight * outWidth; }
};

/// The SphereConv attributes of `sphere` into `g`.
void takeSphereAttributes(SphereConv2dOp sphere, TiledGroup &g) {
  g.variant = sphere.getVariant();
  g.inputOnly = sphere.getInputOnly();
  g.epsilon = sphere.getEpsilon().convertToDouble();
  g.sigmoidK = sphere.getSigmoidK().convertToDouble();
}

/// The kernel arguments of the group's operands; false when one is not read
/// from an argument the way the tiled kernel needs (per sample or whole).
bool bindArguments(const OutlinedKernel &kernel, const ConvGroup &group,
                   TiledGroup &g) {
  auto argument = [&](Value value) {
    return value ? kernel.argumentOf(kernel.bufferOf(value)) : KernelBuffer();
  };
  auto whole = [&](Value value, KernelBuffer &slot) {
    slot = argument(value);
    return !value || (slot && !slot.perSample);
  };
  auto perSample = [&](Value value, KernelBuffer &slot) {
    slot = argument(value);
    return !value || slot.perSample;
  };
  bool bound =
      perSample(group.input(), g.input) && whole(group.weight(), g.weight) &&
      whole(group.epilogue.bias, g.bias) && whole(group.gamma(), g.gamma) &&
      perSample(group.similaritySource(), g.mask);
  if (SphereConv2dOp sphere =
          group.predictor ? group.predictor : group.sphereConv())
    bound = bound && whole(sphere.getKParam(), g.kParam);
  if (SphereConv2dOp predictor = group.predictor)
    bound = bound && whole(predictor.getWeight(), g.predictorWeight);
  if (BatchNormOp bn = group.epilogue.batchNorm)
    bound = bound && whole(bn.getWeight(), g.bnWeight) &&
            whole(bn.getBias(), g.bnBias) &&
            whole(bn.getRunningMean(), g.bnMean) &&
            whole(bn.getRunningVar(), g.bnVar);
  g.output = kernel.argumentOf(kernel.destinationOf(group.result));
  return bound && g.output.perSample;
}

/// The group of `kernel` if the tiled kernel computes it: plain, DNS (with
/// its mask made here or loaded) or SphereConv, any epilogue.
std::optional<TiledGroup> tiledGroupOf(func::FuncOp kernel) {
  std::optional<OutlinedKernel> view = viewOutlinedKernel(kernel);
  if (!view)
    return std::nullopt;
  std::optional<ConvGroup> group = matchConvGroup(view->ops);
  if (!group || group->kind == ConvKind::UNS)
    return std::nullopt;
  TiledGroup g;
  g.sphere = group->kind == ConvKind::Sphere;
  g.masked = group->kind == ConvKind::DNS;
  g.predicted = static_cast<bool>(group->predicted);
  g.fusedPredictor = static_cast<bool>(group->predictor);
  if (SphereConv2dOp sphere =
          group->predictor ? group->predictor : group->sphereConv())
    takeSphereAttributes(sphere, g);
  if (BatchNormOp bn = group->epilogue.batchNorm) {
    g.batchNorm = true;
    g.bnEpsilon = bn.getEpsilon().convertToDouble();
  }
  g.activation = group->epilogue.activation;
  g.stride.assign(group->stride().begin(), group->stride().end());
  g.padding.assign(group->padding().begin(), group->padding().end());
  g.dilation.assign(group->dilation().begin(), group->dilation().end());
  if (!bindArguments(*view, *group, g))
    return std::nullopt;

  auto shape = [&](KernelBuffer s) {
    return cast<MemRefType>(kernel.getArgument(s.argument).getType())
        .getShape();
  };
  ArrayRef<int64_t> in = shape(g.input), ws = shape(g.weight),
                    out = shape(g.output);
  if (in.size() != 4 || ws.size() != 4 || out.size() != 4 || in[1] != ws[1])
    return std::nullopt;
  g.batch = in[0];
  g.channels = in[1];
  g.height = in[2];
  g.width = in[3];
  g.outChannels = ws[0];
  g.kh = ws[2];
  g.kw = ws[3];
  g.outHeight = out[2];
  g.outWidth = out[3];
  if (out[0] != g.batch || out[1] != g.outChannels)
    return std::nullopt;
  return g;
}

//===----------------------------------------------------------------------===//
// Tiles
//===----------------------------------------------------------------------===//

/// The fused predictor's rows (its K outputs) padded to 8: aligned vector
/// reads of its shared tile (ptxas spilled with K = 9 padded to 12).
int64_t paddedTaps(const TiledGroup &g) { return (g.taps() + 7) / 8 * 8; }

/// Shared memory the fitted tiles may use (static shared memory is limited
/// to 48 KiB per block; a smaller footprint leaves room for more blocks per
/// SM).
constexpr int64_t kSharedBudget = 24 * 1024;

struct Tiles {
  int64_t m, n, k, tm, tn, stages;
  int64_t threads() const { return (m / tm) * (n / tn); }
};

/// The options' tiles fitted to the layer: fewer output-channel rows for
/// narrow layers, more pixel columns while the block has under 128 threads.
Tiles fitTiles(const TiledConvOptions &options, const TiledGroup &g) {
  Tiles t{options.tileM,   options.tileN,   options.tileK,
          options.threadM, options.threadN, options.stages};
  while (t.m / 2 >= g.outChannels && t.m / 2 >= t.tm && (t.m / 2) % t.tm == 0)
    t.m /= 2;
  int64_t predictorRows = g.fusedPredictor ? paddedTaps(g) : 0;
  auto sharedBytes = [&](int64_t n) {
    return 4 * t.stages * t.k * (t.m + n + predictorRows) +
           (g.fusedPredictor ? 4 * g.taps() * n : 0);
  };
  while (t.threads() < 128 && t.n < g.pixels() && t.threads() * 2 <= 1024 &&
         sharedBytes(t.n * 2) <= kSharedBudget)
    t.n *= 2;
  // Small layers: smaller thread tiles, so that the block still has enough
  // threads (and each thread fewer loads and accumulators).
  while (t.threads() < 128 && t.tn > 1)
    t.tn /= 2;
  while (t.threads() < 128 && t.tm > 1)
    t.tm /= 2;
  return t;
}

//===----------------------------------------------------------------------===//
// The block emitter: GPU threads or their emulation
//===----------------------------------------------------------------------===//

/// Emits the code of one thread block. For the GPU the block's threads run
/// every phase together, `gpu.barrier` between phases, and the per-thread
/// state (the accumulators) is SSA values carried through loops, i.e.
/// registers. Emulated, each phase is a loop over the thread ids and the
/// state is kept in memory between phases.
Value zeroVector(OpBuilder &b, Location loc, Type type) {
  auto vector = cast<VectorType>(type);
  return arith::ConstantOp::create(
      b, loc, vector, DenseElementsAttr::get(vector, b.getF32FloatAttr(0)));
}

class BlockEmitter {
public:
  using PhaseBody =
      function_ref<void(OpBuilder &, Value tid, MutableArrayRef<Value> state)>;

  BlockEmitter(OpBuilder &b, Location loc, bool emulate, int64_t threads,
               Value gpuTid, ArrayRef<Value> stateMemory,
               ArrayRef<VectorType> stateTypes)
      : b(b), loc(loc), emulate(emulate), threads(threads), gpuTid(gpuTid),
        memory(stateMemory), types(stateTypes) {
    // The state starts at zero: SSA constants, or (emulated) zeros stored.
    if (!emulate)
      for (VectorType type : types)
        state.push_back(zeroVector(b, loc, type));
    else
      phase([&](OpBuilder &b, Value, MutableArrayRef<Value> values) {
        for (Value &value : values)
          value = zeroVector(b, loc, value.getType());
      });
  }

  /// One phase: `body` once per thread.
  void phase(PhaseBody body) {
    if (!emulate) {
      body(b, gpuTid, state);
      return;
    }
    Value zero = arith::ConstantIndexOp::create(b, loc, 0);
    Value count = arith::ConstantIndexOp::create(b, loc, threads);
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto loop = scf::ForOp::create(b, loc, zero, count, one);
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(loop.getBody()->getTerminator());
    Value tid = loop.getInductionVar();
    SmallVector<Value> values;
    for (auto [mem, type] : llvm::zip(memory, types))
      values.push_back(
          vector::LoadOp::create(b, loc, type, mem, ValueRange{tid, zero}));
    body(b, tid, values);
    for (auto [mem, value] : llvm::zip(memory, values))
      vector::StoreOp::create(b, loc, value, mem, ValueRange{tid, zero});
  }

  void barrier() {
    if (!emulate)
      gpu::BarrierOp::create(b, loc);
  }

  /// A loop around phases (uniform across the block).
  void loop(Value lb, Value ub, function_ref<void(Value)> body) {
    Value one = arith::ConstantIndexOp::create(b, loc, 1);
    auto forOp = scf::ForOp::create(b, loc, lb, ub, one,
                                    emulate ? ValueRange{} : ValueRange(state));
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(forOp.getBody());
      if (!emulate)
        state.assign(forOp.getRegionIterArgs().begin(),
                     forOp.getRegionIterArgs().end());
      body(forOp.getInductionVar());
      if (!emulate) {
        // The body builder ended with the block's scf.yield missing.
        scf::YieldOp::create(b, loc, state);
      }
    }
    if (!emulate)
      state.assign(forOp.getResults().begin(), forOp.getResults().end());
  }

  OpBuilder &b;
  Location loc;

private:
  bool emulate;
  int64_t threads;
  Value gpuTid;
  SmallVector<Value> memory;
  SmallVector<VectorType> types;
  SmallVector<Value> state;
};

//===----------------------------------------------------------------------===//
// The tiled convolution
//===----------------------------------------------------------------------===//

Value idx(OpBuilder &b, Location l, int64_t v) {
  return arith::ConstantIndexOp::create(b, l, v);
}
Value add(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AddIOp::create(b, l, x, y);
}
Value mul(OpBuilder &b, Location l, Value x, int64_t y) {
  return arith::MulIOp::create(b, l, x, idx(b, l, y));
}
Value divu(OpBuilder &b, Location l, Value x, int64_t y) {
  return arith::DivUIOp::create(b, l, x, idx(b, l, y));
}
Value remu(OpBuilder &b, Location l, Value x, int64_t y) {
  return arith::RemUIOp::create(b, l, x, idx(b, l, y));
}
Value lessThan(OpBuilder &b, Location l, Value x, int64_t bound) {
  return arith::CmpIOp::create(b, l, arith::CmpIPredicate::slt, x,
                               idx(b, l, bound));
}
Value andi(OpBuilder &b, Location l, Value x, Value y) {
  return arith::AndIOp::create(b, l, x, y);
}
/// min(max(x, 0), bound − 1): an address that is always in bounds.
Value clampIndex(OpBuilder &b, Location l, Value x, int64_t bound) {
  Value low = arith::MaxSIOp::create(b, l, x, idx(b, l, 0));
  return arith::MinSIOp::create(b, l, low, idx(b, l, bound - 1));
}

/// The kernel's operands as memrefs (kernel arguments, reshaped).
struct Operands {
  Value input;           // [N, C, H, W]
  Value weight;          // [O, C·K]
  Value predictorWeight; // [K, C·K]
  Value bias, gamma, kParam;
  Value mask; // [N, K, P]
  Value bnWeight, bnBias, bnMean, bnVar;
  Value output; // [N, O, P]
};

/// Where the B (input patch) loads take the DNS mask from.
enum class MaskFrom { None, Global, Shared };

/// The A side of one GEMM of the block: rows [row0, row0 + tileRows) of
/// `weight` ([rows, C·K]) into a [stages, BK, tileRows] shared tile.
struct ASide {
  Value weight;
  int64_t rows;
  Value row0;
  int64_t tileRows;
  Value tile;
};

class TiledConvBuilder {
public:
  TiledConvBuilder(const TiledGroup &g, const Tiles &t, Location loc)
      : g(g), t(t), loc(loc) {}

  /// Vector width of the weight (A) loads: 4 where rows of C·K allow it.
  int64_t aVector() const {
    return g.reduction() % 4 == 0 && t.k % 4 == 0 ? 4 : 1;
  }
  int64_t chunks() const { return (g.reduction() + t.k - 1) / t.k; }
  /// Rows of the fused predictor's tile (K, padded for aligned loads).
  int64_t predictorRows() const { return paddedTaps(g); }
  /// Pixel columns per thread in the predictor pass.
  int64_t predictorColumns() const { return t.n / t.threads(); }
  /// State: TM accumulator rows of TN, then (SphereConv) Σ B² per column and
  /// Σ A² per row; with a fused predictor then its accumulators (one
  /// vector of its K rows per column), Σ B² per column and Σ A² per row.
  SmallVector<VectorType> stateTypes(Builder &b) const {
    Type f32 = b.getF32Type();
    SmallVector<VectorType> types(t.tm, VectorType::get({t.tn}, f32));
    if (g.sphere) {
      types.push_back(VectorType::get({t.tn}, f32));
      types.push_back(VectorType::get({t.tm}, f32));
    }
    if (g.fusedPredictor) {
      types.append(predictorColumns(), VectorType::get({predictorRows()}, f32));
      types.push_back(VectorType::get({predictorColumns()}, f32));
      types.push_back(VectorType::get({predictorRows()}, f32));
    }
    return types;
  }
  /// Index of the fused predictor's first state value.
  size_t predictorState() const { return t.tm + (g.sphere ? 2 : 0); }

  /// Reshapes the kernel arguments.
  Operands operands(OpBuilder &b, ValueRange args) const {
    Operands o;
    auto arg = [&](KernelBuffer s) { return s ? args[s.argument] : Value(); };
    // [R0, ...] as [R0, rest] (weights); [N, C, H, W] as [N, C, H·W].
    auto rows = [&](KernelBuffer s) -> Value {
      return memref::CollapseShapeOp::create(
          b, loc, arg(s), SmallVector<ReassociationIndices>{{0}, {1, 2, 3}});
    };
    auto pixels = [&](KernelBuffer s) -> Value {
      return memref::CollapseShapeOp::create(
          b, loc, arg(s), SmallVector<ReassociationIndices>{{0}, {1}, {2, 3}});
    };
    o.input = arg(g.input);
    o.weight = rows(g.weight);
    if (g.fusedPredictor)
      o.predictorWeight = rows(g.predictorWeight);
    o.output = pixels(g.output);
    if (g.mask)
      o.mask = pixels(g.mask);
    o.bias = arg(g.bias);
    o.gamma = arg(g.gamma);
    o.kParam = arg(g.kParam);
    o.bnWeight = arg(g.bnWeight);
    o.bnBias = arg(g.bnBias);
    o.bnMean = arg(g.bnMean);
    o.bnVar = arg(g.bnVar);
    return o;
  }

  /// One block: sample n, pixel tile bx, output-channel tile by. `tileA` is
  /// [stages, BK, BM], `tileB` [stages, BK, BN] (shared memory); with a
  /// fused predictor `tileP` is [stages, BK, predictorRows] and `maskTile`
  /// [K, BN].
  void block(BlockEmitter &e, const Operands &o, Value n, Value bx, Value by,
             Value tileA, Value tileB, Value tileP, Value maskTile) const {
    OpBuilder &b = e.b;
    Value o0 = mul(b, loc, by, t.m);
    Value p0 = mul(b, loc, bx, t.n);
    Value gammaValue;
    if (g.predicted) {
      auto gammaType = cast<MemRefType>(o.gamma.getType());
      SmallVector<Value> zeros(gammaType.getRank(), idx(b, loc, 0));
      gammaValue = memref::LoadOp::create(b, loc, o.gamma, zeros);
    }
    // The GEMM over C·K in chunks of BK through the shared tiles.
    auto gemm = [&](const ASide &a, MaskFrom maskFrom,
                    function_ref<void(OpBuilder &, Value, Value,
                                      MutableArrayRef<Value>)>
                        compute) {
      auto loadStore = [&](OpBuilder &b, Value tid, Value kc, Value stage) {
        Loaded chunk =
            load(b, o, a, maskFrom, tid, n, p0, kc, gammaValue, maskTile);
        store(b, chunk, a, tid, stage, tileB);
      };
      e.phase([&](OpBuilder &b, Value tid, MutableArrayRef<Value>) {
        loadStore(b, tid, idx(b, loc, 0), idx(b, loc, 0));
      });
      e.barrier();
      e.loop(idx(b, loc, 0), idx(b, loc, chunks()), [&](Value kc) {
        Value kNext = add(b, loc, kc, idx(b, loc, 1));
        if (t.stages == 2) {
          e.phase([&](OpBuilder &b, Value tid, MutableArrayRef<Value> state) {
            // The next chunk's loads are in flight during the products.
            Loaded chunk = load(b, o, a, maskFrom, tid, n, p0, kNext,
                                gammaValue, maskTile);
            compute(b, tid, remu(b, loc, kc, 2), state);
            store(b, chunk, a, tid, remu(b, loc, kNext, 2), tileB);
          });
          e.barrier();
          return;
        }
        e.phase([&](OpBuilder &b, Value tid, MutableArrayRef<Value> state) {
          compute(b, tid, idx(b, loc, 0), state);
        });
        e.barrier();
        e.phase([&](OpBuilder &b, Value tid, MutableArrayRef<Value>) {
          loadStore(b, tid, kNext, idx(b, loc, 0));
        });
        e.barrier();
      });
    };
    if (g.fusedPredictor) {
      // Pass 1: the SphereConv predictor's K outputs for this block's pixels,
      // then the mask γ·g(θ) + 1 into shared memory.
      ASide predictor{o.predictorWeight, g.taps(), idx(b, loc, 0),
                      predictorRows(), tileP};
      gemm(predictor, MaskFrom::None,
           [&](OpBuilder &b, Value tid, Value stage,
               MutableArrayRef<Value> state) {
             computePredictor(b, tid, stage, tileP, tileB, state);
           });
      e.phase([&](OpBuilder &b, Value tid, MutableArrayRef<Value> state) {
        predictorEpilogue(b, o, tid, gammaValue, maskTile, state);
      });
      e.barrier();
    }
    // Pass 2: the (masked) convolution.
    ASide conv{o.weight, g.outChannels, o0, t.m, tileA};
    MaskFrom maskFrom = g.fusedPredictor ? MaskFrom::Shared
                        : g.masked       ? MaskFrom::Global
                                         : MaskFrom::None;
    gemm(conv, maskFrom,
         [&](OpBuilder &b, Value tid, Value stage,
             MutableArrayRef<Value> state) {
           compute(b, tid, stage, tileA, tileB, state);
         });
    e.phase([&](OpBuilder &b, Value tid, MutableArrayRef<Value> state) {
      epilogue(b, o, tid, n, o0, p0, state);
    });
  }

private:
  struct Loaded {
    SmallVector<Value> a, b;
  };

  /// Global → registers: this thread's share of chunk `kc` (zeros outside
  /// the layer: past C·K, past the rows or P, in the padding).
  Loaded load(OpBuilder &b, const Operands &o, const ASide &side,
              MaskFrom maskFrom, Value tid, Value n, Value p0, Value kc,
              Value gamma, Value maskTile) const {
    Loaded out;
    Type f32 = b.getF32Type();
    int64_t R = g.reduction(), P = g.pixels();
    Value k0 = mul(b, loc, kc, t.k);
    // A: tileRows × BK as items of `vec` consecutive r of one row.
    int64_t vec = aVector();
    auto vecType = VectorType::get({vec}, f32);
    int64_t itemsA = side.tileRows * t.k / vec, perRow = t.k / vec;
    for (int64_t i = 0; i * t.threads() < itemsA; ++i) {
      Value item = add(b, loc, tid, idx(b, loc, i * t.threads()));
      Value m = divu(b, loc, item, perRow);
      Value r = add(b, loc, k0, mul(b, loc, remu(b, loc, item, perRow), vec));
      Value row = add(b, loc, side.row0, m);
      Value valid = andi(b, loc, lessThan(b, loc, row, side.rows),
                         lessThan(b, loc, r, R));
      if ((i + 1) * t.threads() > itemsA)
        valid = andi(b, loc, valid, lessThan(b, loc, item, itemsA));
      Value value = vector::LoadOp::create(
          b, loc, vecType, side.weight,
          ValueRange{clampIndex(b, loc, row, side.rows),
                     clampIndex(b, loc, r, R - vec + 1)},
          /*nontemporal=*/false, llvm::MaybeAlign(vec * 4));
      out.a.push_back(arith::SelectOp::create(b, loc, valid, value,
                                              zeroVector(b, loc, vecType)));
    }
    // B: BK × BN, consecutive threads on consecutive pixels.
    int64_t itemsB = t.k * t.n;
    for (int64_t i = 0; i * t.threads() < itemsB; ++i) {
      Value item = add(b, loc, tid, idx(b, loc, i * t.threads()));
      Value kk = divu(b, loc, item, t.n);
      Value j = remu(b, loc, item, t.n);
      Value r = add(b, loc, k0, kk);
      Value p = add(b, loc, p0, j);
      Value c = divu(b, loc, r, g.taps());
      Value tap = remu(b, loc, r, g.taps());
      Value ky = divu(b, loc, tap, g.kw), kx = remu(b, loc, tap, g.kw);
      Value y = divu(b, loc, p, g.outWidth), x = remu(b, loc, p, g.outWidth);
      Value iy = add(b, loc, mul(b, loc, y, g.stride[0]),
                     add(b, loc, mul(b, loc, ky, g.dilation[0]),
                         idx(b, loc, -g.padding[0])));
      Value ix = add(b, loc, mul(b, loc, x, g.stride[1]),
                     add(b, loc, mul(b, loc, kx, g.dilation[1]),
                         idx(b, loc, -g.padding[1])));
      Value zeroIndex = idx(b, loc, 0);
      auto nonNegative = [&](Value v) {
        return arith::CmpIOp::create(b, loc, arith::CmpIPredicate::sge, v,
                                     zeroIndex);
      };
      Value valid =
          andi(b, loc, lessThan(b, loc, r, R), lessThan(b, loc, p, P));
      valid = andi(
          b, loc, valid,
          andi(b, loc,
               andi(b, loc, nonNegative(iy), lessThan(b, loc, iy, g.height)),
               andi(b, loc, nonNegative(ix), lessThan(b, loc, ix, g.width))));
      if ((i + 1) * t.threads() > itemsB)
        valid = andi(b, loc, valid, lessThan(b, loc, item, itemsB));
      Value value = memref::LoadOp::create(
          b, loc, o.input,
          ValueRange{n, clampIndex(b, loc, c, g.channels),
                     clampIndex(b, loc, iy, g.height),
                     clampIndex(b, loc, ix, g.width)});
      if (maskFrom == MaskFrom::Global) {
        Value m = memref::LoadOp::create(
            b, loc, o.mask,
            ValueRange{n, clampIndex(b, loc, tap, g.taps()),
                       clampIndex(b, loc, p, P)});
        if (g.predicted) // M = γ·P + 1, as nsl.predicted_similarity.
          m = addf(b, loc, mulf(b, loc, gamma, m), cstf(b, loc, 1.0));
        value = mulf(b, loc, value, m);
      } else if (maskFrom == MaskFrom::Shared) {
        value =
            mulf(b, loc, value,
                 memref::LoadOp::create(b, loc, maskTile, ValueRange{tap, j}));
      }
      out.b.push_back(
          arith::SelectOp::create(b, loc, valid, value, cstf(b, loc, 0.0)));
    }
    return out;
  }

  /// Registers → shared buffer `stage`: A transposed to [BK, tileRows].
  void store(OpBuilder &b, const Loaded &chunk, const ASide &side, Value tid,
             Value stage, Value tileB) const {
    Value tileA = side.tile;
    int64_t vec = aVector(), perRow = t.k / vec;
    int64_t itemsA = side.tileRows * t.k / vec, itemsB = t.k * t.n;
    auto guarded = [&](bool partial, Value item, int64_t items,
                       function_ref<void(OpBuilder &)> body) {
      if (!partial) {
        body(b);
        return;
      }
      auto inRange = scf::IfOp::create(b, loc, lessThan(b, loc, item, items));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(inRange.thenBlock());
      body(b);
    };
    for (size_t i = 0; i < chunk.a.size(); ++i) {
      Value value = chunk.a[i];
      int64_t first = static_cast<int64_t>(i) * t.threads();
      Value item = add(b, loc, tid, idx(b, loc, first));
      guarded(first + t.threads() > itemsA, item, itemsA, [&](OpBuilder &b) {
        Value m = divu(b, loc, item, perRow);
        Value k = mul(b, loc, remu(b, loc, item, perRow), vec);
        for (int64_t v = 0; v < vec; ++v) {
          Value element = vector::ExtractOp::create(b, loc, value, v);
          memref::StoreOp::create(
              b, loc, element, tileA,
              ValueRange{stage, add(b, loc, k, idx(b, loc, v)), m});
        }
      });
    }
    for (size_t i = 0; i < chunk.b.size(); ++i) {
      Value value = chunk.b[i];
      int64_t first = static_cast<int64_t>(i) * t.threads();
      Value item = add(b, loc, tid, idx(b, loc, first));
      guarded(first + t.threads() > itemsB, item, itemsB, [&](OpBuilder &b) {
        memref::StoreOp::create(b, loc, value, tileB,
                                ValueRange{stage, divu(b, loc, item, t.n),
                                           remu(b, loc, item, t.n)});
      });
    }
  }

  /// The fused predictor's products: this thread's pixel columns
  /// j = tid + c·threads, all K rows each (the rows are the same for every
  /// thread: broadcast reads).
  void computePredictor(OpBuilder &b, Value tid, Value stage, Value tileP,
                        Value tileB, MutableArrayRef<Value> state) const {
    int64_t rows = predictorRows(), columns = predictorColumns();
    auto rowType = VectorType::get({rows}, b.getF32Type());
    size_t base = predictorState();
    for (int64_t k = 0; k < t.k; ++k) {
      Value kk = idx(b, loc, k);
      Value a = vector::LoadOp::create(b, loc, rowType, tileP,
                                       ValueRange{stage, kk, idx(b, loc, 0)},
                                       false, llvm::MaybeAlign(16));
      SmallVector<Value> bs;
      for (int64_t c = 0; c < columns; ++c) {
        Value j = add(b, loc, tid, idx(b, loc, c * t.threads()));
        Value bv =
            memref::LoadOp::create(b, loc, tileB, ValueRange{stage, kk, j});
        bs.push_back(bv);
        state[base + c] = vector::FMAOp::create(
            b, loc, a, vector::BroadcastOp::create(b, loc, rowType, bv),
            state[base + c]);
      }
      Value squares = state[base + columns];
      for (int64_t c = 0; c < columns; ++c) {
        Value old = vector::ExtractOp::create(b, loc, squares, c);
        Value sum = math::FmaOp::create(b, loc, bs[c], bs[c], old);
        squares = vector::InsertOp::create(b, loc, sum, squares, c);
      }
      state[base + columns] = squares;
      state[base + columns + 1] =
          vector::FMAOp::create(b, loc, a, a, state[base + columns + 1]);
    }
  }

  /// The predictor's g(θ) per row and column, then the mask γ·g + 1 into
  /// `maskTile` [K, BN].
  void predictorEpilogue(OpBuilder &b, const Operands &o, Value tid,
                         Value gamma, Value maskTile,
                         MutableArrayRef<Value> state) const {
    int64_t columns = predictorColumns();
    size_t base = predictorState();
    SmallVector<Value> wNorm, kParam;
    for (int64_t r = 0; r < g.taps(); ++r) {
      Value norm = cstf(b, loc, 1.0);
      if (!g.inputOnly) {
        Value sum =
            vector::ExtractOp::create(b, loc, state[base + columns + 1], r);
        norm = math::SqrtOp::create(b, loc,
                                    addf(b, loc, sum, cstf(b, loc, g.epsilon)));
      }
      wNorm.push_back(norm);
      kParam.push_back(o.kParam
                           ? memref::LoadOp::create(b, loc, o.kParam,
                                                    ValueRange{idx(b, loc, r)})
                                 .getResult()
                           : Value());
    }
    for (int64_t c = 0; c < columns; ++c) {
      Value j = add(b, loc, tid, idx(b, loc, c * t.threads()));
      Value sum = vector::ExtractOp::create(b, loc, state[base + columns], c);
      Value xNorm = math::SqrtOp::create(
          b, loc, addf(b, loc, sum, cstf(b, loc, g.epsilon)));
      for (int64_t r = 0; r < g.taps(); ++r) {
        Value dot = vector::ExtractOp::create(b, loc, state[base + c], r);
        Value cos = divf(b, loc, dot, mulf(b, loc, wNorm[r], xNorm));
        Value s = lowering::sphereOutput(b, loc, cos, g.variant, g.sigmoidK,
                                         kParam[r]);
        // M = γ·P + 1, as nsl.predicted_similarity.
        Value m = addf(b, loc, mulf(b, loc, gamma, s), cstf(b, loc, 1.0));
        memref::StoreOp::create(b, loc, m, maskTile,
                                ValueRange{idx(b, loc, r), j});
      }
    }
  }

  /// This thread's TM × TN products of shared buffer `stage`.
  void compute(OpBuilder &b, Value tid, Value stage, Value tileA, Value tileB,
               MutableArrayRef<Value> state) const {
    Type f32 = b.getF32Type();
    auto rowType = VectorType::get({t.tm}, f32);
    auto colType = VectorType::get({t.tn}, f32);
    Value row0 = mul(b, loc, divu(b, loc, tid, t.n / t.tn), t.tm);
    Value col0 = mul(b, loc, remu(b, loc, tid, t.n / t.tn), t.tn);
    auto alignment = [](int64_t lanes) {
      return llvm::MaybeAlign(std::min<int64_t>(16, lanes * 4));
    };
    for (int64_t k = 0; k < t.k; ++k) {
      Value kk = idx(b, loc, k);
      Value a = vector::LoadOp::create(b, loc, rowType, tileA,
                                       ValueRange{stage, kk, row0}, false,
                                       alignment(t.tm));
      Value bv = vector::LoadOp::create(b, loc, colType, tileB,
                                        ValueRange{stage, kk, col0}, false,
                                        alignment(t.tn));
      for (int64_t i = 0; i < t.tm; ++i) {
        Value ai = vector::BroadcastOp::create(
            b, loc, colType, vector::ExtractOp::create(b, loc, a, i));
        state[i] = vector::FMAOp::create(b, loc, ai, bv, state[i]);
      }
      if (g.sphere) {
        state[t.tm] = vector::FMAOp::create(b, loc, bv, bv, state[t.tm]);
        state[t.tm + 1] = vector::FMAOp::create(b, loc, a, a, state[t.tm + 1]);
      }
    }
  }

  /// Bias / SphereConv normalisation and g(θ) / batch norm / relu, then the
  /// stores of this thread's tile.
  void epilogue(OpBuilder &b, const Operands &o, Value tid, Value n, Value o0,
                Value p0, MutableArrayRef<Value> state) const {
    int64_t O = g.outChannels, P = g.pixels();
    Value row0 =
        add(b, loc, o0, mul(b, loc, divu(b, loc, tid, t.n / t.tn), t.tm));
    Value col0 =
        add(b, loc, p0, mul(b, loc, remu(b, loc, tid, t.n / t.tn), t.tn));
    double epsilon = g.epsilon;
    SmallVector<Value> xNorm;
    if (g.sphere)
      for (int64_t j = 0; j < t.tn; ++j) {
        Value sum = vector::ExtractOp::create(b, loc, state[t.tm], j);
        xNorm.push_back(math::SqrtOp::create(
            b, loc, addf(b, loc, sum, cstf(b, loc, epsilon))));
      }
    bool vectorStore =
        P % t.tn == 0 && (t.tn == 1 || (P % 4 == 0 && t.tn % 4 == 0));
    for (int64_t i = 0; i < t.tm; ++i) {
      Value oc = add(b, loc, row0, idx(b, loc, i));
      auto inRows = scf::IfOp::create(b, loc, lessThan(b, loc, oc, O));
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToStart(inRows.thenBlock());
      auto perChannel = [&](Value buffer) {
        return memref::LoadOp::create(b, loc, buffer, ValueRange{oc});
      };
      Value kParam = o.kParam ? perChannel(o.kParam).getResult() : Value();
      ChannelParameters parameters;
      parameters.bias = o.bias ? perChannel(o.bias).getResult() : Value();
      if (g.batchNorm) {
        parameters.bnMean = perChannel(o.bnMean);
        parameters.bnVar = perChannel(o.bnVar);
        parameters.bnWeight = perChannel(o.bnWeight);
        parameters.bnBias = perChannel(o.bnBias);
        parameters.bnEpsilon = g.bnEpsilon;
      }
      ChannelAffine affine = channelAffine(b, loc, Value(), parameters);
      Value row = state[i];
      if (g.sphere) {
        // g(θ) of cos θ = v / (‖w_o‖ ‖x_p‖), element by element.
        Value wNorm = cstf(b, loc, 1.0);
        if (!g.inputOnly) {
          Value sum = vector::ExtractOp::create(b, loc, state[t.tm + 1], i);
          wNorm = math::SqrtOp::create(
              b, loc, addf(b, loc, sum, cstf(b, loc, epsilon)));
        }
        for (int64_t j = 0; j < t.tn; ++j) {
          Value v = vector::ExtractOp::create(b, loc, row, j);
          Value cos = divf(b, loc, v, mulf(b, loc, wNorm, xNorm[j]));
          v = lowering::sphereOutput(b, loc, cos, g.variant, g.sigmoidK,
                                     kParam);
          row = vector::InsertOp::create(b, loc, v, row, j);
        }
      }
      row = applyEpilogue(b, loc, row, affine, g.activation);
      if (vectorStore) {
        auto inColumns = scf::IfOp::create(b, loc, lessThan(b, loc, col0, P));
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(inColumns.thenBlock());
        vector::StoreOp::create(
            b, loc, row, o.output, ValueRange{n, oc, col0}, false,
            llvm::MaybeAlign(std::min<int64_t>(16, t.tn * 4)));
        continue;
      }
      for (int64_t j = 0; j < t.tn; ++j) {
        Value p = add(b, loc, col0, idx(b, loc, j));
        auto inColumns = scf::IfOp::create(b, loc, lessThan(b, loc, p, P));
        OpBuilder::InsertionGuard inner(b);
        b.setInsertionPointToStart(inColumns.thenBlock());
        memref::StoreOp::create(b, loc,
                                vector::ExtractOp::create(b, loc, row, j),
                                o.output, ValueRange{n, oc, p});
      }
    }
  }

  const TiledGroup &g;
  Tiles t;
  Location loc;
};

//===----------------------------------------------------------------------===//
// The pass
//===----------------------------------------------------------------------===//

LogicalResult checkOptions(const TiledConvOptions &o, Operation *anchor) {
  auto power = [](int64_t v) { return v >= 1 && (v & (v - 1)) == 0; };
  if (!power(o.tileM) || !power(o.tileN) || !power(o.threadM) ||
      !power(o.threadN) || o.threadM > 8 || o.threadN > 8 ||
      o.tileM < o.threadM || o.tileN < o.threadN || o.tileK < 1 ||
      o.tileK > 64 || (o.stages != 1 && o.stages != 2))
    return anchor->emitError()
           << "nsl-tile-convs-for-gpu: tiles must be powers of two with "
              "thread tiles of at most 8 dividing the block tile, tile-k in "
              "[1, 64], stages 1 or 2; got tile "
           << o.tileM << "x" << o.tileN << "x" << o.tileK << ", thread tile "
           << o.threadM << "x" << o.threadN << ", stages " << o.stages;
  int64_t threads = (o.tileM / o.threadM) * (o.tileN / o.threadN);
  if (threads > 1024)
    return anchor->emitError() << "nsl-tile-convs-for-gpu: " << threads
                               << " threads per block (more than 1024)";
  return success();
}

struct TileConvsForGpuPass
    : cuda::impl::TileConvsForGpuBase<TileConvsForGpuPass> {
  using TileConvsForGpuBase::TileConvsForGpuBase;

  TiledConvOptions options() const {
    TiledConvOptions o;
    o.tileM = tileM;
    o.tileN = tileN;
    o.tileK = tileK;
    o.threadM = threadM;
    o.threadN = threadN;
    o.stages = stages;
    o.emulate = emulate;
    return o;
  }

  void runOnOperation() override {
    ModuleOp module = getOperation();
    TiledConvOptions opts = options();
    if (failed(checkOptions(opts, module)))
      return signalPassFailure();
    std::vector<std::pair<func::FuncOp, TiledGroup>> groups;
    for (func::FuncOp kernel : kernelFunctions(module))
      if (std::optional<TiledGroup> group = tiledGroupOf(kernel))
        groups.emplace_back(kernel, *group);
    if (groups.empty())
      return;
    gpu::GPUModuleOp gpuModule;
    if (!opts.emulate) {
      gpuModule = module.lookupSymbol<gpu::GPUModuleOp>(kModuleName);
      if (!gpuModule) {
        OpBuilder b(module.getBodyRegion());
        b.setInsertionPointToEnd(module.getBody());
        gpuModule = gpu::GPUModuleOp::create(b, module.getLoc(), kModuleName);
      }
      module->setAttr(gpu::GPUDialect::getContainerModuleAttrName(),
                      UnitAttr::get(module.getContext()));
    }
    for (auto &[kernel, group] : groups) {
      Tiles tiles = fitTiles(opts, group);
      // The fused predictor's pass gives each thread whole pixel columns.
      if (group.fusedPredictor && tiles.n % tiles.threads() != 0)
        continue;
      // grid.y and grid.z are limited to 65535 blocks.
      if (grid(group, tiles)[1] > 65535 || group.batch > 65535)
        continue;
      if (opts.emulate)
        emulateKernel(kernel, group, tiles);
      else
        gpuKernel(kernel, group, tiles, gpuModule);
    }
  }

  static SmallVector<int64_t, 3> grid(const TiledGroup &g, const Tiles &t) {
    return {(g.pixels() + t.n - 1) / t.n, (g.outChannels + t.m - 1) / t.m,
            g.batch};
  }

  static void describe(Operation *op, const TiledGroup &g, const Tiles &t) {
    Builder b(op->getContext());
    op->setAttr("nsl.tiles",
                b.getDenseI64ArrayAttr({t.m, t.n, t.k, t.tm, t.tn, t.stages}));
    op->setAttr("nsl.grid", b.getDenseI64ArrayAttr(grid(g, t)));
    op->setAttr("nsl.block", b.getDenseI64ArrayAttr({t.threads(), 1, 1}));
  }

  static MemRefType tileType(Builder &b, const Tiles &t, int64_t width,
                             Attribute space) {
    return MemRefType::get({t.stages, t.k, width}, b.getF32Type(),
                           MemRefLayoutAttrInterface(), space);
  }

  /// The GPU kernel: a gpu.func of the kernels' gpu.module with the kernel's
  /// buffers as arguments and the two tiles as workgroup memory.
  void gpuKernel(func::FuncOp kernel, const TiledGroup &g, const Tiles &t,
                 gpu::GPUModuleOp gpuModule) {
    Location loc = kernel.getLoc();
    Block &entry = kernel.getBody().front();
    SmallVector<Type> types;
    for (unsigned i = 0; i + 2 < entry.getNumArguments(); ++i)
      types.push_back(entry.getArgument(i).getType());
    OpBuilder b(gpuModule.getBodyRegion());
    b.setInsertionPointToEnd(gpuModule.getBody());
    auto func = gpu::GPUFuncOp::create(b, loc, kernel.getName(),
                                       b.getFunctionType(types, {}));
    func->setAttr(gpu::GPUDialect::getKernelFuncAttrName(), b.getUnitAttr());
    SmallVector<int64_t, 3> blocks = grid(g, t);
    func.setKnownBlockSizeAttr(
        b.getDenseI32ArrayAttr({static_cast<int32_t>(t.threads()), 1, 1}));
    func.setKnownGridSizeAttr(b.getDenseI32ArrayAttr(
        {static_cast<int32_t>(blocks[0]), static_cast<int32_t>(blocks[1]),
         static_cast<int32_t>(blocks[2])}));
    if (Attribute extent = kernel->getAttr("nsl.parallel_extent"))
      func->setAttr("nsl.parallel_extent", extent);
    describe(func, g, t);
    auto workgroup = gpu::AddressSpaceAttr::get(b.getContext(),
                                                gpu::AddressSpace::Workgroup);
    Value tileA =
        func.addWorkgroupAttribution(tileType(b, t, t.m, workgroup), loc);
    Value tileB =
        func.addWorkgroupAttribution(tileType(b, t, t.n, workgroup), loc);
    Value tileP, maskTile;
    if (g.fusedPredictor) {
      tileP = func.addWorkgroupAttribution(
          tileType(b, t, paddedTaps(g), workgroup), loc);
      maskTile = func.addWorkgroupAttribution(
          MemRefType::get({g.taps(), t.n}, b.getF32Type(),
                          MemRefLayoutAttrInterface(), workgroup),
          loc);
    }
    // 16-byte aligned, for the vector loads of the products.
    for (unsigned i = 0; i < func.getNumWorkgroupAttributions(); ++i)
      func.setWorkgroupAttributionAttr(i, "llvm.align",
                                       b.getI64IntegerAttr(16));
    Block &body = func.getBody().front();
    b.setInsertionPointToStart(&body);
    TiledConvBuilder builder(g, t, loc);
    Operands operands =
        builder.operands(b, body.getArguments().take_front(types.size()));
    Value bx = gpu::BlockIdOp::create(b, loc, gpu::Dimension::x);
    Value by = gpu::BlockIdOp::create(b, loc, gpu::Dimension::y);
    Value bz = gpu::BlockIdOp::create(b, loc, gpu::Dimension::z);
    Value tid = gpu::ThreadIdOp::create(b, loc, gpu::Dimension::x);
    BlockEmitter emitter(b, loc, /*emulate=*/false, t.threads(), tid, {},
                         builder.stateTypes(b));
    builder.block(emitter, operands, bz, bx, by, tileA, tileB, tileP, maskTile);
    gpu::ReturnOp::create(b, loc);
    kernel.erase();
  }

  /// The CPU emulation: the same kernel function (buffers, begin, end), its
  /// body replaced by loops over the samples and blocks and, inside each
  /// block, over the threads of each phase.
  void emulateKernel(func::FuncOp kernel, const TiledGroup &g, const Tiles &t) {
    Location loc = kernel.getLoc();
    Block &entry = kernel.getBody().front();
    SmallVector<Operation *> old;
    for (Operation &op : entry)
      old.push_back(&op);
    for (Operation *op : llvm::reverse(old)) {
      op->dropAllUses();
      op->erase();
    }
    describe(kernel, g, t);
    OpBuilder b = OpBuilder::atBlockBegin(&entry);
    unsigned numArgs = entry.getNumArguments();
    TiledConvBuilder builder(g, t, loc);
    Operands operands =
        builder.operands(b, entry.getArguments().take_front(numArgs - 2));
    // Aligned as the GPU's shared memory, for the aligned vector loads.
    auto stackBuffer = [&](MemRefType type) {
      auto op = memref::AllocaOp::create(b, loc, type);
      op.setAlignment(64);
      return op.getResult();
    };
    Value tileA = stackBuffer(tileType(b, t, t.m, {}));
    Value tileB = stackBuffer(tileType(b, t, t.n, {}));
    Value tileP, maskTile;
    if (g.fusedPredictor) {
      tileP = stackBuffer(tileType(b, t, paddedTaps(g), {}));
      maskTile = stackBuffer(MemRefType::get({g.taps(), t.n}, b.getF32Type()));
    }
    SmallVector<VectorType> types = builder.stateTypes(b);
    SmallVector<Value> memory;
    for (VectorType type : types)
      memory.push_back(stackBuffer(MemRefType::get(
          {t.threads(), type.getNumElements()}, b.getF32Type())));
    SmallVector<int64_t, 3> blocks = grid(g, t);
    Value one = idx(b, loc, 1), zero = idx(b, loc, 0);
    auto samples = scf::ForOp::create(b, loc, entry.getArgument(numArgs - 2),
                                      entry.getArgument(numArgs - 1), one);
    b.setInsertionPoint(samples.getBody()->getTerminator());
    auto rows = scf::ForOp::create(b, loc, zero, idx(b, loc, blocks[1]), one);
    b.setInsertionPoint(rows.getBody()->getTerminator());
    auto columns =
        scf::ForOp::create(b, loc, zero, idx(b, loc, blocks[0]), one);
    b.setInsertionPoint(columns.getBody()->getTerminator());
    BlockEmitter emitter(b, loc, /*emulate=*/true, t.threads(), Value(), memory,
                         types);
    builder.block(emitter, operands, samples.getInductionVar(),
                  columns.getInductionVar(), rows.getInductionVar(), tileA,
                  tileB, tileP, maskTile);
    b.setInsertionPointToEnd(&entry);
    func::ReturnOp::create(b, loc);
  }
};

} // namespace
