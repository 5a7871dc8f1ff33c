// A record system for tests: holds the people its configuration lists and returns their records,
// or misbehaves as its configuration says (tests/plugins/fixture_config.proto).
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <set>
#include <stdexcept>
#include <thread>

#include "accord/sdk/plugin.h"
#include "fixture_config.pb.h"

namespace accord::test {
namespace {

class FixtureAdapter : public sdk::Adapter {
 public:
  static absl::StatusOr<std::unique_ptr<FixtureAdapter>> Create(const v1::FixtureConfig& config) {
    if (config.fault() == v1::FAULT_EXIT_AT_START) _exit(4);
    for (const v1::FixturePerson& p : config.people()) {
      if (p.local_id().empty()) return absl::InvalidArgumentError("people.local_id is required");
    }
    return std::unique_ptr<FixtureAdapter>(new FixtureAdapter(config));
  }

  plugin::v1::Description Describe() const override {
    plugin::v1::Description d;
    d.set_name("fixture");
    d.set_version("1.0.0");
    d.add_capabilities(plugin::v1::CAPABILITY_LOOKUP_PERSON);
    d.add_capabilities(plugin::v1::CAPABILITY_FETCH_RECORDS);
    std::set<int> categories;
    for (const v1::FixturePerson& p : config_.people()) {
      for (const ::accord::v1::Record& r : p.records()) categories.insert(r.data_category());
    }
    for (int c : categories) d.add_data_categories(static_cast<::accord::v1::DataCategory>(c));
    d.set_config_type(v1::FixtureConfig::descriptor()->full_name());
    return d;
  }

  absl::Status LookupPerson(const plugin::v1::LookupPersonRequest& request,
                            plugin::v1::LookupPersonResponse* response) override {
    for (const v1::FixturePerson& p : config_.people()) {
      bool by_nhs = !request.identifiers().nhs_number().empty() && request.identifiers().nhs_number() == p.nhs_number();
      bool by_demographics = request.demographics().family_name() == p.family_name() &&
                             request.demographics().birth_date() == p.birth_date() && !p.birth_date().empty();
      if (by_nhs || by_demographics) response->add_matches()->set_local_id(p.local_id());
    }
    return absl::OkStatus();
  }

  absl::Status DeliverReferral(const plugin::v1::DeliverReferralRequest& request,
                               plugin::v1::DeliverReferralResponse* response) override {
    if (config_.deliveries_folder().empty()) return sdk::Adapter::DeliverReferral(request, response);
    if (config_.fault() == v1::FAULT_SEGFAULT_ON_DELIVER) raise(SIGSEGV);
    const std::filesystem::path folder = config_.deliveries_folder();
    std::error_code ec;
    if (!std::filesystem::is_directory(folder, ec)) return absl::UnavailableError("the record system is offline");
    const std::string id = request.referral().name().substr(request.referral().name().rfind('/') + 1);
    const std::filesystem::path file = folder / (id + ".referral");
    response->set_external_id("EXT-" + id);
    if (std::filesystem::exists(file, ec)) return absl::OkStatus();
    const std::filesystem::path temp = folder / (id + ".tmp");
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      out << request.SerializeAsString();
    }
    std::filesystem::rename(temp, file, ec);
    return ec ? absl::UnavailableError(ec.message()) : absl::OkStatus();
  }

  absl::Status PollStatusChanges(const plugin::v1::PollStatusChangesRequest& request,
                                 plugin::v1::PollStatusChangesResponse* response) override {
    if (config_.deliveries_folder().empty()) return sdk::Adapter::PollStatusChanges(request, response);
    int done = request.cursor().empty() ? 0 : std::stoi(request.cursor());
    std::ifstream in(std::filesystem::path(config_.deliveries_folder()) / "status.log");
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      if (++n <= done || line.empty()) continue;
      std::istringstream fields(line);
      std::string name, state, reason;
      fields >> name >> state;
      std::getline(fields, reason);
      plugin::v1::StatusChange* c = response->add_changes();
      c->set_referral(name);
      ::accord::v1::ReferralState parsed;
      c->set_state(::accord::v1::ReferralState_Parse("REFERRAL_STATE_" + state, &parsed) ? parsed
                                                                                         : ::accord::v1::REFERRAL_STATE_UNSPECIFIED);
      c->set_reason(reason.empty() ? reason : reason.substr(1));
    }
    response->set_next_cursor(std::to_string(std::max(n, done)));
    return absl::OkStatus();
  }

  absl::Status FetchRecords(const plugin::v1::FetchRecordsRequest& request,
                            plugin::v1::FetchRecordsResponse* response) override {
    switch (config_.fault()) {
      case v1::FAULT_SEGFAULT_ON_FETCH:
        raise(SIGSEGV);
        break;
      case v1::FAULT_HANG_ON_FETCH:
        for (;;) std::this_thread::sleep_for(std::chrono::hours(1));
      case v1::FAULT_THROW_ON_FETCH:
        throw std::runtime_error("the MIS database connection was reset");
      default:
        break;
    }
    const v1::FixturePerson* person = nullptr;
    for (const v1::FixturePerson& p : config_.people()) {
      if (p.local_id() == request.local_id()) person = &p;
    }
    if (person == nullptr) return absl::NotFoundError("no such person in this system");
    std::set<int> wanted(request.data_categories().begin(), request.data_categories().end());
    for (const ::accord::v1::Record& r : person->records()) {
      if (wanted.count(r.data_category()) || config_.fault() == v1::FAULT_EXTRA_CATEGORIES) {
        *response->add_records() = r;
      }
    }
    if (config_.fault() == v1::FAULT_MALFORMED_FETCH) {
      ::accord::v1::Record* bad = response->add_records();
      bad->set_data_category(::accord::v1::DATA_CATEGORY_IDENTITY);
      bad->mutable_identity()->set_given_name("Jord\xff\xfe");  // Latin-1 bytes, not UTF-8
    }
    return absl::OkStatus();
  }

 private:
  explicit FixtureAdapter(v1::FixtureConfig config) : config_(std::move(config)) {}
  const v1::FixtureConfig config_;
};

}  // namespace
}  // namespace accord::test

ACCORD_PLUGIN(accord::test::FixtureAdapter, accord::test::v1::FixtureConfig)
