#include "hub/server/config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fstream>
#include <sstream>

#include <algorithm>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "hub/domain/retention.h"

namespace accord::server {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

std::string Resolve(const std::string& path, const std::filesystem::path& base) {
  if (path.empty()) return path;
  std::filesystem::path p(path);
  std::filesystem::path resolved = (p.is_absolute() ? p : base / p).lexically_normal();
  if (!resolved.has_filename() && resolved.has_parent_path()) resolved = resolved.parent_path();
  return resolved.string();
}

absl::Status CheckReadableFile(std::string* path, absl::string_view field, const std::filesystem::path& base) {
  if (path->empty()) return Invalid(field, "is required");
  *path = Resolve(*path, base);
  std::error_code ec;
  if (!std::filesystem::is_regular_file(*path, ec)) return Invalid(field, absl::StrCat(*path, ": no such file"));
  if (::access(path->c_str(), R_OK) != 0) return Invalid(field, absl::StrCat(*path, ": cannot be read"));
  return absl::OkStatus();
}

absl::Status CheckListenAddress(const std::string& address) {
  size_t colon = address.rfind(':');
  if (address.empty()) return Invalid("listen_address", "is required (host:port)");
  if (colon == std::string::npos || colon == 0) return Invalid("listen_address", "must be host:port");
  int port = -1;
  if (!absl::SimpleAtoi(address.substr(colon + 1), &port) || port < 0 || port > 65535) {
    return Invalid("listen_address", "port must be a number 0-65535");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<config::v1::HubConfig> ValidateConfig(config::v1::HubConfig c, const std::filesystem::path& base) {
  if (absl::Status s = CheckListenAddress(c.listen_address()); !s.ok()) return s;

  if (c.data_dir().empty()) return Invalid("data_dir", "is required");
  c.set_data_dir(Resolve(c.data_dir(), base));
  std::error_code ec;
  if (!std::filesystem::is_directory(c.data_dir(), ec)) {
    return Invalid("data_dir", absl::StrCat(c.data_dir(), ": no such directory"));
  }
  // Probe by creating a file: permission bits alone do not tell (root, read-only mounts).
  std::string probe = absl::StrCat(c.data_dir(), "/.accord-write-probe-", ::getpid());
  int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return Invalid("data_dir", absl::StrCat(c.data_dir(), ": not writable (", std::strerror(errno), ")"));
  ::close(fd);
  ::unlink(probe.c_str());

  config::v1::Tls* tls = c.mutable_tls();
  if (absl::Status s = CheckReadableFile(tls->mutable_server_cert_file(), "tls.server_cert_file", base); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckReadableFile(tls->mutable_server_key_file(), "tls.server_key_file", base); !s.ok()) {
    return s;
  }
  if (absl::Status s = CheckReadableFile(tls->mutable_ca_cert_file(), "tls.ca_cert_file", base); !s.ok()) return s;
  if (!tls->ca_key_file().empty()) {
    if (absl::Status s = CheckReadableFile(tls->mutable_ca_key_file(), "tls.ca_key_file", base); !s.ok()) return s;
  }

  if (absl::Status s = CheckReadableFile(c.mutable_signing_key_file(), "signing_key_file", base); !s.ok()) return s;

  config::v1::Limits* limits = c.mutable_limits();
  constexpr uint32_t kMaxMessage = 256u << 20;
  if (limits->max_receive_message_bytes() == 0) limits->set_max_receive_message_bytes(4u << 20);
  if (limits->max_send_message_bytes() == 0) limits->set_max_send_message_bytes(16u << 20);
  if (limits->max_receive_message_bytes() > kMaxMessage) {
    return Invalid("limits.max_receive_message_bytes", "at most 268435456");
  }
  if (limits->max_send_message_bytes() > kMaxMessage) return Invalid("limits.max_send_message_bytes", "at most 268435456");
  if (limits->max_page_size() == 0) limits->set_max_page_size(500);
  if (limits->max_page_size() > 10000) return Invalid("limits.max_page_size", "at most 10000");
  if (limits->shutdown_grace_ms() == 0) limits->set_shutdown_grace_ms(10000);

  if (auto policy = RetentionPolicyOf(c); !policy.ok()) return policy.status();

  std::set<std::string> plugin_partners;
  for (int i = 0; i < c.plugins_size(); ++i) {
    config::v1::Plugin* p = c.mutable_plugins(i);
    const std::string field = absl::StrCat("plugins[", i, "]");
    if (p->partner().empty()) return Invalid(absl::StrCat(field, ".partner"), "is required");
    if (!plugin_partners.insert(p->partner()).second) {
      return Invalid(absl::StrCat(field, ".partner"), absl::StrCat(p->partner(), " already has a plugin"));
    }
    if (absl::Status s = CheckReadableFile(p->mutable_library(), absl::StrCat(field, ".library"), base); !s.ok()) {
      return s;
    }
    if (p->sha256().size() != 64 ||
        !std::all_of(p->sha256().begin(), p->sha256().end(), [](char ch) { return absl::ascii_isxdigit(ch); })) {
      return Invalid(absl::StrCat(field, ".sha256"), "must be the library's SHA-256 as 64 hex digits (sha256sum)");
    }
    p->set_sha256(absl::AsciiStrToLower(p->sha256()));
    if (p->call_timeout_ms() == 0) p->set_call_timeout_ms(5000);
    if (p->start_timeout_ms() == 0) p->set_start_timeout_ms(10000);
    if (p->restart_initial_backoff_ms() == 0) p->set_restart_initial_backoff_ms(200);
    if (p->restart_max_backoff_ms() == 0) p->set_restart_max_backoff_ms(30000);
    if (p->outbox_max_attempts() == 0) p->set_outbox_max_attempts(10);
    if (p->outbox_initial_backoff_ms() == 0) p->set_outbox_initial_backoff_ms(1000);
    if (p->outbox_max_backoff_ms() == 0) p->set_outbox_max_backoff_ms(300000);
    if (p->status_poll_interval_ms() == 0) p->set_status_poll_interval_ms(5000);
    if (p->outbox_max_backoff_ms() < p->outbox_initial_backoff_ms()) {
      return Invalid(absl::StrCat(field, ".outbox_max_backoff_ms"), "must be at least outbox_initial_backoff_ms");
    }
    if (p->restart_max_backoff_ms() < p->restart_initial_backoff_ms()) {
      return Invalid(absl::StrCat(field, ".restart_max_backoff_ms"), "must be at least restart_initial_backoff_ms");
    }
  }
  if (!c.plugin_host_binary().empty()) {
    c.set_plugin_host_binary(Resolve(c.plugin_host_binary(), base));
  }

  const std::string& format = c.logging().format();
  if (!format.empty() && format != "json" && format != "text") {
    return Invalid("logging.format", "must be \"json\" or \"text\"");
  }
  return c;
}

absl::StatusOr<domain::RetentionPolicy> RetentionPolicyOf(const config::v1::HubConfig& config) {
  std::map<std::string, uint32_t> days(config.retention().days_by_category().begin(),
                                       config.retention().days_by_category().end());
  return domain::MakeRetentionPolicy(config.retention().default_days(), days);
}

absl::StatusOr<config::v1::HubConfig> LoadConfig(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(file.string(), ": cannot read the configuration file"));
  std::stringstream text;
  text << in.rdbuf();
  config::v1::HubConfig config;
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = false;
  auto parsed = google::protobuf::util::JsonStringToMessage(text.str(), &config, options);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": ", parsed.message().as_string()));
  }
  auto valid = ValidateConfig(std::move(config), std::filesystem::absolute(file).parent_path());
  if (!valid.ok()) return absl::InvalidArgumentError(absl::StrCat(file.string(), ": ", valid.status().message()));
  return valid;
}

}  // namespace accord::server
