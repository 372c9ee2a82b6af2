/*===- run_model.c - Running a compiled model with the C API --------------===*\
|*                                                                            *|
|* The example of docs/runtime.md, compiled and run by the runtime tests.     *|
|* Loads a model.nslm folder, fills the arguments that have no default        *|
|* (inputs, labels) with a ramp, runs an entry point and prints a summary of  *|
|* every result.                                                              *|
|*                                                                            *|
|*   usage: run_model MODEL.nslm [ENTRY]                                      *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#include "runtime/artifact/nsl_runtime.h"

#include <stdio.h>
#include <stdlib.h>

static int report(const char *what, nsl_status status) {
  fprintf(stderr, "run_model: %s failed (%s): %s\n", what,
          nsl_status_name(status), nsl_last_error());
  return 1;
}

static void print_result(const nsl_tensor_info *info, nsl_tensor *tensor) {
  int64_t count = nsl_tensor_numel(tensor);
  printf("%s: %s[", info->name, info->dtype == NSL_DTYPE_F32 ? "f32" : "i64");
  for (int64_t d = 0; d < info->rank; ++d)
    printf("%s%lld", d ? ", " : "", (long long)info->shape[d]);
  printf("]");
  for (int64_t i = 0; i < count && i < 4; ++i) {
    if (info->dtype == NSL_DTYPE_F32)
      printf(" %g", ((const float *)nsl_tensor_data(tensor))[i]);
    else
      printf(" %lld", (long long)((const int64_t *)nsl_tensor_data(tensor))[i]);
  }
  printf("%s\n", count > 4 ? " ..." : "");
}

int main(int argc, char **argv) {
  if (argc < 2 || argc > 3) {
    fprintf(stderr, "usage: run_model MODEL.nslm [ENTRY]\n");
    return 2;
  }
  const char *entry = argc == 3 ? argv[2] : "forward";

  nsl_model *model = NULL;
  nsl_status status = nsl_model_load(argv[1], /*threads=*/0, &model);
  if (status != NSL_OK)
    return report("loading the model", status);

  int64_t num_arguments = 0, num_results = 0;
  status = nsl_model_entry_point(model, entry, &num_arguments, &num_results);
  if (status != NSL_OK) {
    nsl_model_free(model);
    return report("finding the entry point", status);
  }

  /* Parameters and buffers default to the model's weights: make only the
     other arguments. */
  const char **names = calloc((size_t)num_arguments + 1, sizeof *names);
  nsl_tensor **arguments = calloc((size_t)num_arguments + 1, sizeof *arguments);
  nsl_tensor **results = calloc((size_t)num_results + 1, sizeof *results);
  int64_t given = 0;
  int failed = !names || !arguments || !results;
  for (int64_t i = 0; i < num_arguments && !failed; ++i) {
    nsl_tensor_info info;
    status = nsl_model_argument(model, entry, i, &info);
    if (status == NSL_OK && !info.has_default)
      status = nsl_tensor_create(info.dtype, info.rank, info.shape,
                                 &arguments[given]);
    if (status != NSL_OK) {
      failed = report("making the arguments", status);
      break;
    }
    if (info.has_default)
      continue;
    void *data = nsl_tensor_data(arguments[given]);
    for (int64_t k = 0; k < nsl_tensor_numel(arguments[given]); ++k) {
      if (info.dtype == NSL_DTYPE_F32)
        ((float *)data)[k] = (float)(k % 17) / 8.0f - 1.0f;
      else
        ((int64_t *)data)[k] = 0; /* class 0: valid for any label */
    }
    names[given++] = info.name;
  }

  if (!failed) {
    status = nsl_model_run(model, entry, given, names, arguments, num_results,
                           results);
    if (status != NSL_OK)
      failed = report("running", status);
  }
  for (int64_t i = 0; i < num_results && !failed; ++i) {
    nsl_tensor_info info;
    if (nsl_model_result(model, entry, i, &info) == NSL_OK)
      print_result(&info, results[i]);
  }

  for (int64_t i = 0; i < num_results && results; ++i)
    nsl_tensor_free(results[i]);
  for (int64_t i = 0; i < given; ++i)
    nsl_tensor_free(arguments[i]);
  free(results);
  free(arguments);
  free(names);
  nsl_model_free(model);
  return failed;
}
