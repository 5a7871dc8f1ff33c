// The referral side of the shipped adapters across the real process boundary: csv_dropfolder and
// fhir_health each run in their own accord-plugin-host, supervised by the hub's plugin layer, and
// are called as the hub's referral outbox calls them (deliver, deliver again, poll for decisions).
// (The hub's ReferralService drives these calls once it is served; this test drives them directly.)
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hub/plugins/adapters.h"
#include "hub/plugins/library.h"

namespace accord {
namespace {

namespace fs = std::filesystem;
using plugins::AdapterState;

std::string Read(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

v1::Referral Referral(const std::string& id) {
  v1::Referral r;
  r.set_name("referrals/" + id);
  r.set_service("services/brightside-mentoring");
  r.set_referrer("partners/oakfield-primary");
  r.set_subject("subjects/s-1");
  v1::Need* need = r.add_needs();
  need->set_type(v1::NEED_TYPE_SOCIAL_ISOLATION);
  need->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
  r.set_background("Jordan has been on his own at break times since the move, \"he says it's fine\".");
  r.set_urgency(v1::URGENCY_ROUTINE);
  r.set_consent("consents/c-1");
  r.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  return r;
}

class ReferralAdaptersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / absl::StrCat("accord-referral-adapters-", getpid());
    for (const char* d : {"csv/out", "csv/in", "fhir/out", "fhir/in", "logs"}) fs::create_directories(root_ / d);
    auto settings = [&](const std::string& partner, const std::string& library, const std::string& config) {
      plugins::PluginSettings p;
      p.partner_id = partner;
      p.library = library;
      p.sha256 = *plugins::FileSha256(library);
      p.config_json = config;
      return p;
    };
    std::vector<plugins::PluginSettings> all = {
        settings("brightside-mentoring", ACCORD_CSV_DROPFOLDER_PLUGIN,
                 absl::StrCat(R"({"outboundFolder": ")", (root_ / "csv/out").string(), R"(", "inboundFolder": ")",
                              (root_ / "csv/in").string(), R"("})")),
        settings("riverside-camhs", ACCORD_FHIR_HEALTH_PLUGIN,
                 absl::StrCat(R"({"outboundFolder": ")", (root_ / "fhir/out").string(), R"(", "inboundFolder": ")",
                              (root_ / "fhir/in").string(), R"("})"))};
    auto started = plugins::Adapters::Start(std::move(all), ACCORD_PLUGIN_HOST, root_ / "logs",
                                            [](const std::string&, AdapterState, const std::string&) {});
    ASSERT_TRUE(started.ok()) << started.status();
    adapters_ = std::move(*started);
    for (const char* partner : {"brightside-mentoring", "riverside-camhs"}) {
      plugins::PartnerAdapter* a = adapters_->Find(partner);
      ASSERT_NE(a, nullptr);
      auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
      while (a->state() != AdapterState::kAvailable && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
      ASSERT_EQ(a->state(), AdapterState::kAvailable)
          << partner << ": " << Read(root_ / "logs" / (std::string(partner) + ".log"));
    }
  }
  void TearDown() override {
    adapters_.reset();
    fs::remove_all(root_);
  }

  template <typename Response, typename Request>
  absl::StatusOr<Response> Call(const std::string& partner, plugin::v1::Method method, const Request& request) {
    return plugins::Call<Response>(*adapters_->Find(partner), method, request, absl::Now() + absl::Seconds(5));
  }

  fs::path root_;
  std::unique_ptr<plugins::Adapters> adapters_;
};

TEST_F(ReferralAdaptersTest, AReferralReachesTheProvidersCsvOnceAndItsDecisionComesBack) {
  plugin::v1::DeliverReferralRequest deliver;
  *deliver.mutable_referral() = Referral("r-100");
  auto delivered =
      Call<plugin::v1::DeliverReferralResponse>("brightside-mentoring", plugin::v1::METHOD_DELIVER_REFERRAL, deliver);
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  // The outbox delivers at least once: the retry changes nothing.
  auto again =
      Call<plugin::v1::DeliverReferralResponse>("brightside-mentoring", plugin::v1::METHOD_DELIVER_REFERRAL, deliver);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->external_id(), delivered->external_id());
  const std::string csv = Read(root_ / "csv/out" / "referral-r-100.csv");
  EXPECT_NE(csv.find("\"Jordan has been on his own at break times since the move, \"\"he says it's fine\"\".\""),
            std::string::npos)
      << csv;
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "csv/out"), fs::directory_iterator()), 1);

  // The provider's coordinator saves the decisions sheet (one row mistyped).
  std::ofstream(root_ / "csv/in" / "decisions-2025-05-01.csv")
      << "referral_id,status,reason\r\nr-100,accepted,Mentor matched: starts Tuesday\r\nr-101,acepted,\r\n";
  plugin::v1::PollStatusChangesRequest poll;
  auto changes =
      Call<plugin::v1::PollStatusChangesResponse>("brightside-mentoring", plugin::v1::METHOD_POLL_STATUS_CHANGES, poll);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->changes_size(), 1);
  EXPECT_EQ(changes->changes(0).referral(), "referrals/r-100");
  EXPECT_EQ(changes->changes(0).state(), v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(changes->changes(0).reason(), "Mentor matched: starts Tuesday");
  const std::string rejected = Read(root_ / "csv/in/quarantine/decisions-2025-05-01.csv.rejected.csv");
  EXPECT_NE(rejected.find("3,\"status \"\"acepted\"\" is not one of"), std::string::npos) << rejected;
}

TEST_F(ReferralAdaptersTest, AReferralReachesTheHealthSystemAsAServiceRequestAndItsTaskComesBack) {
  plugin::v1::DeliverReferralRequest deliver;
  *deliver.mutable_referral() = Referral("r-200");
  auto delivered =
      Call<plugin::v1::DeliverReferralResponse>("riverside-camhs", plugin::v1::METHOD_DELIVER_REFERRAL, deliver);
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  EXPECT_EQ(delivered->external_id(), "ServiceRequest/r-200");
  const std::string bundle = Read(root_ / "fhir/out" / "referral-r-200.json");
  EXPECT_NE(bundle.find("\"resourceType\": \"ServiceRequest\""), std::string::npos);
  EXPECT_NE(bundle.find("\"resourceType\": \"Task\""), std::string::npos);

  std::ofstream(root_ / "fhir/in" / "0001.json")
      << R"({"resourceType": "Task", "id": "task-r-200", "status": "rejected", "intent": "order",)"
      << R"( "focus": {"reference": "ServiceRequest/r-200"}, "statusReason": {"text": "Below CAMHS threshold"}})";
  auto changes = Call<plugin::v1::PollStatusChangesResponse>("riverside-camhs", plugin::v1::METHOD_POLL_STATUS_CHANGES,
                                                             plugin::v1::PollStatusChangesRequest());
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->changes_size(), 1);
  EXPECT_EQ(changes->changes(0).referral(), "referrals/r-200");
  EXPECT_EQ(changes->changes(0).state(), v1::REFERRAL_STATE_DECLINED);
  EXPECT_EQ(changes->changes(0).reason(), "Below CAMHS threshold");
  EXPECT_EQ(changes->next_cursor(), "0001.json");
}

}  // namespace
}  // namespace accord
