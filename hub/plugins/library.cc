#include "hub/plugins/library.h"

#include <fstream>
#include <vector>

#include <boost/dll/shared_library.hpp>
#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace accord::plugins {

absl::StatusOr<std::string> FileSha256(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", file.string()));
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return absl::InternalError("SHA-256 init");
  std::vector<char> buffer(1 << 16);
  while (in) {
    in.read(buffer.data(), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() > 0 && EVP_DigestUpdate(ctx.get(), buffer.data(), static_cast<size_t>(in.gcount())) != 1) {
      return absl::InternalError("SHA-256 update");
    }
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", file.string()));
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &size) != 1) return absl::InternalError("SHA-256 final");
  return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), size));
}

struct PluginLibrary::Handle {
  boost::dll::shared_library library;
};

PluginLibrary::PluginLibrary(std::filesystem::path file, std::unique_ptr<Handle> handle, const AccordPluginApi* api)
    : file_(std::move(file)), handle_(std::move(handle)), api_(api) {}

PluginLibrary::~PluginLibrary() = default;

absl::StatusOr<std::shared_ptr<PluginLibrary>> PluginLibrary::Load(const std::filesystem::path& file,
                                                                   absl::string_view expected_sha256) {
  absl::StatusOr<std::string> actual = FileSha256(file);
  if (!actual.ok()) return actual.status();
  if (*actual != absl::AsciiStrToLower(expected_sha256)) {
    return absl::FailedPreconditionError(absl::StrCat(file.string(), ": SHA-256 is ", *actual,
                                                      ", the configuration pins ", expected_sha256,
                                                      "; not loaded"));
  }
  auto handle = std::make_unique<Handle>();
  boost::dll::fs::error_code ec;
  handle->library.load(boost::dll::fs::path(file), boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local,
                       ec);
  if (ec) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": does not load: ", ec.message()));
  }
  for (const char* symbol : {"accord_plugin_abi_version", "accord_plugin_api"}) {
    if (!handle->library.has(symbol)) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.string(), ": not an Accord plugin (no ", symbol, "; use ACCORD_PLUGIN)"));
    }
  }
  // The version first: nothing else of the plugin is called unless the hub speaks it.
  uint32_t version = handle->library.get<uint32_t()>("accord_plugin_abi_version")();
  if (version != ACCORD_PLUGIN_ABI_VERSION) {
    return absl::FailedPreconditionError(absl::StrCat(file.string(), ": plugin ABI version ", version,
                                                      ", this hub speaks ", ACCORD_PLUGIN_ABI_VERSION,
                                                      "; rebuild the plugin against this SDK"));
  }
  const AccordPluginApi* api = handle->library.get<const AccordPluginApi*()>("accord_plugin_api")();
  if (api == nullptr || api->struct_size < sizeof(AccordPluginApi) || !api->create || !api->destroy ||
      !api->call || !api->free_output) {
    return absl::InvalidArgumentError(absl::StrCat(file.string(), ": incomplete plugin function table"));
  }
  return std::shared_ptr<PluginLibrary>(new PluginLibrary(file, std::move(handle), api));
}

namespace {

// Takes the bytes out of an AccordOutput and frees it.
std::string Take(const AccordPluginApi& api, AccordOutput& out) {
  std::string bytes(reinterpret_cast<const char*>(out.data), out.size);
  api.free_output(&out);
  return bytes;
}

absl::StatusCode CodeOf(int32_t code) {
  if (code <= 0 || code > static_cast<int32_t>(absl::StatusCode::kUnauthenticated)) {
    return absl::StatusCode::kInternal;
  }
  return static_cast<absl::StatusCode>(code);
}

}  // namespace

LoadedAdapter::LoadedAdapter(std::shared_ptr<PluginLibrary> library, void* handle)
    : library_(std::move(library)), handle_(handle) {}

LoadedAdapter::~LoadedAdapter() {
  // The object first, then (with library_) the code it runs.
  library_->api().destroy(handle_);
}

absl::StatusOr<std::unique_ptr<LoadedAdapter>> LoadedAdapter::Create(std::shared_ptr<PluginLibrary> library,
                                                                     const std::string& config_json) {
  const AccordPluginApi& api = library->api();
  int32_t code = 0;
  AccordOutput error{};
  void* handle = api.create(config_json.data(), config_json.size(), &code, &error);
  if (handle == nullptr) {
    std::string message = Take(api, error);
    return absl::Status(code == 0 ? absl::StatusCode::kInternal : CodeOf(code),
                        absl::StrCat(library->file().filename().string(), ": ", message));
  }
  std::unique_ptr<LoadedAdapter> adapter(new LoadedAdapter(std::move(library), handle));
  absl::StatusOr<std::string> described = adapter->Call(plugin::v1::METHOD_DESCRIBE, "");
  if (!described.ok()) return described.status();
  if (!adapter->description_.ParseFromString(*described)) {
    return absl::InternalError(absl::StrCat(adapter->library_->file().filename().string(),
                                            ": its description does not parse"));
  }
  return adapter;
}

absl::StatusOr<std::string> LoadedAdapter::Call(plugin::v1::Method method, absl::string_view request) const {
  const AccordPluginApi& api = library_->api();
  AccordOutput out{};
  int32_t code = api.call(handle_, static_cast<uint32_t>(method), reinterpret_cast<const uint8_t*>(request.data()),
                          request.size(), &out);
  std::string bytes = Take(api, out);
  if (code != 0) return absl::Status(CodeOf(code), bytes);
  return bytes;
}

}  // namespace accord::plugins
