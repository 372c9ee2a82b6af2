//===- Artifact.cpp - Loading a compiled model (model.nslm) ---------------===//

#include "runtime/artifact/Artifact.h"

#include "runtime/support/JsonView.h"

#include <dlfcn.h>
#include <elf.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <filesystem>
#include <set>

namespace nsl::runtime {

using support::JsonError;
using support::JsonView;

namespace {

const char *const knownRoles[] = {"input",  "parameter",       "buffer",
                                  "label",  "optimizer_state", "learning_rate",
                                  "derived"};

std::string join(const std::vector<std::string> &items) {
  std::string s;
  for (const std::string &item : items)
    s += (s.empty() ? "" : ", ") + item;
  return s;
}

bool isIdentifier(const std::string &name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0])))
    return false;
  for (char c : name)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_')
      return false;
  return true;
}

//===----------------------------------------------------------------------===//
// manifest.json
//===----------------------------------------------------------------------===//

/// Validates the manifest with JsonView, whose errors carry the JSON path;
/// parseManifest prefixes them with the file name.
class ManifestParser {
public:
  explicit ManifestParser(const HostFeatures *host) : host_(host) {}

  Manifest parse(const JsonView &root) {
    if (!root.isObject())
      root.fail("expected a JSON object");
    const std::string &format = root["format"].asString();
    if (format != "nsl-artifact")
      root["format"].fail("format is '" + format +
                          "', expected 'nsl-artifact' (is this an nslc "
                          "artifact?)");
    int64_t version = root["version"].asInteger();
    if (version != 1)
      root["version"].fail("version " + std::to_string(version) +
                           " is not supported (this runtime reads version 1)");
    m_.target = root["target"].asString();
    if (host_)
      if (std::optional<std::string> problem = targetProblem(m_.target, *host_))
        throw JsonError(*problem);

    JsonView kernels = root["kernels"];
    if (isCudaTarget(m_.target)) {
      parseCudaKernels(kernels);
    } else {
      m_.kernelLibrary = kernels["library"].asString();
      if (m_.kernelLibrary.empty() ||
          m_.kernelLibrary.find('/') != std::string::npos ||
          m_.kernelLibrary == "." || m_.kernelLibrary == "..")
        kernels["library"].fail("library '" + m_.kernelLibrary +
                                "' is not a file name in the artifact folder");
      m_.kernelAbi = kernels["abi"].asString();
      if (m_.target.rfind("cpu-", 0) == 0 && m_.kernelAbi != "nsl-cpu-1")
        kernels["abi"].fail("kernel ABI '" + m_.kernelAbi +
                            "' is not supported (this runtime calls nsl-cpu-1 "
                            "kernels)");
      if (std::optional<JsonView> id = kernels.find("id"))
        m_.kernelId = id->asString();
      if (std::optional<JsonView> deps = kernels.find("dependencies"))
        for (const JsonView &dep : deps->elements())
          m_.kernelDependencies.push_back(dep.asString());
    }

    JsonView arena = root["arena_bytes"];
    m_.arenaBytes = arena.asInteger();
    if (m_.arenaBytes < 0)
      arena.fail("arena_bytes is negative");
    parseBuffers(root["buffers"]);

    std::set<std::string> names;
    for (const JsonView &entry : root["entry_points"].elements()) {
      m_.entryPoints.push_back(parseEntryPoint(entry));
      if (!names.insert(m_.entryPoints.back().name).second)
        entry["name"].fail("entry point '" + m_.entryPoints.back().name +
                           "' is defined twice");
    }
    if (m_.entryPoints.empty())
      root["entry_points"].fail("the artifact has no entry points");
    size_t index = 0;
    for (const JsonView &entry : root["entry_points"].elements())
      checkPreparation(entry, m_.entryPoints[index++]);
    return std::move(m_);
  }

private:
  static void checkFileName(const JsonView &view, const std::string &name) {
    if (name.empty() || name.find('/') != std::string::npos || name == "." ||
        name == "..")
      view.fail("'" + name + "' is not a file name in the artifact folder");
  }
  /// kernels of a CUDA target: {"ptx": FILE, "cubin": FILE or null,
  /// "abi": "nsl-cuda-1"}.
  void parseCudaKernels(const JsonView &kernels) {
    m_.kernelPtx = kernels["ptx"].asString();
    checkFileName(kernels["ptx"], m_.kernelPtx);
    if (std::optional<JsonView> cubin = kernels.find("cubin"))
      if (!cubin->isNull()) {
        m_.kernelCubin = cubin->asString();
        checkFileName(*cubin, m_.kernelCubin);
      }
    m_.kernelAbi = kernels["abi"].asString();
    if (m_.kernelAbi != "nsl-cuda-1")
      kernels["abi"].fail("kernel ABI '" + m_.kernelAbi +
                          "' is not supported (this runtime launches "
                          "nsl-cuda-1 kernels)");
  }
  /// grid, block and shared_bytes of a CUDA launch, within the limits of
  /// every NVIDIA GPU since sm_50.
  static void parseLaunchConfiguration(const JsonView &l, Launch &launch) {
    auto dims = [&](const char *key, std::array<int64_t, 3> &out,
                    const std::array<int64_t, 3> &limit) {
      JsonView view = l[key];
      std::vector<JsonView> elements = view.elements();
      if (elements.size() != 3)
        view.fail(std::string(key) + " must have 3 sizes (x, y, z), got " +
                  std::to_string(elements.size()));
      for (size_t i = 0; i < 3; ++i) {
        out[i] = elements[i].asInteger();
        if (out[i] < 1 || out[i] > limit[i])
          elements[i].fail(std::string(key) + " size " +
                           std::to_string(out[i]) + " is outside [1, " +
                           std::to_string(limit[i]) + "]");
      }
    };
    dims("grid", launch.grid, {2147483647, 65535, 65535});
    dims("block", launch.block, {1024, 1024, 64});
    if (launch.block[0] * launch.block[1] * launch.block[2] > 1024)
      l["block"].fail(
          "a block of " +
          std::to_string(launch.block[0] * launch.block[1] * launch.block[2]) +
          " threads exceeds 1024");
    JsonView shared = l["shared_bytes"];
    launch.sharedBytes = shared.asInteger();
    if (launch.sharedBytes < 0 || launch.sharedBytes > 232448)
      shared.fail("shared_bytes " + std::to_string(launch.sharedBytes) +
                  " is outside [0, 232448]");
  }
  static DType dtypeOf(const JsonView &view) {
    const std::string &name = view.asString();
    std::optional<DType> dtype = parseDType(name);
    if (!dtype)
      view.fail("unknown dtype '" + name + "' (expected f32 or i64)");
    return *dtype;
  }

  static Shape shapeOf(const JsonView &view) {
    Shape shape;
    for (const JsonView &d : view.elements()) {
      shape.push_back(d.asInteger());
      if (shape.back() < 0)
        d.fail("negative dimension " + std::to_string(shape.back()));
    }
    try {
      numElements(shape);
    } catch (const Error &e) {
      view.fail(e.what());
    }
    return shape;
  }

  void parseBuffers(const JsonView &list) {
    std::vector<JsonView> views = list.elements();
    m_.buffers.resize(views.size());
    std::vector<bool> seen(views.size(), false);
    for (const JsonView &view : views) {
      JsonView idView = view["id"];
      int64_t id = idView.asInteger();
      if (id < 0 || id >= static_cast<int64_t>(views.size()))
        idView.fail("buffer id " + std::to_string(id) +
                    " is out of range (the " + std::to_string(views.size()) +
                    " buffers must have the ids 0 to " +
                    std::to_string(views.size() - 1) + ")");
      if (seen[static_cast<size_t>(id)])
        idView.fail("buffer id " + std::to_string(id) + " is used twice");
      seen[static_cast<size_t>(id)] = true;

      BufferInfo &b = m_.buffers[static_cast<size_t>(id)];
      b.id = id;
      b.dtype = dtypeOf(view["dtype"]);
      b.shape = shapeOf(view["shape"]);
      b.bytes = view["bytes"].asInteger();
      int64_t expected =
          numElements(b.shape) * static_cast<int64_t>(itemSize(b.dtype));
      if (b.bytes != expected)
        view["bytes"].fail("bytes " + std::to_string(b.bytes) +
                           " do not match " + typeToString(b.dtype, b.shape) +
                           " (" + std::to_string(expected) + " bytes)");
      const std::string &storage = view["storage"].asString();
      if (storage == "argument") {
        b.storage = Storage::Argument;
      } else if (storage == "arena") {
        b.storage = Storage::Arena;
        JsonView offset = view["offset"];
        b.offset = offset.asInteger();
        if (b.offset < 0 || b.offset % 64 != 0)
          offset.fail("arena offset " + std::to_string(b.offset) +
                      " is not a non-negative multiple of 64");
        if (b.offset > m_.arenaBytes || b.bytes > m_.arenaBytes - b.offset)
          view.fail("buffer " + std::to_string(id) + " (bytes " +
                    std::to_string(b.offset) + " to " +
                    std::to_string(b.offset + b.bytes) +
                    ") overflows the arena of " +
                    std::to_string(m_.arenaBytes) + " bytes");
      } else if (storage == "constant") {
        b.storage = Storage::Constant;
        b.name = view["name"].asString();
        if (b.name.empty())
          view["name"].fail("a constant buffer needs the name of its tensor");
      } else {
        view["storage"].fail("unknown storage '" + storage +
                             "' (expected argument, arena or constant)");
      }
    }
  }

  const BufferInfo &bufferAt(const JsonView &view) const {
    int64_t id = view.asInteger();
    if (id < 0 || id >= static_cast<int64_t>(m_.buffers.size()))
      view.fail("buffer id " + std::to_string(id) + " is out of range (" +
                std::to_string(m_.buffers.size()) + " buffers)");
    return m_.buffers[static_cast<size_t>(id)];
  }

  /// An argument or result; its type must be that of its buffer.
  Binding parseBinding(const JsonView &view, bool isArgument) const {
    Binding b;
    b.name = view["name"].asString();
    if (b.name.empty())
      view["name"].fail("empty name");
    if (isArgument) {
      b.role = view["role"].asString();
      if (std::find(std::begin(knownRoles), std::end(knownRoles), b.role) ==
          std::end(knownRoles))
        view["role"].fail("unknown role '" + b.role +
                          "' (expected input, parameter, buffer, label, "
                          "optimizer_state or learning_rate)");
    }
    b.dtype = dtypeOf(view["dtype"]);
    b.shape = shapeOf(view["shape"]);
    const BufferInfo &buffer = bufferAt(view["buffer"]);
    b.buffer = buffer.id;
    if (buffer.dtype != b.dtype || buffer.shape != b.shape)
      view.fail("'" + b.name + "' is " + typeToString(b.dtype, b.shape) +
                " but its buffer " + std::to_string(buffer.id) + " is " +
                typeToString(buffer.dtype, buffer.shape));
    if (isArgument && buffer.storage != Storage::Argument)
      view["buffer"].fail("argument '" + b.name + "' is bound to buffer " +
                          std::to_string(buffer.id) +
                          ", whose storage is not 'argument'");
    return b;
  }

  /// Every `derived` argument of `entry` is a result (same name, dtype and
  /// shape) of the entry point its `prepared_by` names, which has none of
  /// its own.
  void checkPreparation(const JsonView &view, const EntryPoint &entry) const {
    const EntryPoint *prepare = nullptr;
    if (!entry.preparedBy.empty()) {
      prepare = m_.findEntryPoint(entry.preparedBy);
      if (!prepare || prepare == &entry || !prepare->preparedBy.empty())
        view["prepared_by"].fail(
            "entry point '" + entry.name + "' is prepared by '" +
            entry.preparedBy +
            "', which is not another entry point without preparation");
    }
    for (const Binding &argument : entry.arguments) {
      if (argument.role != "derived")
        continue;
      if (!prepare)
        view["arguments"].fail("derived argument '" + argument.name +
                               "' of entry point '" + entry.name +
                               "', which has no prepared_by");
      auto result = std::find_if(
          prepare->results.begin(), prepare->results.end(),
          [&](const Binding &r) { return r.name == argument.name; });
      if (result == prepare->results.end() || result->dtype != argument.dtype ||
          result->shape != argument.shape)
        view["arguments"].fail(
            "derived argument '" + argument.name + "' of entry point '" +
            entry.name + "' (" + typeToString(argument.dtype, argument.shape) +
            ") is not a result of entry point '" + entry.preparedBy + "'");
    }
  }

  EntryPoint parseEntryPoint(const JsonView &view) const {
    EntryPoint entry;
    entry.name = view["name"].asString();
    if (entry.name.empty())
      view["name"].fail("empty entry point name");
    if (std::optional<JsonView> prepared = view.find("prepared_by"))
      entry.preparedBy = prepared->asString();
    std::set<std::string> names;
    std::set<int64_t> argumentBuffers;
    for (const JsonView &a : view["arguments"].elements()) {
      entry.arguments.push_back(parseBinding(a, true));
      const Binding &b = entry.arguments.back();
      if (!names.insert(b.name).second)
        a["name"].fail("argument '" + b.name + "' is declared twice");
      if (!argumentBuffers.insert(b.buffer).second)
        a["buffer"].fail("buffer " + std::to_string(b.buffer) +
                         " is bound to two arguments");
    }
    // A buffer of storage 'argument' is only valid where it is bound.
    auto checkBound = [&](const JsonView &idView) {
      const BufferInfo &buffer = bufferAt(idView);
      if (buffer.storage == Storage::Argument &&
          !argumentBuffers.count(buffer.id))
        idView.fail("buffer " + std::to_string(buffer.id) +
                    " is an argument buffer but no argument of entry point '" +
                    entry.name + "' is bound to it");
      return buffer.id;
    };
    names.clear();
    for (const JsonView &r : view["results"].elements()) {
      entry.results.push_back(parseBinding(r, false));
      checkBound(r["buffer"]);
      if (!names.insert(entry.results.back().name).second)
        r["name"].fail("result '" + entry.results.back().name +
                       "' is declared twice");
    }
    for (const JsonView &l : view["schedule"].elements()) {
      Launch launch;
      launch.kernel = l["kernel"].asString();
      if (!isIdentifier(launch.kernel))
        l["kernel"].fail("kernel name '" + launch.kernel +
                         "' is not a C identifier");
      for (const JsonView &id : l["buffers"].elements())
        launch.buffers.push_back(checkBound(id));
      launch.parallelExtent = l["parallel_extent"].asInteger();
      if (launch.parallelExtent < 1)
        l["parallel_extent"].fail("parallel_extent " +
                                  std::to_string(launch.parallelExtent) +
                                  " is less than 1");
      if (std::optional<JsonView> workspace = l.find("workspace_bytes")) {
        launch.workspaceBytes = workspace->asInteger();
        if (launch.workspaceBytes < 0)
          workspace->fail("workspace_bytes is negative");
      }
      if (isCudaTarget(m_.target))
        parseLaunchConfiguration(l, launch);
      if (std::optional<JsonView> ops = l.find("ops"))
        for (const JsonView &op : ops->elements())
          launch.ops.push_back(op.asString());
      entry.schedule.push_back(std::move(launch));
    }
    return entry;
  }

  const HostFeatures *host_;
  Manifest m_;
};

//===----------------------------------------------------------------------===//
// kernels.so
//===----------------------------------------------------------------------===//

/// dlopen trusts the file: a truncated library maps segments past the end
/// of the file and dies of SIGBUS when the loader touches them. So check
/// first that the ELF headers and every segment lie within the file.
void checkSharedObject(const std::string &bytes, const std::string &path) {
  auto fail = [&](const std::string &message) {
    throw Error(path + ": " + message +
                " (is the file truncated or not a kernel library?)");
  };
  auto within = [&](uint64_t offset, uint64_t size) {
    return offset <= bytes.size() && size <= bytes.size() - offset;
  };
  Elf64_Ehdr header;
  if (bytes.size() < sizeof header)
    fail("the file has " + std::to_string(bytes.size()) +
         " bytes, too few for an ELF header");
  std::memcpy(&header, bytes.data(), sizeof header);
  if (std::memcmp(header.e_ident, ELFMAG, SELFMAG) != 0)
    fail("not an ELF shared library");
  if (header.e_ident[EI_CLASS] != ELFCLASS64 ||
      header.e_ident[EI_DATA] != ELFDATA2LSB)
    fail("not a 64-bit little-endian ELF library");
  if (header.e_type != ET_DYN)
    fail("an ELF file, but not a shared library");
#if defined(__x86_64__)
  if (header.e_machine != EM_X86_64)
    throw Error(path + ": the library is for ELF machine " +
                std::to_string(header.e_machine) + ", not x86-64");
#endif
  if (header.e_phentsize != sizeof(Elf64_Phdr) ||
      !within(header.e_phoff, uint64_t(header.e_phnum) * sizeof(Elf64_Phdr)))
    fail("the program headers lie outside the file");
  if (header.e_shoff != 0 &&
      (header.e_shentsize != sizeof(Elf64_Shdr) ||
       !within(header.e_shoff, uint64_t(header.e_shnum) * sizeof(Elf64_Shdr))))
    fail("the section headers lie outside the file");
  for (unsigned i = 0; i < header.e_phnum; ++i) {
    Elf64_Phdr segment;
    std::memcpy(&segment, bytes.data() + header.e_phoff + i * sizeof segment,
                sizeof segment);
    if (segment.p_type != PT_NULL &&
        !within(segment.p_offset, segment.p_filesz))
      fail("segment " + std::to_string(i) + " (bytes " +
           std::to_string(segment.p_offset) + " to " +
           std::to_string(segment.p_offset + segment.p_filesz) +
           ") goes past the end of the file (" + std::to_string(bytes.size()) +
           " bytes)");
  }
}

} // namespace

//===----------------------------------------------------------------------===//
// Public functions
//===----------------------------------------------------------------------===//

const EntryPoint *Manifest::findEntryPoint(const std::string &name) const {
  for (const EntryPoint &entry : entryPoints)
    if (entry.name == name)
      return &entry;
  return nullptr;
}

bool isCudaTarget(const std::string &target) {
  return target.rfind("cuda-sm_", 0) == 0 && target.size() > 8;
}

bool roleHasDefault(const std::string &role) {
  return role == "parameter" || role == "buffer" || role == "optimizer_state";
}

HostFeatures HostFeatures::detect() {
  HostFeatures host;
#if defined(__x86_64__)
  __builtin_cpu_init();
  host.x86_64 = true;
  host.avx2 = __builtin_cpu_supports("avx2");
  host.fma = __builtin_cpu_supports("fma");
  host.avx512f = __builtin_cpu_supports("avx512f");
#endif
  return host;
}

std::optional<std::string> targetProblem(const std::string &target,
                                         const HostFeatures &host) {
  const std::string recompile =
      "; compile the model for this machine (nslc --target cpu)";
  if (target.rfind("cuda-", 0) == 0)
    return "target '" + target +
           "' is an NVIDIA GPU, and this runtime runs CPU artifacts only on "
           "the CPU (run it with --device cuda)" +
           recompile;
  if (target != "cpu-x86_64" && target != "cpu-x86_64-avx2" &&
      target != "cpu-x86_64-avx512")
    return "unknown target '" + target +
           "' (this runtime runs cpu-x86_64, cpu-x86_64-avx2 and "
           "cpu-x86_64-avx512)";
  if (!host.x86_64)
    return "target '" + target + "' needs an x86-64 CPU, and this is not one" +
           recompile;
  if (target == "cpu-x86_64-avx2" && !(host.avx2 && host.fma))
    return "target '" + target + "' needs AVX2 and FMA, which this CPU lacks" +
           recompile;
  if (target == "cpu-x86_64-avx512" && !host.avx512f)
    return "target '" + target +
           "' needs AVX-512 (avx512f), which this CPU lacks" + recompile;
  return std::nullopt;
}

/// "input_normalization": {"input": NAME, "mean": [...], "std": [...]}, of
/// an input of `forward` whose channels (dimension 1) they match.
void parseInputNormalization(const JsonView &value, Manifest &manifest) {
  value.expectObject();
  manifest.normalizedInput = value["input"].asString();
  for (const JsonView &m : value["mean"].elements())
    manifest.normalizationMean.push_back(m.asNumber());
  for (const JsonView &s : value["std"].elements()) {
    manifest.normalizationStd.push_back(s.asNumber());
    if (!(manifest.normalizationStd.back() > 0))
      throw Error("input_normalization: std values must be positive");
  }
  const EntryPoint *forward = manifest.findEntryPoint("forward");
  const Binding *input = nullptr;
  if (forward)
    for (const Binding &argument : forward->arguments)
      if (argument.name == manifest.normalizedInput && argument.role == "input")
        input = &argument;
  size_t channels = manifest.normalizationMean.size();
  if (!input || input->shape.size() < 2 || channels == 0 ||
      manifest.normalizationStd.size() != channels ||
      input->shape[1] != static_cast<int64_t>(channels))
    throw Error("input_normalization: expected per-channel mean and std of "
                "an input of forward, got " +
                std::to_string(channels) + " means and " +
                std::to_string(manifest.normalizationStd.size()) +
                " stds for '" + manifest.normalizedInput + "'");
}

Manifest parseManifest(std::string_view text, const std::string &sourceName,
                       const HostFeatures *host) {
  nlohmann::json document;
  try {
    document = support::parseJson(text, sourceName);
  } catch (const JsonError &e) {
    throw Error(e.what()); // Already starts with sourceName.
  }
  try {
    Manifest manifest = ManifestParser(host).parse(JsonView(document));
    // Moved, not copied: the tuning choices are kept as they are.
    if (auto tuning = document.find("tuning"); tuning != document.end())
      manifest.tuning = std::move(*tuning);
    if (std::optional<JsonView> normalization =
            JsonView(document).find("input_normalization"))
      parseInputNormalization(*normalization, manifest);
    return manifest;
  } catch (const JsonError &e) {
    throw Error(sourceName + ": " + e.what());
  } catch (const Error &e) {
    throw Error(sourceName + ": " + e.what());
  }
}

std::shared_ptr<Artifact> Artifact::loadCommon(const std::string &path,
                                               const HostFeatures *host) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (!fs::is_directory(path, error))
    throw Error(path + ": " +
                (fs::exists(path, error)
                     ? "not a folder (an artifact is a folder holding "
                       "manifest.json, weights.safetensors and the kernels)"
                     : "no such artifact folder"));
  auto file = [&](const std::string &name) {
    return (fs::path(path) / name).string();
  };
  std::shared_ptr<Artifact> artifact(new Artifact());
  artifact->path_ = path;
  std::string manifestPath = file("manifest.json");
  artifact->manifest_ =
      parseManifest(readFileBytes(manifestPath), manifestPath, host);
  const Manifest &manifest = artifact->manifest_;

  // Every weight the manifest needs, with its type.
  std::string weightsPath = file("weights.safetensors");
  artifact->weights_ = readSafetensors(weightsPath);
  auto checkWeight = [&](const std::string &name, DType dtype,
                         const Shape &shape, const std::string &user) {
    const Tensor *tensor = artifact->weights_.find(name);
    if (!tensor)
      throw Error(weightsPath + ": tensor '" + name + "' (" + user + ", " +
                  typeToString(dtype, shape) + ") is missing");
    if (tensor->dtype() != dtype || tensor->shape() != shape)
      throw Error(weightsPath + ": tensor '" + name + "' is " +
                  tensor->typeString() + ", but " + user + " needs " +
                  typeToString(dtype, shape));
  };
  for (const BufferInfo &buffer : manifest.buffers)
    if (buffer.storage == Storage::Constant)
      checkWeight(buffer.name, buffer.dtype, buffer.shape,
                  "constant buffer " + std::to_string(buffer.id));
  for (const EntryPoint &entry : manifest.entryPoints)
    for (const Binding &argument : entry.arguments)
      if (roleHasDefault(argument.role))
        checkWeight(argument.name, argument.dtype, argument.shape,
                    "the " + argument.role + " argument of entry point '" +
                        entry.name + "'");
  return artifact;
}

std::shared_ptr<const Artifact> Artifact::loadCuda(const std::string &path) {
  namespace fs = std::filesystem;
  std::shared_ptr<Artifact> artifact = loadCommon(path, nullptr);
  const Manifest &manifest = artifact->manifest_;
  std::string manifestPath = (fs::path(path) / "manifest.json").string();
  if (!isCudaTarget(manifest.target))
    throw Error(manifestPath + ": target '" + manifest.target +
                "' is not an NVIDIA GPU (run it with --device cpu, or "
                "compile the model with nslc --target cuda:sm_90)");
  std::string ptxPath = (fs::path(path) / manifest.kernelPtx).string();
  artifact->ptx_ = readFileBytes(ptxPath);
  if (artifact->ptx_.find(".entry") == std::string::npos)
    throw Error(ptxPath + ": not PTX (no .entry): is the file damaged?");
  if (!manifest.kernelCubin.empty())
    artifact->cubin_ =
        readFileBytes((fs::path(path) / manifest.kernelCubin).string());
  return artifact;
}

std::shared_ptr<const Artifact> Artifact::load(const std::string &path,
                                               const HostFeatures &host) {
  namespace fs = std::filesystem;
  std::shared_ptr<Artifact> artifact = loadCommon(path, &host);
  const Manifest &manifest = artifact->manifest_;
  std::error_code error;
  auto file = [&](const std::string &name) {
    return (fs::path(path) / name).string();
  };

  std::string libraryPath =
      fs::absolute(file(manifest.kernelLibrary), error).string();
  if (error)
    libraryPath = file(manifest.kernelLibrary);
  checkSharedObject(readFileBytes(libraryPath), libraryPath);
  artifact->library_ = dlopen(libraryPath.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!artifact->library_) {
    const char *reason = dlerror();
    throw Error(libraryPath + ": cannot load the kernel library: " +
                (reason ? reason : "unknown reason"));
  }
  // A library from another build would run kernels whose buffers and
  // workspaces differ from the manifest's: refuse it before any call.
  if (!manifest.kernelId.empty()) {
    const char *id =
        static_cast<const char *>(dlsym(artifact->library_, "nsl_kernels_id"));
    std::string found = id ? std::string(id, strnlen(id, 64)) : "";
    if (found != manifest.kernelId)
      throw Error(libraryPath +
                  ": the library was not built for this manifest (its "
                  "kernels id is '" +
                  (id ? found : std::string("missing")) +
                  "', the manifest expects '" + manifest.kernelId + "')");
  }
  for (const EntryPoint &entry : manifest.entryPoints)
    for (size_t i = 0; i < entry.schedule.size(); ++i) {
      const std::string &name = entry.schedule[i].kernel;
      if (artifact->kernels_.count(name))
        continue;
      dlerror(); // Clears an old error.
      void *symbol = dlsym(artifact->library_, name.c_str());
      if (!symbol) {
        const char *reason = dlerror();
        throw Error(libraryPath + ": the library lacks kernel '" + name +
                    "' (launch " + std::to_string(i) + " of entry point '" +
                    entry.name +
                    "'): " + (reason ? reason : "the symbol is null"));
      }
      artifact->kernels_[name] = reinterpret_cast<KernelFunction>(symbol);
    }
  return artifact;
}

Artifact::~Artifact() {
  if (library_)
    dlclose(library_);
}

const EntryPoint &Artifact::entryPoint(const std::string &name) const {
  if (const EntryPoint *entry = manifest_.findEntryPoint(name))
    return *entry;
  std::vector<std::string> known;
  for (const EntryPoint &entry : manifest_.entryPoints)
    known.push_back("'" + entry.name + "'");
  throw Error(path_ + " has no entry point '" + name + "' (it has " +
              join(known) + ")");
}

KernelFunction Artifact::kernel(const std::string &name) const {
  auto it = kernels_.find(name);
  if (it == kernels_.end())
    throw Error(path_ + ": no scheduled kernel is named '" + name + "'");
  return it->second;
}

} // namespace nsl::runtime
