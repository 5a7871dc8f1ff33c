// The voluntary-sector adapter: a provider that works from spreadsheets in a shared folder.
// Each referral becomes one CSV file (header and one row of the fields the referral carries, which
// the hub has already limited to what consent allows), written under a temporary name and renamed
// into place, so a reader never sees half a file, and written once per referral. Decisions come
// back as status CSV files dropped into an inbound folder (format: csv_format.h), read in
// file-name order after the cursor; rows that cannot be used are written, with their line numbers
// and why, to "{file}.rejected.csv" in the quarantine folder and never applied in part.
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <mutex>
#include <sstream>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "accord/sdk/plugin.h"
#include "csv_dropfolder_config.pb.h"
#include "plugins/csv_dropfolder/csv_format.h"

namespace accord::csv_dropfolder {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDefaultMaxFileBytes = int64_t{64} << 20;

bool SafeId(absl::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Writes `content` to `file` through a temporary file in the same folder and a rename.
absl::Status WriteAtomically(const fs::path& file, const std::string& content) {
  const fs::path temp =
      file.parent_path() / absl::StrCat(".", file.filename().string(), ".", getpid(), ".",
                                        std::hash<std::thread::id>()(std::this_thread::get_id()), ".tmp");
  {
    std::ofstream out(temp, std::ios::trunc | std::ios::binary);
    out << content;
    if (!out.flush()) {
      std::error_code ignored;
      fs::remove(temp, ignored);
      return absl::UnavailableError(absl::StrCat("cannot write ", temp.string()));
    }
  }
  std::error_code ec;
  fs::rename(temp, file, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    return absl::UnavailableError(
        absl::StrCat("cannot move ", file.filename().string(), " into place: ", ec.message()));
  }
  return absl::OkStatus();
}

class CsvDropfolderAdapter : public sdk::Adapter {
 public:
  static absl::StatusOr<std::unique_ptr<CsvDropfolderAdapter>> Create(const v1::CsvDropfolderConfig& config) {
    std::error_code ec;
    if (config.outbound_folder().empty()) return absl::InvalidArgumentError("outbound_folder is required");
    if (!fs::is_directory(config.outbound_folder(), ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("outbound_folder: ", config.outbound_folder(), " is not a folder"));
    }
    if (!config.inbound_folder().empty() && !fs::is_directory(config.inbound_folder(), ec)) {
      return absl::InvalidArgumentError(absl::StrCat("inbound_folder: ", config.inbound_folder(), " is not a folder"));
    }
    if (!config.quarantine_folder().empty() && config.inbound_folder().empty()) {
      return absl::InvalidArgumentError("quarantine_folder: needs inbound_folder");
    }
    if (config.max_file_bytes() < 0) return absl::InvalidArgumentError("max_file_bytes: must not be negative");
    return std::unique_ptr<CsvDropfolderAdapter>(new CsvDropfolderAdapter(config));
  }

  plugin::v1::Description Describe() const override {
    plugin::v1::Description d;
    d.set_name("csv_dropfolder");
    d.set_version("1.0.0");
    d.add_capabilities(plugin::v1::CAPABILITY_DELIVER_REFERRAL);
    if (!config_.inbound_folder().empty()) d.add_capabilities(plugin::v1::CAPABILITY_POLL_STATUS_CHANGES);
    d.set_config_type(v1::CsvDropfolderConfig::descriptor()->full_name());
    return d;
  }

  absl::Status DeliverReferral(const plugin::v1::DeliverReferralRequest& request,
                               plugin::v1::DeliverReferralResponse* response) override {
    const std::string& name = request.referral().name();
    const absl::string_view id = absl::StripPrefix(name, "referrals/");
    if (id.size() == name.size() || !SafeId(id)) {
      return absl::InvalidArgumentError(absl::StrCat("referral.name: \"", name, "\" is not referrals/{id}"));
    }
    const fs::path file = fs::path(config_.outbound_folder()) / absl::StrCat("referral-", id, ".csv");
    response->set_external_id(file.filename().string());
    std::error_code ec;
    if (fs::exists(file, ec)) return absl::OkStatus();  // delivered before: nothing new
    std::string content = config_.utf8_bom() ? "\xEF\xBB\xBF" : "";
    content += ReferralCsv(request.referral(), request.demographics(), request.identifiers());
    return WriteAtomically(file, content);
  }

  absl::Status PollStatusChanges(const plugin::v1::PollStatusChangesRequest& request,
                                 plugin::v1::PollStatusChangesResponse* response) override {
    if (config_.inbound_folder().empty()) return absl::UnimplementedError("no inbound_folder is configured");
    std::error_code ec;
    std::vector<fs::path> files;
    for (fs::directory_iterator it(config_.inbound_folder(), ec), end; !ec && it != end; it.increment(ec)) {
      const std::string name = it->path().filename().string();
      if (!it->is_regular_file(ec) || name.starts_with(".")) continue;
      if (absl::AsciiStrToLower(it->path().extension().string()) == ".csv" && name > request.cursor()) {
        files.push_back(it->path());
      }
    }
    if (ec) return absl::UnavailableError(absl::StrCat("cannot read ", config_.inbound_folder(), ": ", ec.message()));
    std::sort(files.begin(), files.end());
    std::string cursor = request.cursor();
    for (const fs::path& file : files) {
      const std::string name = file.filename().string();
      std::vector<CsvError> rejected;
      const auto size = fs::file_size(file, ec);
      if (ec) return absl::UnavailableError(absl::StrCat("cannot read ", file.string(), ": ", ec.message()));
      const int64_t limit = config_.max_file_bytes() > 0 ? config_.max_file_bytes() : kDefaultMaxFileBytes;
      if (static_cast<int64_t>(size) > limit) {
        rejected.push_back(
            {0, absl::StrCat("the file is ", size, " bytes, over max_file_bytes (", limit, "); not read"), ""});
      } else {
        std::ifstream in(file, std::ios::binary);
        std::stringstream bytes;
        bytes << in.rdbuf();
        if (!in.good() && !in.eof()) return absl::UnavailableError(absl::StrCat("cannot read ", file.string()));
        StatusFile parsed = ReadStatusCsv(bytes.str());
        for (auto& change : parsed.changes) *response->add_changes() = std::move(change);
        rejected = std::move(parsed.rejected);
      }
      if (!rejected.empty()) {
        if (absl::Status s = Quarantine(name, rejected); !s.ok()) return s;  // retried whole next poll
      }
      cursor = name;
    }
    response->set_next_cursor(cursor);
    return absl::OkStatus();
  }

  absl::Status Health(plugin::v1::HealthResponse* response) override {
    const bool writable = ::access(config_.outbound_folder().c_str(), W_OK) == 0;
    response->set_serving(writable);
    std::string detail = writable ? "" : absl::StrCat(config_.outbound_folder(), " is not writable");
    std::lock_guard<std::mutex> lock(mu_);
    if (!last_rejection_.empty())
      absl::StrAppend(&detail, detail.empty() ? "" : "; ", "last rejected row: ", last_rejection_);
    response->set_detail(detail);
    return absl::OkStatus();
  }

 private:
  explicit CsvDropfolderAdapter(v1::CsvDropfolderConfig config) : config_(std::move(config)) {}

  fs::path QuarantineFolder() const {
    return config_.quarantine_folder().empty() ? fs::path(config_.inbound_folder()) / "quarantine"
                                               : fs::path(config_.quarantine_folder());
  }

  absl::Status Quarantine(const std::string& name, const std::vector<CsvError>& rejected) {
    std::error_code ec;
    fs::create_directories(QuarantineFolder(), ec);
    if (ec)
      return absl::UnavailableError(absl::StrCat("cannot create ", QuarantineFolder().string(), ": ", ec.message()));
    std::string content = CsvLine({"line", "error", "row"});
    for (const CsvError& e : rejected) {
      content += CsvLine({std::to_string(e.line), e.message, e.raw});
      std::cerr << "csv_dropfolder: " << name << ":" << e.line << ": " << e.message << "\n";
    }
    if (absl::Status s = WriteAtomically(QuarantineFolder() / absl::StrCat(name, ".rejected.csv"), content); !s.ok()) {
      return s;
    }
    std::lock_guard<std::mutex> lock(mu_);
    last_rejection_ = absl::StrCat(name, ":", rejected.back().line, ": ", rejected.back().message);
    return absl::OkStatus();
  }

  const v1::CsvDropfolderConfig config_;
  std::mutex mu_;
  std::string last_rejection_;  // guarded by mu_
};

}  // namespace
}  // namespace accord::csv_dropfolder

ACCORD_PLUGIN(accord::csv_dropfolder::CsvDropfolderAdapter, accord::csv_dropfolder::v1::CsvDropfolderConfig)
