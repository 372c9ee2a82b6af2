//===- Artifact.h - Loading a compiled model (model.nslm) --------*- C++
//-*-===//
//
// Loads the artifact folder of docs/artifact.md: parses and validates
// manifest.json, checks that this host can run its target, reads
// weights.safetensors and checks every weight the manifest needs, and loads
// kernels.so, resolving every scheduled kernel. Whatever is wrong with the
// folder is reported as one Error naming the file and the problem; corrupt
// files never crash the loader.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_ARTIFACT_H
#define NSL_RUNTIME_ARTIFACT_ARTIFACT_H

#include "runtime/artifact/Safetensors.h"
#include "runtime/artifact/Tensor.h"

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace nsl::runtime {

enum class Storage { Argument, Arena, Constant };

/// A tensor the schedule touches.
struct BufferInfo {
  int64_t id = 0;
  DType dtype = DType::F32;
  Shape shape;
  int64_t bytes = 0;
  Storage storage = Storage::Arena;
  int64_t offset = 0; // Arena: the byte offset in the arena.
  std::string name;   // Constant: the tensor's name in weights.safetensors.
};

/// An argument or a result of an entry point.
struct Binding {
  std::string name;
  std::string role; // nsl.role of an argument; empty for a result.
  DType dtype = DType::F32;
  Shape shape;
  int64_t buffer = 0;
};

/// One kernel launch of a schedule.
struct Launch {
  std::string kernel;
  std::vector<int64_t> buffers;
  int64_t parallelExtent = 1;
  /// Scratch bytes per concurrent call, passed after the buffers if > 0.
  int64_t workspaceBytes = 0;
  std::vector<std::string> ops; // For people: the nsl ops the kernel runs.
  /// CUDA targets (docs/artifact.md): the launch configuration. The
  /// workspace of a CUDA launch holds grid[0] slices of workspaceBytes.
  std::array<int64_t, 3> grid = {1, 1, 1};
  std::array<int64_t, 3> block = {1, 1, 1};
  int64_t sharedBytes = 0;
};

struct EntryPoint {
  std::string name;
  /// The entry point whose results (by name) are this one's `derived`
  /// arguments, run when the weights change; empty if it has none.
  std::string preparedBy;
  std::vector<Binding> arguments;
  std::vector<Binding> results;
  std::vector<Launch> schedule;
};

struct Manifest {
  std::string target;
  std::string kernelLibrary;
  std::string kernelAbi;
  /// Identifies the build of the kernel library; when set, the library must
  /// export the same NUL-terminated string as `nsl_kernels_id`.
  std::string kernelId;
  std::vector<std::string> kernelDependencies;
  /// CUDA targets: the PTX file and the cubin file (empty if none).
  std::string kernelPtx;
  std::string kernelCubin;
  std::vector<BufferInfo> buffers; // Indexed by id.
  int64_t arenaBytes = 0;
  std::vector<EntryPoint> entryPoints;
  nlohmann::json tuning; // Null when absent.
  /// How the training data were normalised (nsl-run fit's checkpoint,
  /// compiled with nslc --weights): the input and per-channel mean and
  /// std; `input` empty when absent.
  std::string normalizedInput;
  std::vector<double> normalizationMean, normalizationStd;

  /// The entry point with this name, or null.
  const EntryPoint *findEntryPoint(const std::string &name) const;
};

/// Whether an argument of this role defaults to its tensor in
/// weights.safetensors (parameters, buffers and optimizer state); the caller
/// must give the others (inputs, labels, learning rate, ...).
bool roleHasDefault(const std::string &role);

/// Whether `target` names an NVIDIA GPU (cuda-sm_XY).
bool isCudaTarget(const std::string &target);

/// What the host CPU can run.
struct HostFeatures {
  bool x86_64 = false;
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;

  static HostFeatures detect();
};

/// Why a host with these features cannot run artifacts for `target`, or
/// nullopt if it can.
std::optional<std::string> targetProblem(const std::string &target,
                                         const HostFeatures &host);

/// Parses and validates manifest.json (docs/artifact.md); `sourceName`
/// starts every error message. With `host`, the target is checked against
/// it right after the format and version, so that an artifact for another
/// machine is refused with that reason rather than a detail of its layout.
Manifest parseManifest(std::string_view text, const std::string &sourceName,
                       const HostFeatures *host = nullptr);

/// The kernel ABI nsl-cpu-1.
using KernelFunction = void (*)(void *const *buffers, int64_t begin,
                                int64_t end);

/// A loaded artifact; immutable and safe to share between threads. Its
/// kernels stay loaded as long as it lives.
class Artifact {
public:
  /// Loads the folder at `path`; throws Error.
  static std::shared_ptr<const Artifact>
  load(const std::string &path,
       const HostFeatures &host = HostFeatures::detect());
  /// Loads a CUDA artifact (target cuda-sm_XY): the manifest, the weights
  /// and the PTX (and cubin) bytes; the device loads the kernels. Throws
  /// Error, also for a CPU artifact.
  static std::shared_ptr<const Artifact> loadCuda(const std::string &path);
  ~Artifact();
  Artifact(const Artifact &) = delete;
  Artifact &operator=(const Artifact &) = delete;

  const std::string &path() const { return path_; }
  const Manifest &manifest() const { return manifest_; }
  const SafetensorsFile &weights() const { return weights_; }
  /// The entry point with this name; throws Error naming those there are.
  const EntryPoint &entryPoint(const std::string &name) const;
  /// A scheduled kernel (all were resolved at load); throws Error for a name
  /// no schedule uses.
  KernelFunction kernel(const std::string &name) const;
  /// CUDA artifacts: the PTX text and the cubin bytes (empty if none).
  const std::string &ptx() const { return ptx_; }
  const std::string &cubin() const { return cubin_; }

private:
  Artifact() = default;
  /// The folder, manifest.json (target checked against `host` if given)
  /// and weights.safetensors: what every target shares.
  static std::shared_ptr<Artifact> loadCommon(const std::string &path,
                                              const HostFeatures *host);

  std::string path_;
  Manifest manifest_;
  SafetensorsFile weights_;
  void *library_ = nullptr;
  std::map<std::string, KernelFunction> kernels_;
  std::string ptx_, cubin_;
};

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_ARTIFACT_H
