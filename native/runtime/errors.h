// Errors that cross the N-API boundary. Every native entry point catches these (and
// c10::Error / std::exception) and turns them into a JS Error whose `code` names the kind,
// so the TypeScript layer can raise its typed errors without parsing messages.
#pragma once

#include <stdexcept>
#include <string>

namespace tce {

// Stable codes, mirrored by lib/errors.ts.
inline constexpr const char* kModelFormat = "ERR_MODEL_FORMAT";    // a weight/config file is malformed
inline constexpr const char* kInvalidArgument = "ERR_INVALID_ARGUMENT";
inline constexpr const char* kIo = "ERR_IO";                      // open/read/write/rename failed
inline constexpr const char* kTorch = "ERR_TORCH";                // libtorch raised c10::Error
inline constexpr const char* kCancelled = "ERR_CANCELLED";        // shutdown() or cancel() stopped the work
inline constexpr const char* kDisposed = "ERR_DISPOSED";          // the model was disposed

class Error : public std::runtime_error {
 public:
  Error(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

inline Error FormatError(const std::string& message) { return Error(kModelFormat, message); }
inline Error IoError(const std::string& message) { return Error(kIo, message); }
inline Error ArgumentError(const std::string& message) { return Error(kInvalidArgument, message); }

}  // namespace tce
