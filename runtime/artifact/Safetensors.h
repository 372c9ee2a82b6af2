//===- Safetensors.h - safetensors files --------------------------*- C++
//-*-===//
//
// Reads and writes the safetensors format (docs/artifact.md) of weights and
// checkpoints: an 8-byte little-endian header length, a JSON header mapping
// each tensor name to its dtype, shape and data_offsets (plus an optional
// "__metadata__" object of strings), then the raw little-endian data. The
// runtime reads F32 and I64 tensors. Reading validates everything a corrupt
// or hostile file could get wrong and reports it as an Error naming the file
// and the tensor.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_SAFETENSORS_H
#define NSL_RUNTIME_ARTIFACT_SAFETENSORS_H

#include "runtime/artifact/Tensor.h"

#include <map>
#include <string>
#include <string_view>

namespace nsl::runtime {

struct SafetensorsFile {
  std::map<std::string, Tensor> tensors;
  std::map<std::string, std::string> metadata;

  /// The tensor with this name, or null.
  const Tensor *find(const std::string &name) const;
};

/// Decodes the bytes of a safetensors file; `sourceName` (normally the path)
/// starts every error message. Checks: the header length fits the file and
/// is at most 100 MB (as the safetensors package), the header is a JSON
/// object, every entry has a known dtype, a valid shape and data_offsets
/// whose byte count is elements × item size, and the tensors' bytes are
/// contiguous, do not overlap and end exactly at the end of the file.
SafetensorsFile parseSafetensors(std::string_view bytes,
                                 const std::string &sourceName);
/// Reads and decodes the file at `path`.
SafetensorsFile readSafetensors(const std::string &path);

/// Encodes tensors (in name order, the header padded to 8 bytes as the
/// safetensors package does) and metadata.
std::string
encodeSafetensors(const std::map<std::string, Tensor> &tensors,
                  const std::map<std::string, std::string> &metadata = {});
/// Writes encodeSafetensors(...) to `path`; throws Error on failure.
void writeSafetensors(const std::string &path,
                      const std::map<std::string, Tensor> &tensors,
                      const std::map<std::string, std::string> &metadata = {});

/// The bytes of a file; throws Error naming the file if it cannot be read.
std::string readFileBytes(const std::string &path);

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_SAFETENSORS_H
