//===- CApi.cpp - The C API of the runtime --------------------------------===//
//
// nsl_runtime.h over Model: exceptions stop here and become a status and a
// per-thread message.
//
//===----------------------------------------------------------------------===//
#include "runtime/artifact/nsl_runtime.h"

#include "runtime/artifact/Model.h"

#include <new>
#include <string>

using namespace nsl::runtime;

struct nsl_model {
  Model model;
};

struct nsl_tensor {
  Tensor tensor;
};

namespace {

thread_local std::string lastError;

nsl_status fail(nsl_status status, const std::string &message) {
  lastError = message;
  return status;
}

/// Runs f, turning exceptions into `failure` (or out of memory).
template <typename F> nsl_status guard(nsl_status failure, F &&f) {
  try {
    f();
    return NSL_OK;
  } catch (const std::bad_alloc &) {
    return fail(NSL_ERROR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception &e) {
    return fail(failure, e.what());
  } catch (...) {
    return fail(failure, "unexpected failure");
  }
}

bool toDType(nsl_dtype dtype, DType &out) {
  if (dtype != NSL_DTYPE_F32 && dtype != NSL_DTYPE_I64)
    return false;
  out = dtype == NSL_DTYPE_I64 ? DType::I64 : DType::F32;
  return true;
}

nsl_dtype fromDType(DType dtype) {
  return dtype == DType::I64 ? NSL_DTYPE_I64 : NSL_DTYPE_F32;
}

nsl_status makeTensor(nsl_dtype dtype, int64_t rank, const int64_t *shape,
                      void *data, bool wrap, nsl_tensor **tensor) {
  DType type;
  if (!tensor || rank < 0 || (rank > 0 && !shape) || !toDType(dtype, type))
    return fail(NSL_ERROR_INVALID_ARGUMENT,
                "nsl_tensor_create/wrap: needs a dtype, a rank >= 0, a shape "
                "of that rank and an output pointer");
  *tensor = nullptr;
  return guard(NSL_ERROR_INVALID_ARGUMENT, [&] {
    Shape dims(shape, shape + rank);
    *tensor = new nsl_tensor{wrap ? Tensor::view(type, dims, data)
                                  : Tensor(type, dims)};
  });
}

/// Argument or result `index` of an entry point.
nsl_status tensorInfo(const nsl_model *model, const char *entry, int64_t index,
                      bool argument, nsl_tensor_info *info) {
  if (!model || !entry || !info)
    return fail(NSL_ERROR_INVALID_ARGUMENT,
                "nsl_model_argument/result: null model, entry or info");
  return guard(NSL_ERROR_INVALID_ARGUMENT, [&] {
    const EntryPointInfo &e = model->model.entryPoint(entry);
    const std::vector<TensorInfo> &list = argument ? e.arguments : e.results;
    if (index < 0 || index >= static_cast<int64_t>(list.size()))
      throw Error("entry point '" + e.name + "' has " +
                  std::to_string(list.size()) +
                  (argument ? " arguments" : " results") + ", no index " +
                  std::to_string(index));
    const TensorInfo &t = list[static_cast<size_t>(index)];
    *info = {t.name.c_str(),     t.role.c_str(),
             fromDType(t.dtype), static_cast<int64_t>(t.shape.size()),
             t.shape.data(),     t.hasDefault};
  });
}

} // namespace

extern "C" {

const char *nsl_last_error(void) { return lastError.c_str(); }

const char *nsl_status_name(nsl_status status) {
  switch (status) {
  case NSL_OK:
    return "ok";
  case NSL_ERROR_INVALID_ARGUMENT:
    return "invalid argument";
  case NSL_ERROR_LOAD:
    return "load error";
  case NSL_ERROR_RUN:
    return "run error";
  case NSL_ERROR_OUT_OF_MEMORY:
    return "out of memory";
  }
  return "unknown status";
}

nsl_status nsl_model_load(const char *path, int32_t threads,
                          nsl_model **model) {
  if (!path || !model || threads < 0)
    return fail(NSL_ERROR_INVALID_ARGUMENT,
                "nsl_model_load: needs a path, threads >= 0 and an output "
                "pointer");
  *model = nullptr;
  return guard(NSL_ERROR_LOAD, [&] {
    ModelOptions options;
    options.threads = threads;
    *model = new nsl_model{Model::load(path, options)};
  });
}

void nsl_model_free(nsl_model *model) { delete model; }

int64_t nsl_model_num_entry_points(const nsl_model *model) {
  return model ? static_cast<int64_t>(model->model.entryPoints().size()) : 0;
}

const char *nsl_model_entry_point_name(const nsl_model *model, int64_t index) {
  if (index < 0 || index >= nsl_model_num_entry_points(model))
    return nullptr;
  return model->model.entryPoints()[static_cast<size_t>(index)].name.c_str();
}

nsl_status nsl_model_entry_point(const nsl_model *model, const char *entry,
                                 int64_t *num_arguments, int64_t *num_results) {
  if (!model || !entry)
    return fail(NSL_ERROR_INVALID_ARGUMENT,
                "nsl_model_entry_point: null model or entry");
  return guard(NSL_ERROR_INVALID_ARGUMENT, [&] {
    const EntryPointInfo &info = model->model.entryPoint(entry);
    if (num_arguments)
      *num_arguments = static_cast<int64_t>(info.arguments.size());
    if (num_results)
      *num_results = static_cast<int64_t>(info.results.size());
  });
}

nsl_status nsl_model_argument(const nsl_model *model, const char *entry,
                              int64_t index, nsl_tensor_info *info) {
  return tensorInfo(model, entry, index, true, info);
}

nsl_status nsl_model_result(const nsl_model *model, const char *entry,
                            int64_t index, nsl_tensor_info *info) {
  return tensorInfo(model, entry, index, false, info);
}

nsl_status nsl_tensor_create(nsl_dtype dtype, int64_t rank,
                             const int64_t *shape, nsl_tensor **tensor) {
  return makeTensor(dtype, rank, shape, nullptr, false, tensor);
}

nsl_status nsl_tensor_wrap(nsl_dtype dtype, int64_t rank, const int64_t *shape,
                           void *data, nsl_tensor **tensor) {
  return makeTensor(dtype, rank, shape, data, true, tensor);
}

void nsl_tensor_free(nsl_tensor *tensor) { delete tensor; }

nsl_dtype nsl_tensor_dtype(const nsl_tensor *tensor) {
  return tensor ? fromDType(tensor->tensor.dtype()) : NSL_DTYPE_F32;
}

int64_t nsl_tensor_rank(const nsl_tensor *tensor) {
  return tensor ? tensor->tensor.rank() : 0;
}

const int64_t *nsl_tensor_shape(const nsl_tensor *tensor) {
  return tensor ? tensor->tensor.shape().data() : nullptr;
}

int64_t nsl_tensor_numel(const nsl_tensor *tensor) {
  return tensor ? tensor->tensor.numel() : 0;
}

void *nsl_tensor_data(nsl_tensor *tensor) {
  return tensor ? tensor->tensor.data() : nullptr;
}

nsl_status nsl_model_run(nsl_model *model, const char *entry,
                         int64_t num_arguments,
                         const char *const *argument_names,
                         nsl_tensor *const *arguments, int64_t num_results,
                         nsl_tensor **results) {
  if (!model || !entry || num_arguments < 0 ||
      (num_arguments > 0 && (!argument_names || !arguments)) ||
      num_results < 0 || (num_results > 0 && !results))
    return fail(NSL_ERROR_INVALID_ARGUMENT,
                "nsl_model_run: needs a model, an entry point name, and "
                "arrays for the arguments and results");
  int64_t expected = 0;
  if (nsl_status status =
          nsl_model_entry_point(model, entry, nullptr, &expected))
    return status;
  if (num_results != expected)
    return fail(NSL_ERROR_INVALID_ARGUMENT,
                "nsl_model_run: entry point '" + std::string(entry) + "' has " +
                    std::to_string(expected) + " results, but room for " +
                    std::to_string(num_results) + " was given");
  std::map<std::string, Tensor> named;
  for (int64_t i = 0; i < num_arguments; ++i) {
    if (!argument_names[i] || !arguments[i])
      return fail(NSL_ERROR_INVALID_ARGUMENT, "nsl_model_run: argument " +
                                                  std::to_string(i) +
                                                  " has a null name or tensor");
    if (!named.emplace(argument_names[i], arguments[i]->tensor).second)
      return fail(NSL_ERROR_INVALID_ARGUMENT,
                  "nsl_model_run: argument '" + std::string(argument_names[i]) +
                      "' is given twice");
  }
  return guard(NSL_ERROR_RUN, [&] {
    std::vector<Tensor> outputs = model->model.run(entry, named);
    std::vector<nsl_tensor *> owned;
    try {
      for (Tensor &output : outputs)
        owned.push_back(new nsl_tensor{std::move(output)});
    } catch (...) {
      for (nsl_tensor *t : owned)
        delete t;
      throw;
    }
    for (size_t i = 0; i < owned.size(); ++i)
      results[i] = owned[i];
  });
}

} // extern "C"
