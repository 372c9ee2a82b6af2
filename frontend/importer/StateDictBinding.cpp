//===- StateDictBinding.cpp - Parameters and buffers as arguments ---------===//
//
// Each parameter or buffer the graph reaches becomes one argument of
// `forward`, named by its state_dict key (DESIGN.md §2), with its value kept
// for the artifact's weights. The arguments follow the state_dict's order,
// so that scripted and traced models of one network import to the same
// signature.
//
//===----------------------------------------------------------------------===//
#include "frontend/importer/Importer.h"

#include <algorithm>
#include <numeric>

using namespace mlir;

namespace nsl::frontend::importer {

void StateDictBinding::readStateDict(const jit::Module &module) {
  std::unordered_set<const c10::TensorImpl *> parameterSet;
  for (const auto &entry : module.named_parameters(/*recurse=*/true))
    parameterSet.insert(entry.value.unsafeGetTensorImpl());
  std::unordered_set<const c10::TensorImpl *> bufferSet;
  for (const auto &entry : module.named_buffers(/*recurse=*/true))
    bufferSet.insert(entry.value.unsafeGetTensorImpl());
  // The attributes in registration order are the state_dict's order.
  for (const auto &entry : module.named_attributes(/*recurse=*/true)) {
    if (!entry.value.isTensor())
      continue;
    const c10::TensorImpl *impl = entry.value.toTensor().unsafeGetTensorImpl();
    bool isParameter = parameterSet.count(impl),
         isBuffer = bufferSet.count(impl);
    if (!isParameter && !isBuffer)
      continue;
    if (firstKeys.emplace(impl, std::make_pair(entry.name, !isParameter))
            .second)
      stateDictOrder[impl] = stateDictOrder.size();
  }
}

Value StateDictBinding::addInput(Block &body, Type type,
                                 const std::string &name,
                                 const std::string &role) {
  names.push_back({name, role});
  argumentTensors.push_back(nullptr);
  return body.addArgument(type, UnknownLoc::get(&context));
}

Value StateDictBinding::bind(Block &body, const jit::Node *node,
                             const at::Tensor &value, const std::string &path) {
  const c10::TensorImpl *impl = value.unsafeGetTensorImpl();
  auto known = arguments.find(impl);
  if (known != arguments.end())
    return known->second;
  // A tensor outside the state_dict is a buffer named by its path.
  std::string name = path;
  bool buffer = true;
  auto entry = firstKeys.find(impl);
  if (entry != firstKeys.end()) {
    name = entry->second.first;
    buffer = entry->second.second;
  }
  if (value.is_complex() || !value.is_floating_point())
    throw ImportError{describeLocation(node) + ": parameter '" + name +
                      "' has dtype " +
                      std::string(c10::toString(value.scalar_type())) +
                      "; the nsl dialect takes float32 tensors"};
  at::Tensor data = value.detach().to(at::kFloat).contiguous();
  ImportedTensor imported;
  imported.shape.assign(data.sizes().begin(), data.sizes().end());
  imported.values.assign(data.data_ptr<float>(),
                         data.data_ptr<float>() + data.numel());
  auto type = RankedTensorType::get(imported.shape, Float32Type::get(&context));
  weights[name] = std::move(imported);
  Value argument = body.addArgument(type, locationOf(context, node));
  names.push_back({name, buffer ? "buffer" : "parameter"});
  argumentTensors.push_back(impl);
  arguments[impl] = argument;
  return argument;
}

std::unique_ptr<Block> StateDictBinding::sortArguments(Block &body) {
  SmallVector<size_t> order(names.size());
  std::iota(order.begin(), order.end(), 0);
  auto rank = [&](size_t index) -> size_t {
    const c10::TensorImpl *impl = argumentTensors[index];
    if (!impl)
      return 0;
    auto it = stateDictOrder.find(impl);
    return it == stateDictOrder.end() ? stateDictOrder.size() + 1
                                      : it->second + 1;
  };
  // std::sort with the index as tie-break: libstdc++'s stable_sort uses a
  // deprecated helper that clang warns about.
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return std::make_pair(rank(a), a) < std::make_pair(rank(b), b);
  });
  auto sorted = std::make_unique<Block>();
  std::vector<std::pair<std::string, std::string>> sortedNames;
  std::vector<const c10::TensorImpl *> sortedTensors;
  for (size_t index : order) {
    BlockArgument old = body.getArgument(index);
    Value replacement = sorted->addArgument(old.getType(), old.getLoc());
    old.replaceAllUsesWith(replacement);
    if (const c10::TensorImpl *impl = argumentTensors[index])
      arguments[impl] = replacement;
    sortedNames.push_back(names[index]);
    sortedTensors.push_back(argumentTensors[index]);
  }
  sorted->getOperations().splice(sorted->end(), body.getOperations());
  names = std::move(sortedNames);
  argumentTensors = std::move(sortedTensors);
  return sorted;
}

} // namespace nsl::frontend::importer
