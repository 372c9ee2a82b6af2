/*===- nsl_runtime.h - The C API of the runtime -------------------*- C -*-===*\
|*                                                                            *|
|* A C interface to the runtime (docs/runtime.md) for programs that are not   *|
|* C++: load a compiled model (a model.nslm folder), list its entry points    *|
|* with their arguments and results, make or wrap tensors, run.               *|
|*                                                                            *|
|* Handles are opaque. Every function that can fail returns an nsl_status;    *|
|* on failure nsl_last_error() holds a message for people (per thread, until  *|
|* the next failing call of that thread). Returned strings and shapes belong  *|
|* to the model or tensor they came from and live as long as it does.        *|
|* A model may be used from several threads; its runs are serialised.        *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/
#ifndef NSL_RUNTIME_ARTIFACT_NSL_RUNTIME_H
#define NSL_RUNTIME_ARTIFACT_NSL_RUNTIME_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum nsl_status {
  NSL_OK = 0,
  /* A null pointer, a bad dtype, rank or index, an unknown entry point. */
  NSL_ERROR_INVALID_ARGUMENT = 1,
  /* The artifact cannot be loaded (missing or corrupt file, wrong target). */
  NSL_ERROR_LOAD = 2,
  /* A run was refused (an argument missing, unknown or mis-shaped). */
  NSL_ERROR_RUN = 3,
  NSL_ERROR_OUT_OF_MEMORY = 4
} nsl_status;

typedef enum nsl_dtype { NSL_DTYPE_F32 = 0, NSL_DTYPE_I64 = 1 } nsl_dtype;

typedef struct nsl_model nsl_model;
typedef struct nsl_tensor nsl_tensor;

/* An argument or a result of an entry point. */
typedef struct nsl_tensor_info {
  const char *name;
  const char *role; /* "input", "parameter", ...; "" for a result */
  nsl_dtype dtype;
  int64_t rank;
  const int64_t *shape;
  int has_default; /* the argument defaults to the artifact's weights */
} nsl_tensor_info;

/* The message of this thread's last failed call ("" if none). */
const char *nsl_last_error(void);
/* "ok", "invalid argument", ... */
const char *nsl_status_name(nsl_status status);

/* Loads the artifact folder at path. threads: the threads that run kernels,
   the caller included; 0 means one per hardware thread. */
nsl_status nsl_model_load(const char *path, int32_t threads, nsl_model **model);
void nsl_model_free(nsl_model *model);

int64_t nsl_model_num_entry_points(const nsl_model *model);
/* The name of entry point `index`, or NULL if out of range. */
const char *nsl_model_entry_point_name(const nsl_model *model, int64_t index);
/* The number of arguments and results of an entry point (either pointer may
   be NULL). */
nsl_status nsl_model_entry_point(const nsl_model *model, const char *entry,
                                 int64_t *num_arguments, int64_t *num_results);
nsl_status nsl_model_argument(const nsl_model *model, const char *entry,
                              int64_t index, nsl_tensor_info *info);
nsl_status nsl_model_result(const nsl_model *model, const char *entry,
                            int64_t index, nsl_tensor_info *info);

/* A new tensor owning zero-filled, 64-byte aligned memory. */
nsl_status nsl_tensor_create(nsl_dtype dtype, int64_t rank,
                             const int64_t *shape, nsl_tensor **tensor);
/* A tensor over the caller's memory (dense, row-major, aligned to the
   element size), which must outlive it. */
nsl_status nsl_tensor_wrap(nsl_dtype dtype, int64_t rank, const int64_t *shape,
                           void *data, nsl_tensor **tensor);
void nsl_tensor_free(nsl_tensor *tensor);
nsl_dtype nsl_tensor_dtype(const nsl_tensor *tensor);
int64_t nsl_tensor_rank(const nsl_tensor *tensor);
const int64_t *nsl_tensor_shape(const nsl_tensor *tensor);
int64_t nsl_tensor_numel(const nsl_tensor *tensor);
void *nsl_tensor_data(nsl_tensor *tensor);

/* Runs an entry point on the arguments given by name (parameters and
   buffers left out default to the weights) and stores its num_results
   results, which must be the entry point's result count, in results[i] as
   new tensors for the caller to free. On failure no result is stored. */
nsl_status nsl_model_run(nsl_model *model, const char *entry,
                         int64_t num_arguments,
                         const char *const *argument_names,
                         nsl_tensor *const *arguments, int64_t num_results,
                         nsl_tensor **results);

#ifdef __cplusplus
}
#endif

#endif /* NSL_RUNTIME_ARTIFACT_NSL_RUNTIME_H */
