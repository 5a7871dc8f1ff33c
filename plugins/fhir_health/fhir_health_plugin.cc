// The health adapter: serves IDENTITY, HEALTH and MENTAL_HEALTH from FHIR R4 JSON exported by a
// health record system (a folder of resources or Bundles, re-read when it changes), delivers each
// referral as a FHIR transaction Bundle (ServiceRequest + Task) written atomically into an outbound
// folder (once per referral), and reads the health system's Task updates back from an inbound
// folder as referral status changes. Rules for what counts as mental health and for recorded
// dissent: fhir_resources.h.
#include <sys/stat.h>
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
#include "fhir_health_config.pb.h"
#include "plugins/fhir_health/fhir_resources.h"

namespace accord::fhir_health {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kDefaultMaxFileBytes = int64_t{256} << 20;

struct Snapshot {
  std::string signature;
  FhirData data;
};

bool SafeId(absl::string_view id) {
  if (id.empty() || id.size() > 128 || id[0] == '.') return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

std::string Compact(absl::string_view s) {
  std::string out;
  for (char c : s) {
    if (c != ' ') out.push_back(absl::ascii_toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

// *.json files of `folder` not starting with '.', in name order.
absl::StatusOr<std::vector<fs::path>> JsonFiles(const std::string& folder) {
  std::error_code ec;
  std::vector<fs::path> files;
  for (fs::directory_iterator it(folder, ec), end; !ec && it != end; it.increment(ec)) {
    const fs::path& p = it->path();
    if (!it->is_regular_file(ec) || p.filename().string().starts_with(".")) continue;
    if (absl::AsciiStrToLower(p.extension().string()) == ".json") files.push_back(p);
  }
  if (ec) return absl::UnavailableError(absl::StrCat("cannot read ", folder, ": ", ec.message()));
  std::sort(files.begin(), files.end());
  return files;
}

absl::StatusOr<std::string> ReadFile(const fs::path& file, int64_t limit) {
  std::error_code ec;
  const auto size = fs::file_size(file, ec);
  if (ec) return absl::UnavailableError(absl::StrCat("cannot read ", file.string(), ": ", ec.message()));
  if (static_cast<int64_t>(size) > limit) {
    return absl::ResourceExhaustedError(
        absl::StrCat(file.filename().string(), ": ", size, " bytes is over max_file_bytes (", limit, "); not read"));
  }
  std::ifstream in(file, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

class FhirHealthAdapter : public sdk::Adapter {
 public:
  static absl::StatusOr<std::unique_ptr<FhirHealthAdapter>> Create(const v1::FhirHealthConfig& config) {
    std::error_code ec;
    if (config.records_folder().empty() && config.bundle_file().empty() && config.outbound_folder().empty()) {
      return absl::InvalidArgumentError("one of records_folder, bundle_file or outbound_folder is required");
    }
    for (const auto& [field, folder] : {std::pair<const char*, std::string>{"records_folder", config.records_folder()},
                                        {"outbound_folder", config.outbound_folder()},
                                        {"inbound_folder", config.inbound_folder()}}) {
      if (!folder.empty() && !fs::is_directory(folder, ec)) {
        return absl::InvalidArgumentError(absl::StrCat(field, ": ", folder, " is not a folder"));
      }
    }
    if (!config.bundle_file().empty() && !fs::is_regular_file(config.bundle_file(), ec)) {
      return absl::InvalidArgumentError(absl::StrCat("bundle_file: ", config.bundle_file(), " is not a file"));
    }
    if (config.max_file_bytes() < 0) return absl::InvalidArgumentError("max_file_bytes: must not be negative");
    return std::unique_ptr<FhirHealthAdapter>(new FhirHealthAdapter(config));
  }

  plugin::v1::Description Describe() const override {
    plugin::v1::Description d;
    d.set_name("fhir_health");
    d.set_version("1.0.0");
    if (HasRecords()) {
      d.add_capabilities(plugin::v1::CAPABILITY_LOOKUP_PERSON);
      d.add_capabilities(plugin::v1::CAPABILITY_FETCH_RECORDS);
      d.add_data_categories(accord::v1::DATA_CATEGORY_IDENTITY);
      d.add_data_categories(accord::v1::DATA_CATEGORY_HEALTH);
      d.add_data_categories(accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
    }
    if (!config_.outbound_folder().empty()) d.add_capabilities(plugin::v1::CAPABILITY_DELIVER_REFERRAL);
    if (!config_.inbound_folder().empty()) d.add_capabilities(plugin::v1::CAPABILITY_POLL_STATUS_CHANGES);
    d.set_config_type(v1::FhirHealthConfig::descriptor()->full_name());
    return d;
  }

  absl::Status LookupPerson(const plugin::v1::LookupPersonRequest& request,
                            plugin::v1::LookupPersonResponse* response) override {
    if (!HasRecords()) return absl::UnimplementedError("no records_folder or bundle_file is configured");
    auto snapshot = Current();
    if (!snapshot.ok()) return snapshot.status();
    const std::string nhs = Compact(request.identifiers().nhs_number());
    const auto& demo = request.demographics();
    if (nhs.empty() && (demo.family_name().empty() || demo.birth_date().empty())) {
      return absl::InvalidArgumentError(
          "an NHS number, or a family name and date of birth, is needed to find a patient");
    }
    for (const auto& [id, patient] : (*snapshot)->data.patients) {
      const auto& identity = patient.identity;
      bool fits = false;
      if (!nhs.empty()) {
        fits = patient.nhs_number == nhs;
      } else {
        fits = absl::EqualsIgnoreCase(identity.family_name(), demo.family_name()) &&
               identity.birth_date() == demo.birth_date() &&
               (demo.given_name().empty() || absl::StartsWithIgnoreCase(identity.given_name(), demo.given_name())) &&
               (demo.postcode().empty() || Compact(identity.postcode()) == Compact(demo.postcode()));
      }
      if (!fits) continue;
      plugin::v1::PersonMatch* match = response->add_matches();
      match->set_local_id(id);
      match->mutable_identifiers()->set_nhs_number(patient.nhs_number);
      match->mutable_demographics()->set_given_name(identity.given_name());
      match->mutable_demographics()->set_family_name(identity.family_name());
      match->mutable_demographics()->set_birth_date(identity.birth_date());
      match->mutable_demographics()->set_postcode(identity.postcode());
    }
    return absl::OkStatus();
  }

  absl::Status FetchRecords(const plugin::v1::FetchRecordsRequest& request,
                            plugin::v1::FetchRecordsResponse* response) override {
    if (!HasRecords()) return absl::UnimplementedError("no records_folder or bundle_file is configured");
    auto snapshot = Current();
    if (!snapshot.ok()) return snapshot.status();
    const FhirData& data = (*snapshot)->data;
    auto patient = data.patients.find(request.local_id());
    if (patient == data.patients.end()) return absl::NotFoundError(absl::StrCat("no Patient/", request.local_id()));
    if (auto dissent = data.dissent.find(request.local_id()); dissent != data.dissent.end()) {
      return absl::PermissionDeniedError(
          absl::StrCat("Patient/", request.local_id(), " has recorded dissent from sharing (", dissent->second, ")"));
    }
    for (int c : request.data_categories()) {
      if (c == accord::v1::DATA_CATEGORY_IDENTITY) {
        accord::v1::Record* r = response->add_records();
        r->set_data_category(accord::v1::DATA_CATEGORY_IDENTITY);
        r->set_source_id(absl::StrCat("Patient/", patient->first));
        *r->mutable_identity() = patient->second.identity;
      } else if (c == accord::v1::DATA_CATEGORY_HEALTH || c == accord::v1::DATA_CATEGORY_MENTAL_HEALTH) {
        auto [from, to] = data.clinical.equal_range(request.local_id());
        for (auto it = from; it != to; ++it) {
          if (it->second.data_category() == c) *response->add_records() = it->second;
        }
      }
    }
    return absl::OkStatus();
  }

  absl::Status DeliverReferral(const plugin::v1::DeliverReferralRequest& request,
                               plugin::v1::DeliverReferralResponse* response) override {
    if (config_.outbound_folder().empty()) return absl::UnimplementedError("no outbound_folder is configured");
    const std::string& name = request.referral().name();
    const absl::string_view id = absl::StripPrefix(name, "referrals/");
    if (id.size() == name.size() || !SafeId(id)) {
      return absl::InvalidArgumentError(absl::StrCat("referral.name: \"", name, "\" is not referrals/{id}"));
    }
    const fs::path file = fs::path(config_.outbound_folder()) / absl::StrCat("referral-", id, ".json");
    response->set_external_id(absl::StrCat("ServiceRequest/", id));
    std::error_code ec;
    if (fs::exists(file, ec)) return absl::OkStatus();  // delivered before: nothing new
    const fs::path temp = fs::path(config_.outbound_folder()) /
                          absl::StrCat(".referral-", id, ".", getpid(), ".",
                                       std::hash<std::thread::id>()(std::this_thread::get_id()), ".tmp");
    {
      std::ofstream out(temp, std::ios::trunc | std::ios::binary);
      out << ReferralBundle(request.referral());
      if (!out.flush()) return absl::UnavailableError(absl::StrCat("cannot write ", temp.string()));
    }
    fs::rename(temp, file, ec);
    if (ec) {
      fs::remove(temp, ec);
      return absl::UnavailableError(absl::StrCat("cannot move the referral into place: ", ec.message()));
    }
    return absl::OkStatus();
  }

  absl::Status PollStatusChanges(const plugin::v1::PollStatusChangesRequest& request,
                                 plugin::v1::PollStatusChangesResponse* response) override {
    if (config_.inbound_folder().empty()) return absl::UnimplementedError("no inbound_folder is configured");
    auto files = JsonFiles(config_.inbound_folder());
    if (!files.ok()) return files.status();
    std::vector<std::string> problems;
    std::string cursor = request.cursor();
    for (const fs::path& file : *files) {
      const std::string name = file.filename().string();
      if (name <= request.cursor()) continue;
      auto bytes = ReadFile(file, MaxFileBytes());
      if (!bytes.ok() && bytes.status().code() == absl::StatusCode::kUnavailable) return bytes.status();
      if (!bytes.ok()) {
        problems.push_back(std::string(bytes.status().message()));
      } else {
        for (auto& change : ReadTaskUpdates(*bytes, name, &problems)) *response->add_changes() = std::move(change);
      }
      cursor = name;
    }
    response->set_next_cursor(cursor);
    Report(problems);
    return absl::OkStatus();
  }

  absl::Status Health(plugin::v1::HealthResponse* response) override {
    std::string detail;
    if (HasRecords()) {
      auto snapshot = Current();
      if (!snapshot.ok()) {
        response->set_serving(false);
        response->set_detail(std::string(snapshot.status().message()));
        return absl::OkStatus();
      }
      detail = absl::StrCat((*snapshot)->data.patients.size(), " patients");
      if (!(*snapshot)->data.problems.empty()) {
        absl::StrAppend(&detail, "; ", (*snapshot)->data.problems.size(),
                        " problems in the FHIR files, first: ", (*snapshot)->data.problems.front());
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!last_poll_problem_.empty()) absl::StrAppend(&detail, "; last Task update problem: ", last_poll_problem_);
    }
    const std::string& out = config_.outbound_folder();
    const bool writable = out.empty() || ::access(out.c_str(), W_OK) == 0;
    if (!writable) absl::StrAppend(&detail, "; ", out, " is not writable");
    response->set_serving(writable);
    response->set_detail(detail);
    return absl::OkStatus();
  }

 private:
  explicit FhirHealthAdapter(v1::FhirHealthConfig config)
      : config_(std::move(config)), extra_codes_(ExtraCodes(config_)) {}

  static std::set<std::string> ExtraCodes(const v1::FhirHealthConfig& config) {
    std::set<std::string> codes(config.mental_health_snomed_codes().begin(), config.mental_health_snomed_codes().end());
    codes.insert(config.mental_health_loinc_codes().begin(), config.mental_health_loinc_codes().end());
    return codes;
  }

  bool HasRecords() const { return !config_.records_folder().empty() || !config_.bundle_file().empty(); }
  int64_t MaxFileBytes() const {
    return config_.max_file_bytes() > 0 ? config_.max_file_bytes() : kDefaultMaxFileBytes;
  }

  void Report(const std::vector<std::string>& problems) {
    if (problems.empty()) return;
    for (const auto& p : problems) std::cerr << "fhir_health: " << p << "\n";
    std::lock_guard<std::mutex> lock(mu_);
    last_poll_problem_ = problems.back();
  }

  absl::StatusOr<std::shared_ptr<const Snapshot>> Current() {
    std::vector<fs::path> files;
    if (!config_.records_folder().empty()) {
      auto listed = JsonFiles(config_.records_folder());
      if (!listed.ok()) return listed.status();
      files = std::move(*listed);
    }
    if (!config_.bundle_file().empty()) files.push_back(config_.bundle_file());
    std::string signature;
    for (const auto& f : files) {
      struct stat st {};
      if (::stat(f.c_str(), &st) != 0) continue;
      absl::StrAppend(&signature, f.string(), " ", st.st_size, " ", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec, ";");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (snapshot_ != nullptr && snapshot_->signature == signature) return snapshot_;
    auto snapshot = std::make_shared<Snapshot>();
    snapshot->signature = signature;
    for (const auto& f : files) {
      auto bytes = ReadFile(f, MaxFileBytes());
      if (!bytes.ok()) {
        snapshot->data.problems.push_back(std::string(bytes.status().message()));
        continue;
      }
      ReadFhirDocument(*bytes, f.filename().string(), extra_codes_, &snapshot->data);
    }
    for (const auto& p : snapshot->data.problems) std::cerr << "fhir_health: " << p << "\n";
    snapshot_ = std::move(snapshot);
    return snapshot_;
  }

  const v1::FhirHealthConfig config_;
  const std::set<std::string> extra_codes_;
  std::mutex mu_;
  std::shared_ptr<const Snapshot> snapshot_;  // guarded by mu_
  std::string last_poll_problem_;             // guarded by mu_
};

}  // namespace
}  // namespace accord::fhir_health

ACCORD_PLUGIN(accord::fhir_health::FhirHealthAdapter, accord::fhir_health::v1::FhirHealthConfig)
