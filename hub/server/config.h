// The hub's configuration: a accord.config.v1.HubConfig read from JSON and validated once.
#ifndef ACCORD_HUB_SERVER_CONFIG_H_
#define ACCORD_HUB_SERVER_CONFIG_H_

#include <filesystem>

#include "absl/status/statusor.h"
#include "accord/config/v1/hub_config.pb.h"
#include "hub/domain/retention.h"

namespace accord::server {

// Reads, parses and validates the file. Unknown fields, malformed values, missing TLS files and
// a data directory that is absent or not writable are refused with INVALID_ARGUMENT whose
// message starts with the field's path ("tls.server_cert_file: ..."). Relative paths are
// resolved against the file's folder; defaults are filled in for zero limits.
absl::StatusOr<config::v1::HubConfig> LoadConfig(const std::filesystem::path& file);

// The same checks on a message already in memory; relative paths resolve against `base_dir`.
absl::StatusOr<config::v1::HubConfig> ValidateConfig(config::v1::HubConfig config,
                                                     const std::filesystem::path& base_dir);

// The retention periods the configuration sets (defaults for what it leaves out).
absl::StatusOr<domain::RetentionPolicy> RetentionPolicyOf(const config::v1::HubConfig& config);

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_CONFIG_H_
