//===- Schedule.cpp - Schedule and static memory plan of a model ----------===//
#include "codegen/Schedule.h"
#include "codegen/Passes.h"
#include "dialect/NSLDialect.h"

#include "mlir/Dialect/Arith/IR/Arith.h"

#include <map>

using namespace mlir;
using namespace mlir::nsl;
namespace json = llvm::json;

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

} // namespace

FailureOr<CpuSchedule>
nsl::planCpuSchedule(func::FuncOp model, StringRef entryName,
                     const llvm::StringMap<KernelInfo> &kernels,
                     int64_t firstBufferId, StringRef constantPrefix) {
  CpuSchedule schedule;
  llvm::DenseMap<Value, Buffer> buffers;
  auto describe = [&](Value value, StringRef storage) -> Buffer & {
    auto type = cast<RankedTensorType>(value.getType());
    Buffer &buffer = buffers[value];
    buffer =
        Buffer{firstBufferId + static_cast<int64_t>(buffers.size() - 1), type};
    json::Object entry{{"id", buffer.id},
                       {"dtype", dtypeName(type.getElementType())},
                       {"shape", json::Array(type.getShape())},
                       {"bytes", byteSize(type)},
                       {"storage", storage}};
    schedule.buffers.push_back(std::move(entry));
    return buffer;
  };
  auto entryOf = [&](const Buffer &buffer) -> json::Object & {
    return *schedule.buffers[buffer.id - firstBufferId].getAsObject();
  };

  json::Array arguments;
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
    arguments.push_back(
        json::Object{{"name", name.getValue()},
                     {"role", role.getValue()},
                     {"dtype", dtypeName(type.getElementType())},
                     {"shape", json::Array(type.getShape())},
                     {"buffer", buffer.id}});
  }

  // Each group is launched where its last op stands; a value lives until
  // the launch of its last user (results: to the end).
  auto &body = model.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  SmallVector<KernelGroup> groups = kernelGroups(model);
  llvm::DenseMap<Operation *, unsigned> position;
  for (auto [index, op] : llvm::enumerate(body))
    position[&op] = index;
  llvm::DenseMap<Operation *, unsigned> launchPosition;
  for (const KernelGroup &group : groups)
    for (Operation *op : group.ops)
      launchPosition[op] = position[group.ops.back()];
  llvm::DenseMap<Value, unsigned> lastUse;
  for (Operation &op : body)
    for (Value operand : op.getOperands()) {
      unsigned at = launchPosition.lookup_or(&op, position[&op]);
      lastUse[operand] = std::max(lastUse.lookup(operand), at);
    }
  for (Value result : ret.getOperands())
    lastUse[result] = ~0u;
  llvm::DenseMap<Operation *, const KernelGroup *> launchedBy;
  for (const KernelGroup &group : groups)
    launchedBy[group.ops.back()] = &group;

  Arena arena;
  json::Array launches;
  for (Operation &op : body) {
    unsigned here = position[&op];
    if (auto constant = dyn_cast<arith::ConstantOp>(op)) {
      auto value = dyn_cast<DenseElementsAttr>(constant.getValue());
      if (!value)
        return constant.emitError() << "a compiled model's constants must be "
                                       "dense tensors";
      Buffer &buffer = describe(constant, "constant");
      std::string name =
          constantPrefix.str() + std::to_string(schedule.constants.size());
      entryOf(buffer)["name"] = name;
      schedule.constants.push_back({name, value});
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
    json::Array ids;
    for (Value operand : group->operands)
      ids.push_back(buffers.lookup(operand).id);
    for (Value result : group->results) {
      Buffer &buffer = describe(result, "arena");
      buffer.offset = arena.allocate(byteSize(buffer.type));
      entryOf(buffer)["offset"] = buffer.offset;
      ids.push_back(buffer.id);
    }
    // Arena buffers whose last use is this launch are free for later ones.
    llvm::SmallDenseSet<Value> released;
    for (Value value :
         llvm::concat<const Value>(group->operands, group->results)) {
      const Buffer &buffer = buffers.lookup(value);
      auto it = lastUse.find(value);
      bool dead = it == lastUse.end() || it->second == here;
      if (buffer.offset >= 0 && dead && released.insert(value).second)
        arena.release(buffer.offset, byteSize(buffer.type));
    }
    auto info = kernels.find(group->name);
    if (info == kernels.end())
      return op.emitError()
             << "kernel '" << group->name << "' was not compiled";
    json::Array opNames;
    for (Operation *member : group->ops)
      opNames.push_back(member->getName().getStringRef());
    launches.push_back(
        json::Object{{"kernel", group->name},
                     {"buffers", std::move(ids)},
                     {"parallel_extent", info->second.parallelExtent},
                     {"workspace_bytes", info->second.workspaceBytes},
                     {"ops", std::move(opNames)}});
  }

  json::Array results;
  for (auto [index, value] : llvm::enumerate(ret.getOperands())) {
    auto name =
        model.getResultAttrOfType<StringAttr>(index, NSLDialect::kNameAttr);
    auto type = cast<RankedTensorType>(value.getType());
    results.push_back(
        json::Object{{"name", name ? name.getValue().str()
                                   : "output" + std::to_string(index)},
                     {"dtype", dtypeName(type.getElementType())},
                     {"shape", json::Array(type.getShape())},
                     {"buffer", buffers.lookup(value).id}});
  }
  schedule.arenaBytes = arena.bytes();
  schedule.entryPoint = json::Object{{"name", entryName},
                                     {"arguments", std::move(arguments)},
                                     {"results", std::move(results)},
                                     {"schedule", std::move(launches)}};
  return schedule;
}
