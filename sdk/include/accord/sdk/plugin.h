// Writing an adapter plugin: how a partner's record system joins an Accord hub.
//
// A plugin is a shared library that adapts one record system (a school MIS, a health record, a
// spreadsheet drop folder) to the hub. Implement accord::sdk::Adapter, declare the proto message
// your configuration is parsed into, and export both with one macro:
//
//   class MisAdapter : public accord::sdk::Adapter {
//    public:
//     static absl::StatusOr<std::unique_ptr<MisAdapter>> Create(const mis::v1::Config& config);
//     accord::plugin::v1::Description Describe() const override;
//     absl::Status FetchRecords(const accord::plugin::v1::FetchRecordsRequest& request,
//                               accord::plugin::v1::FetchRecordsResponse* response) override;
//   };
//   ACCORD_PLUGIN(MisAdapter, mis::v1::Config)
//
// sdk/examples/template_plugin is a complete one with its own CMake project.
//
// Configuration. The hub's configuration names the library, pins its SHA-256 and carries the
// plugin's "config" object; it is parsed into the declared message before Create is called.
// Unknown fields are refused and the hub does not start (the error names the field).
//
// Ownership. The hub owns the adapter Create returns and destroys it before unloading the
// library. Request and response messages belong to the caller; a method fills `*response`.
//
// Threading. The hub may call any method from several threads at once: an adapter must be
// thread-safe (guard shared state; keep no per-call state in members).
//
// Errors. Every method returns absl::Status. Return NOT_FOUND when the person or referral is
// unknown, UNAVAILABLE when the record system cannot be reached (the hub retries where it may),
// INVALID_ARGUMENT for a request the system cannot take, UNIMPLEMENTED for what the adapter does
// not offer (the defaults below). Never let an exception escape: the SDK catches any that does and
// reports INTERNAL, but the call has then failed.
//
// Isolation. By default the hub runs each plugin in its own accord-plugin-host process, with a
// deadline on every call: a plugin that crashes or hangs is restarted with back-off, and its
// partner's requests are answered UNAVAILABLE meanwhile. Only a trusted plugin is loaded
// in-process ("in_process": true), where a crash would take the hub down.
//
// Minimisation. FetchRecords receives exactly the categories the sharing decision allowed;
// return only those (the hub drops anything else and logs the plugin's mistake), and DeliverReferral
// receives only what consent allows.
#ifndef ACCORD_SDK_PLUGIN_H_
#define ACCORD_SDK_PLUGIN_H_

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "accord/plugin/v1/adapter.pb.h"
#include "accord/sdk/plugin_abi.h"

namespace google::protobuf {
class Message;
}

namespace accord::sdk {

class Adapter {
 public:
  virtual ~Adapter() = default;

  // Name, version, capabilities and the categories FetchRecords serves. Called once after
  // Create, and by health checks.
  virtual plugin::v1::Description Describe() const = 0;

  // The partner's own ids of the people matching the identifiers or demographics.
  virtual absl::Status LookupPerson(const plugin::v1::LookupPersonRequest& request,
                                    plugin::v1::LookupPersonResponse* response);
  // Records of the person `request.local_id()`, of the requested categories only.
  virtual absl::Status FetchRecords(const plugin::v1::FetchRecordsRequest& request,
                                    plugin::v1::FetchRecordsResponse* response);
  // Puts a referral into the partner's system. Must be idempotent by referral name: delivering
  // the same referral again returns the same external id and creates nothing new.
  virtual absl::Status DeliverReferral(const plugin::v1::DeliverReferralRequest& request,
                                       plugin::v1::DeliverReferralResponse* response);
  // Changes made in the partner's system since `request.cursor()`.
  virtual absl::Status PollStatusChanges(const plugin::v1::PollStatusChangesRequest& request,
                                         plugin::v1::PollStatusChangesResponse* response);
  // Whether the record system can be reached now. Default: serving.
  virtual absl::Status Health(plugin::v1::HealthResponse* response);
};

namespace internal {

using Factory = absl::StatusOr<std::unique_ptr<Adapter>> (*)(const std::string& config_json);

// Parses `json` into `config`, refusing unknown fields; INVALID_ARGUMENT naming the problem.
absl::Status ParseConfig(const std::string& json, google::protobuf::Message* config);

// The function table around `factory` (one per plugin library).
const AccordPluginApi* MakeApi(Factory factory);

template <typename AdapterType, typename ConfigType>
absl::StatusOr<std::unique_ptr<Adapter>> Create(const std::string& config_json) {
  ConfigType config;
  if (absl::Status s = ParseConfig(config_json, &config); !s.ok()) return s;
  auto adapter = AdapterType::Create(config);
  if (!adapter.ok()) return adapter.status();
  return std::unique_ptr<Adapter>(std::move(*adapter));
}

}  // namespace internal
}  // namespace accord::sdk

// Exports the plugin: AdapterType::Create(const ConfigType&) returning
// absl::StatusOr<std::unique_ptr<AdapterType>> builds the adapter. Use once, at namespace scope.
#define ACCORD_PLUGIN(AdapterType, ConfigType)                                                     \
  extern "C" __attribute__((visibility("default"))) uint32_t accord_plugin_abi_version(void) {   \
    return ACCORD_PLUGIN_ABI_VERSION;                                                           \
  }                                                                                              \
  extern "C" __attribute__((visibility("default"))) const AccordPluginApi* accord_plugin_api(void) { \
    return ::accord::sdk::internal::MakeApi(&::accord::sdk::internal::Create<AdapterType, ConfigType>); \
  }

#endif  // ACCORD_SDK_PLUGIN_H_
