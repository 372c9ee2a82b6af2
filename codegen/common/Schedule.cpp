//===- Schedule.cpp - Schedule and static memory plan of a model ----------===//
#include "codegen/common/Schedule.h"
#include "codegen/common/KernelOutlining.h"
#include "dialect/NSLDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <map>

using namespace mlir;
using namespace mlir::nsl;
using json = nlohmann::json;

namespace {

constexpr int64_t kAlignment = 64;

int64_t alignUp(int64_t bytes) {
  return (bytes + kAlignment - 1) / kAlignment * kAlignment;
}

/// First-fit allocation of byte ranges in one arena.
class Arena {
public:
  int64_t allocate(int64_t bytes) {
    bytes = alignUp(std::max<int64_t>(bytes, 1));
    for (auto it = free.begin(); it != free.end(); ++it) {
      if (it->second < bytes)
        continue;
      int64_t offset = it->first;
      int64_t rest = it->second - bytes;
      free.erase(it);
      if (rest > 0)
        free[offset + bytes] = rest;
      return offset;
    }
    int64_t offset = size;
    size += bytes;
    return offset;
  }
  void release(int64_t offset, int64_t bytes) {
    bytes = alignUp(std::max<int64_t>(bytes, 1));
    auto it = free.emplace(offset, bytes).first;
    // Merge with the neighbours.
    if (auto next = std::next(it);
        next != free.end() && it->first + it->second == next->first) {
      it->second += next->second;
      free.erase(next);
    }
    if (it != free.begin()) {
      auto previous = std::prev(it);
      if (previous->first + previous->second == it->first) {
        previous->second += it->second;
        free.erase(it);
      }
    }
  }
  int64_t bytes() const { return size; }

private:
  std::map<int64_t, int64_t> free;
  int64_t size = 0;
};

struct Buffer {
  int64_t id;
  RankedTensorType type;
  int64_t offset = -1; // in the arena
};

StringRef dtypeName(Type element) { return element.isF32() ? "f32" : "i64"; }

int64_t byteSize(RankedTensorType type) {
  return type.getNumElements() *
         static_cast<int64_t>(type.getElementTypeBitWidth() / 8);
}

json shapeOf(RankedTensorType type) {
  return json(
      std::vector<int64_t>(type.getShape().begin(), type.getShape().end()));
}

/// One entry point's schedule: its buffers, arena and launches.
class SchedulePlanner {
public:
  SchedulePlanner(func::FuncOp model,
                  const llvm::StringMap<KernelInfo> &kernels,
                  int64_t firstBufferId, std::string constantPrefix)
      : model(model), kernels(kernels), firstBufferId(firstBufferId),
        constantPrefix(std::move(constantPrefix)) {}

  /// The entry point object named `entryName`; the buffers, arena size and
  /// constants in the accessors below.
  FailureOr<json> plan(StringRef entryName);

  json buffers = json::array();
  std::vector<ConstantBuffer> constants;
  int64_t arenaBytes() const { return arena.bytes(); }

private:
  Buffer &describe(Value value, StringRef storage);
  json &entryOf(const Buffer &buffer) {
    return buffers[static_cast<size_t>(buffer.id - firstBufferId)];
  }
  FailureOr<json> arguments();
  void computeLifetimes();
  LogicalResult planConstant(arith::ConstantOp constant);
  FailureOr<json> planLaunch(Operation &op, const KernelGroup &group);
  json results();

  func::FuncOp model;
  const llvm::StringMap<KernelInfo> &kernels;
  int64_t firstBufferId;
  std::string constantPrefix;
  llvm::DenseMap<Value, Buffer> values;
  Arena arena;
  SmallVector<KernelGroup> groups;
  llvm::DenseMap<Operation *, unsigned> position;
  llvm::DenseMap<Value, unsigned> lastUse;
  llvm::DenseMap<Operation *, const KernelGroup *> launchedBy;
};

Buffer &SchedulePlanner::describe(Value value, StringRef storage) {
  auto type = cast<RankedTensorType>(value.getType());
  Buffer &buffer = values[value];
  buffer =
      Buffer{firstBufferId + static_cast<int64_t>(values.size() - 1), type};
  buffers.push_back(json{{"id", buffer.id},
                         {"dtype", dtypeName(type.getElementType())},
                         {"shape", shapeOf(type)},
                         {"bytes", byteSize(type)},
                         {"storage", storage.str()}});
  return buffer;
}

FailureOr<json> SchedulePlanner::arguments() {
  json arguments = json::array();
  for (auto [index, argument] : llvm::enumerate(model.getArguments())) {
    auto name =
        model.getArgAttrOfType<StringAttr>(index, NSLDialect::kNameAttr);
    auto role =
        model.getArgAttrOfType<StringAttr>(index, NSLDialect::kRoleAttr);
    if (!name || !role)
      return model.emitError()
             << "argument #" << index << " of @" << model.getName()
             << " has no 'nsl.name' and 'nsl.role'; every argument of a "
                "compiled model needs both";
    auto type = dyn_cast<RankedTensorType>(argument.getType());
    if (!type || !type.hasStaticShape() ||
        !(type.getElementType().isF32() || type.getElementType().isInteger(64)))
      return model.emitError()
             << "argument #" << index << " of @" << model.getName()
             << " must be a statically shaped f32 or i64 tensor, got "
             << argument.getType();
    Buffer &buffer = describe(argument, "argument");
    arguments.push_back(json{{"name", name.getValue().str()},
                             {"role", role.getValue().str()},
                             {"dtype", dtypeName(type.getElementType())},
                             {"shape", shapeOf(type)},
                             {"buffer", buffer.id}});
  }
  return arguments;
}

/// Each group is launched where its last op stands; a value lives until the
/// launch of its last user (results: to the end).
void SchedulePlanner::computeLifetimes() {
  Block &body = model.getBody().front();
  groups = kernelGroups(model);
  for (auto [index, op] : llvm::enumerate(body))
    position[&op] = index;
  llvm::DenseMap<Operation *, unsigned> launchPosition;
  for (const KernelGroup &group : groups)
    for (Operation *op : group.ops)
      launchPosition[op] = position[group.ops.back()];
  for (Operation &op : body)
    for (Value operand : op.getOperands()) {
      unsigned at = launchPosition.lookup_or(&op, position[&op]);
      lastUse[operand] = std::max(lastUse.lookup(operand), at);
    }
  for (Value result : body.getTerminator()->getOperands())
    lastUse[result] = ~0u;
  for (const KernelGroup &group : groups)
    launchedBy[group.ops.back()] = &group;
}

LogicalResult SchedulePlanner::planConstant(arith::ConstantOp constant) {
  auto value = dyn_cast<DenseElementsAttr>(constant.getValue());
  if (!value)
    return constant.emitError() << "a compiled model's constants must be "
                                   "dense tensors";
  Buffer &buffer = describe(constant, "constant");
  std::string name = constantPrefix + std::to_string(constants.size());
  entryOf(buffer)["name"] = name;
  constants.push_back({name, value});
  return success();
}

FailureOr<json> SchedulePlanner::planLaunch(Operation &op,
                                            const KernelGroup &group) {
  json ids = json::array();
  for (Value operand : group.operands)
    ids.push_back(values.lookup(operand).id);
  for (Value result : group.results) {
    Buffer &buffer = describe(result, "arena");
    buffer.offset = arena.allocate(byteSize(buffer.type));
    entryOf(buffer)["offset"] = buffer.offset;
    ids.push_back(buffer.id);
  }
  // Arena buffers whose last use is this launch are free for later ones.
  unsigned here = position[&op];
  llvm::SmallDenseSet<Value> released;
  for (Value value : llvm::concat<const Value>(group.operands, group.results)) {
    const Buffer &buffer = values.lookup(value);
    auto it = lastUse.find(value);
    bool dead = it == lastUse.end() || it->second == here;
    if (buffer.offset >= 0 && dead && released.insert(value).second)
      arena.release(buffer.offset, byteSize(buffer.type));
  }
  auto info = kernels.find(group.name);
  if (info == kernels.end())
    return op.emitError() << "kernel '" << group.name << "' was not compiled";
  json opNames = json::array();
  for (Operation *member : group.ops)
    opNames.push_back(member->getName().getStringRef().str());
  return json{{"kernel", group.name},
              {"buffers", std::move(ids)},
              {"parallel_extent", info->second.parallelExtent},
              {"workspace_bytes", info->second.workspaceBytes},
              {"ops", std::move(opNames)}};
}

json SchedulePlanner::results() {
  json results = json::array();
  Operation *ret = model.getBody().front().getTerminator();
  for (auto [index, value] : llvm::enumerate(ret->getOperands())) {
    auto name =
        model.getResultAttrOfType<StringAttr>(index, NSLDialect::kNameAttr);
    auto type = cast<RankedTensorType>(value.getType());
    results.push_back(json{{"name", name ? name.getValue().str()
                                         : "output" + std::to_string(index)},
                           {"dtype", dtypeName(type.getElementType())},
                           {"shape", shapeOf(type)},
                           {"buffer", values.lookup(value).id}});
  }
  return results;
}

FailureOr<json> SchedulePlanner::plan(StringRef entryName) {
  FailureOr<json> args = arguments();
  if (failed(args))
    return failure();
  computeLifetimes();
  json launches = json::array();
  for (Operation &op : model.getBody().front()) {
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      if (failed(planConstant(constant)))
        return failure();
      continue;
    }
    if (isa<func::ReturnOp>(op))
      continue;
    if (!op.hasAttr("nsl.kernel"))
      return op.emitError() << "op has no kernel; run --nsl-outline-kernels "
                               "before planning the schedule";
    const KernelGroup *group = launchedBy.lookup(&op);
    if (!group)
      continue; // Launched with the group's last op.
    FailureOr<json> launch = planLaunch(op, *group);
    if (failed(launch))
      return failure();
    launches.push_back(std::move(*launch));
  }
  json entry{{"name", entryName.str()},
             {"arguments", std::move(*args)},
             {"results", results()},
             {"schedule", std::move(launches)}};
  // The entry point that computes the `derived` arguments (an entry point
  // named after its function, as nslc adds it).
  if (auto prepare =
          model->getAttrOfType<FlatSymbolRefAttr>(NSLDialect::kPreparedByAttr))
    entry["prepared_by"] = prepare.getValue().str();
  return entry;
}

} // namespace

FailureOr<Schedules>
nsl::planSchedules(ModuleOp module, ArrayRef<EntryFunction> entries,
                   const llvm::StringMap<KernelInfo> &kernels,
                   LaunchCompleter completeLaunch) {
  Schedules all;
  for (auto [index, entry] : llvm::enumerate(entries)) {
    auto model = module.lookupSymbol<func::FuncOp>(entry.function);
    if (!model)
      return module.emitError() << "no function @" << entry.function;
    SchedulePlanner planner(
        model, kernels, static_cast<int64_t>(all.buffers.size()),
        index == 0 ? "__constant_" : "__constant_" + entry.name + "_");
    FailureOr<json> entryPoint = planner.plan(entry.name);
    if (failed(entryPoint))
      return failure();
    json &launches = (*entryPoint)["schedule"];
    if (completeLaunch)
      for (json &launch : launches)
        if (failed(completeLaunch(launch)))
          return failure();
    for (json &buffer : planner.buffers)
      all.buffers.push_back(std::move(buffer));
    all.arenaBytes = std::max(all.arenaBytes, planner.arenaBytes());
    all.numKernels += launches.size();
    all.entryPoints.push_back(std::move(*entryPoint));
    llvm::append_range(all.constants, planner.constants);
  }
  return all;
}
