// Loading a plugin library: the one place the hub touches Boost.DLL.
//
// Load() checks, in this order and before running any of the plugin's code beyond its static
// initialisers: the file's SHA-256 against the pin in the configuration; that it loads
// (rtld_now: every symbol resolved up front); that it exports accord_plugin_abi_version and
// that the version is one the hub speaks; then fetches the function table.
//
// Lifetime: a PluginLibrary stays loaded while any shared_ptr to it lives. A LoadedAdapter holds
// one, and destroys its adapter object before releasing it, so no code runs from an unloaded
// library.
#ifndef ACCORD_HUB_PLUGINS_LIBRARY_H_
#define ACCORD_HUB_PLUGINS_LIBRARY_H_

#include <filesystem>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "accord/plugin/v1/adapter.pb.h"
#include "accord/sdk/plugin_abi.h"

namespace accord::plugins {

// Lower-case hex SHA-256 of the file's bytes.
absl::StatusOr<std::string> FileSha256(const std::filesystem::path& file);

class PluginLibrary {
 public:
  // Errors: FAILED_PRECONDITION for a checksum mismatch or an ABI version the hub does not speak;
  // INVALID_ARGUMENT for a file that does not load or lacks the exports. Messages name the file.
  static absl::StatusOr<std::shared_ptr<PluginLibrary>> Load(const std::filesystem::path& file,
                                                             absl::string_view expected_sha256);
  ~PluginLibrary();
  PluginLibrary(const PluginLibrary&) = delete;
  PluginLibrary& operator=(const PluginLibrary&) = delete;

  const AccordPluginApi& api() const { return *api_; }
  const std::filesystem::path& file() const { return file_; }

 private:
  struct Handle;
  PluginLibrary(std::filesystem::path file, std::unique_ptr<Handle> handle, const AccordPluginApi* api);

  std::filesystem::path file_;
  std::unique_ptr<Handle> handle_;
  const AccordPluginApi* api_;
};

// One adapter object created by a loaded library. Thread-safe: Call may run concurrently.
class LoadedAdapter {
 public:
  // Creates the adapter from its configuration (JSON) and asks it to describe itself.
  static absl::StatusOr<std::unique_ptr<LoadedAdapter>> Create(std::shared_ptr<PluginLibrary> library,
                                                               const std::string& config_json);
  ~LoadedAdapter();
  LoadedAdapter(const LoadedAdapter&) = delete;
  LoadedAdapter& operator=(const LoadedAdapter&) = delete;

  // Calls the plugin with a serialized request; the serialized response or the plugin's status.
  absl::StatusOr<std::string> Call(plugin::v1::Method method, absl::string_view request) const;
  const plugin::v1::Description& description() const { return description_; }

 private:
  LoadedAdapter(std::shared_ptr<PluginLibrary> library, void* handle);

  std::shared_ptr<PluginLibrary> library_;
  void* handle_;
  plugin::v1::Description description_;
};

// Typed call on a loaded adapter: serializes `request`, parses the response (INTERNAL when it
// does not parse).
template <typename Response, typename Request>
absl::StatusOr<Response> Call(const LoadedAdapter& adapter, plugin::v1::Method method, const Request& request) {
  absl::StatusOr<std::string> bytes = adapter.Call(method, request.SerializeAsString());
  if (!bytes.ok()) return bytes.status();
  Response response;
  if (!response.ParseFromString(*bytes)) {
    return absl::InternalError(absl::StrCat("the plugin answered with a malformed ", Response::descriptor()->name()));
  }
  return response;
}

}  // namespace accord::plugins

#endif  // ACCORD_HUB_PLUGINS_LIBRARY_H_
