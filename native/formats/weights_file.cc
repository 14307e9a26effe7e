#include "formats/weights_file.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "formats/safetensors.h"
#include "formats/torch_bin.h"
#include "runtime/errors.h"

namespace tce {

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = std::filesystem::path(path).extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext;
}

}  // namespace

StoredTensors scan_weights(const std::string& path) {
  const std::string ext = lower_extension(path);
  if (ext == ".safetensors") return scan_safetensors(path);
  if (ext == ".bin" || ext == ".pt" || ext == ".pth") return scan_torch_bin(path);
  throw ArgumentError(path + ": unknown weight file extension '" + ext +
                      "' (expected .safetensors, or .bin / .pt / .pth for torch.save archives)");
}

NamedTensors read_weights(const std::string& path) { return read_all(scan_weights(path)); }

}  // namespace tce
