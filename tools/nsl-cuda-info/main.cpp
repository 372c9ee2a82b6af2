//===- nsl-cuda-info - What the CUDA driver layer sees --------------------===//
//
//   nsl-cuda-info [--driver PATH]
//
// Prints the driver library, the number of devices and, per device, its
// name and compute capability. Exit 0 if there is at least one device, 1
// if there is no driver or no device (with the reason on stderr), 2 for a
// bad command line.
//
//===----------------------------------------------------------------------===//

#include "runtime/cuda/CudaDriver.h"

#include <cstring>
#include <iostream>

using namespace nsl::runtime;

static const char *usage =
    "usage: nsl-cuda-info [--driver PATH]\n"
    "\n"
    "Loads the CUDA driver (PATH, else $NSL_CUDA_DRIVER, else libcuda.so.1)\n"
    "and prints its devices: name and compute capability (sm_XY).\n"
    "Exits 0 with at least one device, 1 with no driver or no device.\n";

int main(int argc, char **argv) {
  std::string path;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--help") || !std::strcmp(argv[i], "-h")) {
      std::cout << usage;
      return 0;
    }
    if (!std::strcmp(argv[i], "--driver") && i + 1 < argc) {
      path = argv[++i];
      continue;
    }
    std::cerr << "nsl-cuda-info: error: unexpected argument '" << argv[i]
              << "'\n"
              << usage;
    return 2;
  }
  try {
    auto driver = cuda::CudaDriver::load(path);
    std::cout << "driver: " << driver->path() << " (loaded, cuInit ok)\n";
    int count = driver->deviceCount();
    std::cout << "devices: " << count << "\n";
    if (count == 0)
      throw Error("no CUDA device: cuDeviceGetCount returned 0");
    for (int i = 0; i < count; ++i) {
      cuda::CudaDevice device(driver, i);
      std::cout << "device " << i << ": " << device.name()
                << ", compute capability " << device.computeCapabilityMajor()
                << "." << device.computeCapabilityMinor() << " ("
                << device.arch() << ")\n";
    }
    return 0;
  } catch (const Error &e) {
    std::cerr << "nsl-cuda-info: " << e.what() << "\n";
    return 1;
  }
}
