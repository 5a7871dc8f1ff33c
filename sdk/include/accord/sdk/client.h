// Connecting a partner's system to an Accord hub.
//
// A credentials bundle is the folder `accordctl partner enrol` writes:
//   client.crt  the partner's certificate, issued by the hub's CA
//   client.key  its private key (mode 0600; never sent anywhere)
//   ca.crt      the hub CA's certificate, to check the hub's identity
//   hub.addr    optional: host:port of the hub
//
// Three lines to call the hub:
//   auto channel = accord::sdk::Connect("/etc/accord/oakfield");
//   auto admin = accord::v1::PartnerAdmin::NewStub(*channel);
//   admin->ListPartners(&ctx, request, &response);
//
// Every call on the channel is made as the bundle's partner: the hub takes the caller's identity
// from the certificate, never from a request field.
#ifndef ACCORD_SDK_CLIENT_H_
#define ACCORD_SDK_CLIENT_H_

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace grpc {
class Channel;
}

namespace accord::sdk {

struct Credentials {
  std::string client_certificate_pem;
  std::string client_key_pem;
  std::string ca_certificate_pem;
  std::string hub_address;  // from hub.addr; empty when the bundle has none
};

// Reads a bundle folder. NOT_FOUND / PERMISSION_DENIED naming the missing or unreadable file.
absl::StatusOr<Credentials> LoadCredentials(const std::filesystem::path& bundle_dir);

struct ChannelOptions {
  // Largest response accepted; 0 keeps gRPC's default (4 MiB).
  int max_receive_message_bytes = 0;
};

// An mTLS channel to `address` (host:port). The hub's certificate must chain to the bundle's CA
// and name the host. The channel connects lazily; it is thread-safe and meant to be shared.
std::shared_ptr<grpc::Channel> OpenChannel(const Credentials& credentials, const std::string& address,
                                           const ChannelOptions& options = {});

// LoadCredentials + OpenChannel. `address` empty means the bundle's hub.addr; INVALID_ARGUMENT
// when neither gives one.
absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::filesystem::path& bundle_dir,
                                                       const std::string& address = "",
                                                       const ChannelOptions& options = {});

// Asks the hub's grpc.health.v1.Health whether `service` ("" = the hub as a whole) is serving.
// Returns true for SERVING, false for NOT_SERVING / UNKNOWN, or the call's error.
absl::StatusOr<bool> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service = "",
                                 int timeout_ms = 5000);

}  // namespace accord::sdk

#endif  // ACCORD_SDK_CLIENT_H_
