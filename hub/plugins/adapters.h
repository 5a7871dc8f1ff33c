// The plugins of every partner that has one: started with the hub, supervised, stopped with it.
//
// An isolated plugin (the default) runs in its own accord-plugin-host process, reached over gRPC
// on a Unix-domain socket in a private directory (mode 0700). Its supervisor checks the library's
// SHA-256 pin, starts the host (which dies with the hub: PR_SET_PDEATHSIG), waits for it to serve,
// and restarts it with exponential back-off whenever it exits; every call has a deadline, and a
// host that lets one pass is killed and restarted (a hung plugin never ties up the hub). While a
// host is down its partner's adapter answers UNAVAILABLE; other partners are not affected.
//
// An in-process plugin ("in_process": true, trusted code only) is loaded into the hub at start;
// it has no isolation and no enforced deadlines.
#ifndef ACCORD_HUB_PLUGINS_ADAPTERS_H_
#define ACCORD_HUB_PLUGINS_ADAPTERS_H_

#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hub/plugins/adapter.h"

namespace accord::plugins {

struct PluginSettings {
  std::string partner_id;
  std::filesystem::path library;
  std::string sha256;  // hex
  bool in_process = false;
  std::string config_json;  // the plugin's own configuration
  absl::Duration call_timeout = absl::Seconds(5);
  absl::Duration start_timeout = absl::Seconds(10);
  absl::Duration initial_backoff = absl::Milliseconds(200);
  absl::Duration max_backoff = absl::Seconds(30);
};

// Told of every state change (from supervisor threads): for health status and logs.
using StateListener =
    std::function<void(const std::string& partner_id, AdapterState state, const std::string& detail)>;

class Adapters {
 public:
  // `host_binary`: accord-plugin-host. `log_dir`: where each host's stderr goes
  // (<partner>.log). Fails only when the private socket directory cannot be made; a plugin that
  // does not load is reported through `listener` and its adapter answers UNAVAILABLE.
  static absl::StatusOr<std::unique_ptr<Adapters>> Start(std::vector<PluginSettings> plugins,
                                                         const std::filesystem::path& host_binary,
                                                         const std::filesystem::path& log_dir,
                                                         StateListener listener);
  // Stops every host (SIGTERM) and unloads in-process plugins.
  ~Adapters();
  Adapters(const Adapters&) = delete;
  Adapters& operator=(const Adapters&) = delete;

  // The partner's adapter, or nullptr when it has no plugin.
  PartnerAdapter* Find(absl::string_view partner_id) const;

 private:
  Adapters() = default;
  std::filesystem::path socket_dir_;
  std::map<std::string, std::unique_ptr<PartnerAdapter>, std::less<>> by_partner_;
};

}  // namespace accord::plugins

#endif  // ACCORD_HUB_PLUGINS_ADAPTERS_H_
