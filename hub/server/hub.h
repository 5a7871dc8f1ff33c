// A running hub: the store, the identity checks and every service, served over mTLS.
//
// Lifetime: Start() opens everything or nothing; Shutdown() stops accepting calls, lets
// in-flight calls finish within the configured grace, then the destructor closes the store.
#ifndef ACCORD_HUB_SERVER_HUB_H_
#define ACCORD_HUB_SERVER_HUB_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "accord/config/v1/hub_config.pb.h"

namespace accord::server {

class Hub {
 public:
  // `config` must have passed ValidateConfig. Errors name the file or setting that failed.
  static absl::StatusOr<std::unique_ptr<Hub>> Start(const config::v1::HubConfig& config);
  ~Hub();

  // The port actually bound (useful with port 0).
  int port() const;
  // Graceful stop: idempotent; returns once the server has stopped.
  void Shutdown();

 private:
  struct Parts;
  explicit Hub(std::unique_ptr<Parts> parts);
  std::unique_ptr<Parts> parts_;
};

// The accord-hub program: `accord-hub --config FILE`. Serves until SIGTERM or SIGINT, then shuts
// down gracefully. Returns the process exit code (0 clean, 2 bad usage or configuration, 1 other).
int RunHubMain(int argc, char** argv);

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_HUB_H_
