// Writing secrets and credentials to disk: whole files, atomically, with a chosen mode.
#ifndef ACCORD_HUB_SECURITY_FILES_H_
#define ACCORD_HUB_SECURITY_FILES_H_

#include <sys/types.h>

#include <filesystem>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accord::security {

// Writes `content` to a temporary file beside `path` created with `mode` (e.g. 0600 for a private
// key), syncs it and renames it over `path`: readers see the old file or the new one, never half.
absl::Status WriteFileAtomically(const std::filesystem::path& path, absl::string_view content, mode_t mode);

// The whole file. NOT_FOUND / PERMISSION_DENIED naming the path.
absl::StatusOr<std::string> ReadFile(const std::filesystem::path& path);

}  // namespace accord::security

#endif  // ACCORD_HUB_SECURITY_FILES_H_
