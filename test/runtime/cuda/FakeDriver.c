/* A fake CUDA driver for the tests of runtime/cuda: the entry points the
   layer resolves (runtime/cuda/CudaDriverSymbols.def), over a fake
   in-memory device. Built by test/runtime/cuda/CMakeLists.txt as shared
   libraries; the fake_* functions let the tests look inside and make the
   next call of an entry point fail.

   - device memory is host memory (cuMemAlloc_v2 is malloc);
   - cuModuleLoadData(Ex) records the image; cuModuleGetFunction finds a
     kernel if its name occurs in the image;
   - cuLaunchKernel records its parameters and runs the kernel "scale"
     (float *p, float factor, int n: p[i] *= factor) on the host;
   - every launch is also logged (fake_launch_count, fake_launch_at): the
     kernel's name, grid, block, shared bytes and, for a PTX kernel, its
     parameters (as many as its .entry declares; up to 16, each read as a
     CUdeviceptr, as nsl-cuda-1 kernels take device pointers only);
   - fake_allocation_bytes(p): the bytes from p to the end of the live
     allocation holding p (-1 if none);
   - events time 1.5 ms between any two;
   - $FAKE_CUDA_DEVICES sets the device count (default 1).
   Build with -DOMIT_LAUNCH for a driver that lacks cuLaunchKernel, with
   -DNO_ELAPSED_V2 for one that exports only the original
   cuEventElapsedTime (drivers before CUDA 12.8). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* The driver's types, as runtime/cuda/CudaDriver.h declares them. */
typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef struct CUctx_st *CUcontext;
typedef struct CUmod_st *CUmodule;
typedef struct CUfunc_st *CUfunction;
typedef struct CUstream_st *CUstream;
typedef struct CUevent_st *CUevent;

#ifdef OMIT_LAUNCH /* Exported under another name: dlsym finds none. */
#define cuLaunchKernel fake_unexported_cuLaunchKernel
#endif

/* Every entry point of the table is exported under its symbol as an alias
   of fake_<symbol>, written by hand below: a missing body, or one whose
   signature is not the table's, fails to compile. */
#define FAKE_EXPORT(exported, body, result, parameters)                        \
  static result body parameters;                                               \
  result exported parameters __attribute__((alias(#body)));
#define NSL_CUDA_DRIVER_SYMBOL(api, symbol, result, parameters)                \
  FAKE_EXPORT(symbol, fake_##symbol, result, parameters)
#ifdef NO_ELAPSED_V2
#define NSL_CUDA_DRIVER_SYMBOL_OR_OLDER(api, symbol, older, result,            \
                                        parameters)                            \
  FAKE_EXPORT(older, fake_##symbol, result, parameters)
#endif
#include "runtime/cuda/CudaDriverSymbols.def"

static const char *failCall;
static CUresult failCode;
static int liveAllocations, contextRefs, liveStreams, liveEvents, liveModules,
    streamSyncs, eventRecords, initCalls, setCurrentCalls;
static CUcontext current;
struct CUctx_st {
  char unused;
};
static struct CUctx_st theContext; /* The one primary context. */
static char moduleImage[1 << 20];
static size_t moduleImageSize;
static int moduleLoadedWithEx, moduleNumOptions;

struct Launch {
  CUfunction function;
  unsigned grid[3], block[3], shared;
  CUstream stream;
  void **params;
  void **extra;
  int count;
};
static struct Launch lastLaunch;

struct LaunchRecord {
  char kernel[64];
  unsigned grid[3], block[3], shared;
  int numParams; /* -1: not a PTX .entry */
  CUdeviceptr params[16];
};
#define MAX_LAUNCHES 256
static struct LaunchRecord launchLog[MAX_LAUNCHES];
static int launchCount;
int fake_launch_count(void) { return launchCount; }
const struct LaunchRecord *fake_launch_at(int i) {
  return i >= 0 && i < launchCount && i < MAX_LAUNCHES ? &launchLog[i] : 0;
}

#define MAX_ALLOCATIONS 4096
static struct {
  CUdeviceptr pointer;
  size_t bytes;
} allocationLog[MAX_ALLOCATIONS];
static int allocationCount;
long long fake_allocation_bytes(CUdeviceptr p) {
  for (int i = 0; i < allocationCount; ++i)
    if (allocationLog[i].pointer && p >= allocationLog[i].pointer &&
        p < allocationLog[i].pointer + allocationLog[i].bytes)
      return (long long)(allocationLog[i].pointer + allocationLog[i].bytes - p);
  return -1;
}

void fake_reset(void) {
  failCall = 0;
  failCode = 0;
  liveAllocations = contextRefs = liveStreams = liveEvents = liveModules =
      streamSyncs = eventRecords = initCalls = setCurrentCalls = 0;
  current = 0;
  moduleImageSize = 0;
  moduleLoadedWithEx = moduleNumOptions = 0;
  memset(&lastLaunch, 0, sizeof lastLaunch);
  launchCount = 0;
  allocationCount = 0;
}
void fake_fail_next(const char *call, CUresult code) {
  failCall = call;
  failCode = code;
}
int fake_counter(const char *name) {
  if (!strcmp(name, "allocations"))
    return liveAllocations;
  if (!strcmp(name, "contexts"))
    return contextRefs;
  if (!strcmp(name, "streams"))
    return liveStreams;
  if (!strcmp(name, "events"))
    return liveEvents;
  if (!strcmp(name, "modules"))
    return liveModules;
  if (!strcmp(name, "stream_syncs"))
    return streamSyncs;
  if (!strcmp(name, "event_records"))
    return eventRecords;
  if (!strcmp(name, "inits"))
    return initCalls;
  if (!strcmp(name, "set_current"))
    return setCurrentCalls;
  if (!strcmp(name, "module_ex"))
    return moduleLoadedWithEx;
  if (!strcmp(name, "module_options"))
    return moduleNumOptions;
  if (!strcmp(name, "current_is_primary"))
    return current == &theContext;
  return -1;
}
const char *fake_module_image(size_t *size) {
  *size = moduleImageSize;
  return moduleImage;
}
const struct Launch *fake_last_launch(void) { return &lastLaunch; }

#define FAIL_POINT(name)                                                       \
  if (failCall && !strcmp(failCall, name)) {                                   \
    failCall = 0;                                                              \
    return failCode;                                                           \
  }

static CUresult fake_cuInit(unsigned flags) {
  FAIL_POINT("cuInit");
  ++initCalls;
  return flags == 0 ? 0 : 1;
}

static CUresult fake_cuGetErrorName(CUresult error, const char **name) {
  switch (error) {
  case 0:
    *name = "CUDA_SUCCESS";
    return 0;
  case 1:
    *name = "CUDA_ERROR_INVALID_VALUE";
    return 0;
  case 2:
    *name = "CUDA_ERROR_OUT_OF_MEMORY";
    return 0;
  case 218:
    *name = "CUDA_ERROR_INVALID_PTX";
    return 0;
  case 500:
    *name = "CUDA_ERROR_NOT_FOUND";
    return 0;
  case 700:
    *name = "CUDA_ERROR_ILLEGAL_ADDRESS";
    return 0;
  }
  *name = 0;
  return 1;
}
static CUresult fake_cuGetErrorString(CUresult error, const char **string) {
  switch (error) {
  case 0:
    *string = "fake: no error";
    return 0;
  case 1:
    *string = "fake: invalid argument";
    return 0;
  case 2:
    *string = "fake: out of memory";
    return 0;
  case 218:
    *string = "fake: a PTX JIT compilation failed";
    return 0;
  case 500:
    *string = "fake: named symbol not found";
    return 0;
  case 700:
    *string = "fake: an illegal memory access";
    return 0;
  }
  *string = 0;
  return 1;
}

static int deviceCount(void) {
  const char *env = getenv("FAKE_CUDA_DEVICES");
  return env ? atoi(env) : 1;
}
static CUresult fake_cuDeviceGetCount(int *count) {
  FAIL_POINT("cuDeviceGetCount");
  *count = deviceCount();
  return 0;
}
static CUresult fake_cuDeviceGet(CUdevice *device, int ordinal) {
  FAIL_POINT("cuDeviceGet");
  if (ordinal < 0 || ordinal >= deviceCount())
    return 101;
  *device = 100 + ordinal;
  return 0;
}
static CUresult fake_cuDeviceGetName(char *name, int length, CUdevice device) {
  FAIL_POINT("cuDeviceGetName");
  const char *fake = device == 100 ? "Fake GPU" : "Fake GPU 2";
  strncpy(name, fake, (size_t)length);
  return 0;
}
static CUresult fake_cuDeviceGetAttribute(int *value, int attribute,
                                          CUdevice device) {
  FAIL_POINT("cuDeviceGetAttribute");
  if (attribute == 75)
    *value = device == 100 ? 9 : 8;
  else if (attribute == 76)
    *value = device == 100 ? 0 : 6;
  else
    return 1;
  return 0;
}
static CUresult fake_cuDevicePrimaryCtxRetain(CUcontext *context,
                                              CUdevice device) {
  FAIL_POINT("cuDevicePrimaryCtxRetain");
  *context = &theContext;
  ++contextRefs;
  return 0;
}
static CUresult fake_cuDevicePrimaryCtxRelease_v2(CUdevice device) {
  --contextRefs;
  return 0;
}
static CUresult fake_cuCtxSetCurrent(CUcontext context) {
  FAIL_POINT("cuCtxSetCurrent");
  ++setCurrentCalls;
  current = context;
  return 0;
}

static CUresult fake_cuMemAlloc_v2(CUdeviceptr *pointer, size_t bytes) {
  FAIL_POINT("cuMemAlloc_v2");
  if (current != &theContext)
    return 201;
  void *p = malloc(bytes);
  if (!p)
    return 2;
  memset(p, 0xAB, bytes);
  *pointer = (CUdeviceptr)(uintptr_t)p;
  if (allocationCount < MAX_ALLOCATIONS) {
    allocationLog[allocationCount].pointer = *pointer;
    allocationLog[allocationCount].bytes = bytes;
    ++allocationCount;
  }
  ++liveAllocations;
  return 0;
}
static CUresult fake_cuMemFree_v2(CUdeviceptr pointer) {
  FAIL_POINT("cuMemFree_v2");
  free((void *)(uintptr_t)pointer);
  --liveAllocations;
  for (int i = 0; i < allocationCount; ++i)
    if (allocationLog[i].pointer == pointer)
      allocationLog[i].pointer = 0;
  return 0;
}
static CUresult fake_cuMemcpyHtoD_v2(CUdeviceptr d, const void *s, size_t n) {
  FAIL_POINT("cuMemcpyHtoD_v2");
  memcpy((void *)(uintptr_t)d, s, n);
  return 0;
}
static CUresult fake_cuMemcpyDtoH_v2(void *d, CUdeviceptr s, size_t n) {
  FAIL_POINT("cuMemcpyDtoH_v2");
  memcpy(d, (const void *)(uintptr_t)s, n);
  return 0;
}
static CUresult fake_cuMemcpyHtoDAsync_v2(CUdeviceptr d, const void *s,
                                          size_t n, CUstream stream) {
  FAIL_POINT("cuMemcpyHtoDAsync_v2");
  memcpy((void *)(uintptr_t)d, s, n);
  return 0;
}
static CUresult fake_cuMemcpyDtoHAsync_v2(void *d, CUdeviceptr s, size_t n,
                                          CUstream stream) {
  FAIL_POINT("cuMemcpyDtoHAsync_v2");
  memcpy(d, (const void *)(uintptr_t)s, n);
  return 0;
}
static CUresult fake_cuMemsetD8_v2(CUdeviceptr d, unsigned char value,
                                   size_t n) {
  FAIL_POINT("cuMemsetD8_v2");
  memset((void *)(uintptr_t)d, value, n);
  return 0;
}

static CUresult fake_cuStreamCreate(CUstream *stream, unsigned flags) {
  FAIL_POINT("cuStreamCreate");
  *stream = malloc(16);
  ++liveStreams;
  return 0;
}
static CUresult fake_cuStreamDestroy_v2(CUstream stream) {
  free(stream);
  --liveStreams;
  return 0;
}
static CUresult fake_cuStreamSynchronize(CUstream stream) {
  FAIL_POINT("cuStreamSynchronize");
  ++streamSyncs;
  return 0;
}

static CUresult loadImage(CUmodule *module, const void *image) {
  /* PTX is NUL-terminated text; a binary image here starts "\x7f" "ELF"
     and is 64 bytes long (the tests' fake cubin). */
  const char *bytes = image;
  size_t size = memcmp(bytes,
                       "\x7f"
                       "ELF",
                       4) == 0
                    ? 64
                    : strlen(bytes);
  if (size > sizeof moduleImage)
    size = sizeof moduleImage;
  memcpy(moduleImage, bytes, size);
  moduleImageSize = size;
  *module = malloc(16);
  ++liveModules;
  return 0;
}
static CUresult fake_cuModuleLoadData(CUmodule *module, const void *image) {
  FAIL_POINT("cuModuleLoadData");
  moduleLoadedWithEx = 0;
  return loadImage(module, image);
}
static CUresult fake_cuModuleLoadDataEx(CUmodule *module, const void *image,
                                        unsigned numOptions, int *options,
                                        void **values) {
  moduleLoadedWithEx = 1;
  moduleNumOptions = (int)numOptions;
  if (failCall && !strcmp(failCall, "cuModuleLoadDataEx")) {
    failCall = 0;
    for (unsigned i = 0; i < numOptions; ++i)
      if (options[i] == 5) /* CU_JIT_ERROR_LOG_BUFFER */
        strcpy((char *)values[i], "ptxas fatal: fake syntax error");
    return failCode;
  }
  return loadImage(module, image);
}
static CUresult fake_cuModuleGetFunction(CUfunction *function, CUmodule module,
                                         const char *name) {
  FAIL_POINT("cuModuleGetFunction");
  size_t n = strlen(name);
  /* A PTX kernel is its ".entry NAME(" (NAME may be a prefix of others). */
  for (size_t i = 0; i + n + 8 <= moduleImageSize; ++i)
    if (!memcmp(moduleImage + i, ".entry ", 7) &&
        !memcmp(moduleImage + i + 7, name, n) &&
        moduleImage[i + 7 + n] == '(') {
      *function = (CUfunction)(moduleImage + i + 7);
      return 0;
    }
  for (size_t i = 0; i + n <= moduleImageSize; ++i)
    if (!memcmp(moduleImage + i, name, n)) {
      *function = (CUfunction)(moduleImage + i);
      return 0;
    }
  return 500;
}
static CUresult fake_cuModuleUnload(CUmodule module) {
  free(module);
  --liveModules;
  return 0;
}

static CUresult fake_cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy,
                                    unsigned gz, unsigned bx, unsigned by,
                                    unsigned bz, unsigned shared,
                                    CUstream stream, void **params,
                                    void **extra) {
  FAIL_POINT("cuLaunchKernel");
  struct Launch l = {f,      {gx, gy, gz}, {bx, by, bz}, shared,
                     stream, params,       extra,        lastLaunch.count + 1};
  lastLaunch = l;
  if (launchCount < MAX_LAUNCHES) {
    struct LaunchRecord *r = &launchLog[launchCount];
    const char *name = (const char *)f;
    size_t n = 0;
    memset(r, 0, sizeof *r);
    while (n + 1 < sizeof r->kernel && name[n] && name[n] != '(' &&
           name[n] != ' ' && name[n] != '\n')
      ++n;
    memcpy(r->kernel, name, n);
    r->grid[0] = gx, r->grid[1] = gy, r->grid[2] = gz;
    r->block[0] = bx, r->block[1] = by, r->block[2] = bz;
    r->shared = shared;
    r->numParams = -1;
    if (name >= moduleImage + 7 && name < moduleImage + moduleImageSize &&
        !memcmp(name - 7, ".entry ", 7) && name[n] == '(') {
      const char *close = strchr(name, ')');
      int count = 0;
      for (const char *c = name; close && c < close; ++c)
        if (!memcmp(c, ".param", 6))
          ++count;
      r->numParams = count;
      for (int i = 0; i < count && i < 16; ++i)
        r->params[i] = *(CUdeviceptr *)params[i];
    }
  }
  ++launchCount;
  if (!strncmp((const char *)f, "scale", 5)) {
    float *p = (float *)(uintptr_t)*(CUdeviceptr *)params[0];
    float factor = *(float *)params[1];
    int n = *(int *)params[2];
    for (int i = 0; i < n; ++i)
      p[i] *= factor;
  }
  return 0;
}

static CUresult fake_cuEventCreate(CUevent *event, unsigned flags) {
  FAIL_POINT("cuEventCreate");
  *event = malloc(16);
  ++liveEvents;
  return 0;
}
static CUresult fake_cuEventRecord(CUevent event, CUstream stream) {
  FAIL_POINT("cuEventRecord");
  ++eventRecords;
  return 0;
}
static CUresult fake_cuEventSynchronize(CUevent event) {
  FAIL_POINT("cuEventSynchronize");
  return 0;
}
static CUresult fake_cuEventElapsedTime_v2(float *ms, CUevent start,
                                           CUevent end) {
  FAIL_POINT("cuEventElapsedTime");
  *ms = start == end ? 0.0f : 1.5f;
  return 0;
}
static CUresult fake_cuEventDestroy_v2(CUevent event) {
  free(event);
  --liveEvents;
  return 0;
}
