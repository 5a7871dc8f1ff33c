// A partner's record system as the hub's services see it, however its plugin is run.
//
// Thread-safety: every method may be called from any thread at once.
// Errors from Invoke: the plugin's own status (NOT_FOUND, INVALID_ARGUMENT, …); UNAVAILABLE while
// the plugin is not running (crashed, restarting, failed to start); DEADLINE_EXCEEDED when it did
// not answer in time; INTERNAL when it answered with bytes that do not parse or threw.
#ifndef ACCORD_HUB_PLUGINS_ADAPTER_H_
#define ACCORD_HUB_PLUGINS_ADAPTER_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "accord/plugin/v1/adapter.pb.h"

namespace accord::plugins {

enum class AdapterState {
  kStarting,     // being (re)started
  kAvailable,    // answering calls
  kUnavailable,  // crashed or failed to start; waiting to restart
  kStopped,      // the hub is shutting down
};

absl::string_view AdapterStateName(AdapterState state);

class PartnerAdapter {
 public:
  virtual ~PartnerAdapter() = default;

  // The partner whose system this is.
  virtual const std::string& partner_id() const = 0;
  virtual AdapterState state() const = 0;
  // True when a call waits on another process (an isolated host) — up to its deadline; callers on
  // a server thread then make the call elsewhere. An in-process plugin answers on the caller's
  // thread.
  virtual bool Waits() const { return true; }
  // Calls the plugin with a serialized request; answers by `deadline` or fails.
  virtual absl::StatusOr<std::string> Invoke(plugin::v1::Method method, const std::string& request,
                                             absl::Time deadline) = 0;
};

// Typed call: serializes `request`, parses the response (INTERNAL when it does not parse).
template <typename Response, typename Request>
absl::StatusOr<Response> Call(PartnerAdapter& adapter, plugin::v1::Method method, const Request& request,
                              absl::Time deadline) {
  absl::StatusOr<std::string> bytes = adapter.Invoke(method, request.SerializeAsString(), deadline);
  if (!bytes.ok()) return bytes.status();
  Response response;
  if (!response.ParseFromString(*bytes)) {
    return absl::InternalError(
        absl::StrCat("the plugin of partner ", adapter.partner_id(), " answered with a malformed ",
                     Response::descriptor()->name()));
  }
  return response;
}

}  // namespace accord::plugins

#endif  // ACCORD_HUB_PLUGINS_ADAPTER_H_
