// The smallest useful adapter: a provider whose system reads referrals from a folder. Each
// referral the hub delivers becomes one file, written atomically (temporary file, then rename)
// and named by the referral, so delivering it again changes nothing (the hub delivers
// at-least-once; the effect must be exactly-once).
//
// To adapt a real system, keep the shape and replace the bodies: LookupPerson and FetchRecords
// for a record system the hub may read from, PollStatusChanges for decisions made in it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "accord/sdk/plugin.h"
#include "google/protobuf/util/json_util.h"
#include "template_config.pb.h"

namespace accord::template_plugin {
namespace {

namespace fs = std::filesystem;

class FolderInboxAdapter : public sdk::Adapter {
 public:
  // Checks the configuration once; a bad one stops the plugin from starting, with the reason.
  static absl::StatusOr<std::unique_ptr<FolderInboxAdapter>> Create(const folder_inbox::v1::TemplateConfig& config) {
    if (config.inbox_folder().empty()) return absl::InvalidArgumentError("inbox_folder is required");
    std::error_code ec;
    if (!fs::is_directory(config.inbox_folder(), ec)) {
      return absl::InvalidArgumentError(absl::StrCat("inbox_folder: ", config.inbox_folder(), " is not a folder"));
    }
    return std::unique_ptr<FolderInboxAdapter>(new FolderInboxAdapter(config));
  }

  plugin::v1::Description Describe() const override {
    plugin::v1::Description d;
    d.set_name("template_folder_inbox");
    d.set_version("1.0.0");
    d.add_capabilities(plugin::v1::CAPABILITY_DELIVER_REFERRAL);
    d.set_config_type(folder_inbox::v1::TemplateConfig::descriptor()->full_name());
    return d;
  }

  absl::Status DeliverReferral(const plugin::v1::DeliverReferralRequest& request,
                               plugin::v1::DeliverReferralResponse* response) override {
    const std::string& name = request.referral().name();  // "referrals/{id}"
    if (name.rfind("referrals/", 0) != 0 || name.size() <= 10 || name.find('/', 10) != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("referral.name: \"", name, "\" is not referrals/{id}"));
    }
    const std::string id = name.substr(10);
    const fs::path file = fs::path(config_.inbox_folder()) / absl::StrCat(id, ".json");
    response->set_external_id(id);
    std::error_code ec;
    if (fs::exists(file, ec)) return absl::OkStatus();  // delivered before: nothing new

    std::string json;
    google::protobuf::util::JsonPrintOptions options;
    options.add_whitespace = true;
    if (!google::protobuf::util::MessageToJsonString(request.referral(), &json, options).ok()) {
      return absl::InternalError("the referral cannot be written as JSON");
    }
    const fs::path temp = fs::path(config_.inbox_folder()) / absl::StrCat(".", id, ".", getpid(), ".tmp");
    {
      std::ofstream out(temp, std::ios::trunc);
      out << json;
      if (!out.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", temp.string()));
    }
    fs::rename(temp, file, ec);
    if (ec) return absl::UnavailableError(absl::StrCat("cannot move the referral into place: ", ec.message()));
    return absl::OkStatus();
  }

  absl::Status Health(plugin::v1::HealthResponse* response) override {
    const bool writable = ::access(config_.inbox_folder().c_str(), W_OK) == 0;
    response->set_serving(writable);
    if (!writable) response->set_detail(absl::StrCat(config_.inbox_folder(), " is not writable"));
    return absl::OkStatus();
  }

 private:
  explicit FolderInboxAdapter(folder_inbox::v1::TemplateConfig config) : config_(std::move(config)) {}
  const folder_inbox::v1::TemplateConfig config_;
};

}  // namespace
}  // namespace accord::template_plugin

ACCORD_PLUGIN(accord::template_plugin::FolderInboxAdapter, accord::folder_inbox::v1::TemplateConfig)
