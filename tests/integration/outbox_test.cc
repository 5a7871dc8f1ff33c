// The referral outbox against a real hub: a provider whose system is reached through its plugin (in
// its own plugin host) receives referrals durably, at least once and exactly once in effect, across
// hub restarts; failures back off and dead-letter; an admin re-drives; withdrawn consent cancels;
// and decisions made in the provider's own system come back into the referral.
#include <grpcpp/grpcpp.h>
#include <signal.h>

#include <chrono>
#include <fstream>
#include <functional>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "accord/plugin/v1/adapter.pb.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/directory.grpc.pb.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "accord/v1/referral.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "gtest/gtest.h"
#include "hub/plugins/library.h"
#include "tests/support/hub_process.h"
#include "tests/support/temp_dir.h"

namespace accord {
namespace {

namespace fs = std::filesystem;
using testsupport::HubProcess;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  return ctx;
}

bool Contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

// Polls `done` every 50 ms for up to 20 s.
bool Eventually(const std::function<bool()>& done) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (std::chrono::steady_clock::now() < deadline) {
    if (done()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return done();
}

class OutboxTest : public ::testing::Test {
 protected:
  // The provider's system: a folder that exists only while the system is "up".
  fs::path SystemFolder() const { return system_.path() / "brightside-system"; }

  // `plugin` and its `config` (JSON) adapt Brightside's system; the test fixture by default.
  void StartHub(int max_attempts, std::string plugin = ACCORD_FIXTURE_PLUGIN, std::string config = "") {
    if (config.empty()) config = absl::StrCat(R"({"deliveriesFolder": ")", SystemFolder().string(), R"("})");
    hub_ = std::make_unique<HubProcess>(absl::StrCat(
        R"("plugins": [{"partner": "brightside", "library": ")", plugin, R"(", "sha256": ")",
        *plugins::FileSha256(plugin), R"(", "outboxMaxAttempts": )", max_attempts,
        R"(, "outboxInitialBackoffMs": 100, "outboxMaxBackoffMs": 300, "statusPollIntervalMs": 100,
           "restartInitialBackoffMs": 50, "restartMaxBackoffMs": 100, "config": )", config, "}]"));
    admin_ = hub_->Enrol("ops", "Operations", "LOCAL_AUTHORITY", "ADMIN");
    school_ = hub_->Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    provider_ = hub_->Enrol("brightside", "Brightside Mentoring", "VOLUNTARY", "PROVIDER");
    dpo_ = hub_->Enrol("dpo", "County DPO", "LOCAL_AUTHORITY", "DPO");
    ASSERT_TRUE(hub_->Start()) << hub_->Log();

    auto admin = v1::PartnerAdmin::NewStub(hub_->Channel(admin_));
    for (auto [from, to] : {std::pair{v1::SECTOR_SCHOOL, v1::SECTOR_VOLUNTARY}, std::pair{v1::SECTOR_VOLUNTARY, v1::SECTOR_SCHOOL}}) {
      v1::CreateSharingAgreementRequest req;
      v1::SharingAgreement* a = req.mutable_sharing_agreement();
      a->mutable_discloser()->set_sector(from);
      a->mutable_recipient()->set_sector(to);
      a->add_purposes(v1::PURPOSE_REFERRAL);
      a->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
      a->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
      a->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 365)));
      v1::CreateSharingAgreementResponse made;
      ASSERT_TRUE(admin->CreateSharingAgreement(Ctx().get(), req, &made).ok());
    }
    v1::ResolveSubjectRequest resolve;
    resolve.mutable_identifiers()->set_nhs_number("9434765919");
    resolve.mutable_demographics()->set_given_name("Jordan");
    resolve.mutable_demographics()->set_family_name("Price");
    resolve.mutable_demographics()->set_birth_date("2013-04-02");
    v1::ResolveSubjectResponse resolved;
    ASSERT_TRUE(v1::SubjectService::NewStub(hub_->Channel(school_))->ResolveSubject(Ctx().get(), resolve, &resolved).ok());
    subject_ = resolved.subject().name();

    v1::PublishServiceRequest publish;
    publish.set_service_id("mentoring");
    ::accord::v1::Service* s = publish.mutable_service();
    s->set_display_name("Brightside Mentoring");
    s->set_description("One-to-one mentoring for young people in Leeds.");
    s->mutable_eligibility()->set_minimum_age(8);
    s->mutable_eligibility()->set_maximum_age(18);
    s->mutable_eligibility()->add_need_types(v1::NEED_TYPE_ANXIETY);
    s->mutable_eligibility()->set_maximum_level_of_need(v1::LEVEL_OF_NEED_TARGETED);
    s->add_service_areas()->add_local_authorities("E08000035");
    s->mutable_availability()->set_accepting_referrals(true);
    v1::PublishServiceResponse published;
    grpc::Status st = v1::DirectoryService::NewStub(hub_->Channel(provider_))->PublishService(Ctx().get(), publish, &published);
    ASSERT_TRUE(st.ok()) << st.error_message();

    v1::RecordConsentRequest consent;
    v1::Consent* c = consent.mutable_consent();
    c->set_subject(subject_);
    c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
    c->add_purposes(v1::PURPOSE_REFERRAL);
    c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    c->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
    c->add_recipients()->set_sector(v1::SECTOR_VOLUNTARY);
    c->add_recipients()->set_partner("partners/oakfield");
    c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 90)));
    c->set_evidence("Mother signed the referral form");
    v1::RecordConsentResponse recorded;
    ASSERT_TRUE(v1::ConsentService::NewStub(hub_->Channel(school_))->RecordConsent(Ctx().get(), consent, &recorded).ok());
    consent_ = recorded.consent().name();
  }

  std::string Submit() {
    v1::SubmitReferralRequest req;
    v1::Referral* r = req.mutable_referral();
    r->set_service("services/mentoring");
    r->set_subject(subject_);
    v1::Need* n = r->add_needs();
    n->set_type(v1::NEED_TYPE_ANXIETY);
    n->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
    r->set_background("Worried about moving to secondary school; has stopped going to clubs.");
    r->set_urgency(v1::URGENCY_ROUTINE);
    r->set_consent(consent_);
    r->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    r->set_idempotency_key("0b6e3a52-6f1e-4d7e-9c39-5f3c1f0a7d11");
    v1::SubmitReferralResponse resp;
    grpc::Status s = v1::ReferralService::NewStub(hub_->Channel(school_))->SubmitReferral(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.referral().name();
  }

  std::string Outbox(const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"outbox", "list"};
    args.insert(args.end(), extra.begin(), extra.end());
    std::string out;
    EXPECT_EQ(hub_->Accordctl(args, &out), 0) << out;
    return out;
  }

  v1::ReferralState StateSeenByTheSchool(const std::string& referral) {
    v1::GetReferralRequest req;
    req.set_name(referral);
    v1::GetReferralResponse resp;
    grpc::Status s = v1::ReferralService::NewStub(hub_->Channel(school_))->GetReferral(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.referral().state();
  }

  int FilesIn(const fs::path& folder, const std::string& ext) {
    int n = 0;
    std::error_code ec;
    for (const auto& e : fs::directory_iterator(folder, ec)) n += e.path().extension() == ext;
    return n;
  }

  std::vector<v1::SharingEvent> Events() {
    v1::QueryEventsRequest req;
    req.set_subject(subject_);
    req.set_page_size(1000);
    v1::QueryEventsResponse resp;
    EXPECT_TRUE(v1::AuditService::NewStub(hub_->Channel(dpo_))->QueryEvents(Ctx().get(), req, &resp).ok());
    std::vector<v1::SharingEvent> out;
    for (const auto& e : resp.events()) out.push_back(e.event());
    return out;
  }

  testsupport::TempDir system_;
  std::unique_ptr<HubProcess> hub_;
  fs::path admin_, school_, provider_, dpo_;
  std::string subject_, consent_;
};

TEST_F(OutboxTest, DeliversOnceIntoThePartnersSystemAcrossAHubRestart) {
  StartHub(/*max_attempts=*/50);
  const std::string referral = Submit();
  // The system is down: attempts fail and back off.
  ASSERT_TRUE(Eventually([&] { return Contains(Outbox(), "attempts 2"); })) << Outbox();
  EXPECT_TRUE(Contains(Outbox(), "PENDING")) << Outbox();
  EXPECT_TRUE(Contains(Outbox(), "the record system is offline")) << Outbox();
  EXPECT_EQ(StateSeenByTheSchool(referral), v1::REFERRAL_STATE_SUBMITTED);

  // The hub stops between attempts; the system comes back; the restarted hub delivers.
  ASSERT_EQ(hub_->Stop(SIGTERM), 0) << hub_->Log();
  fs::create_directories(SystemFolder());
  ASSERT_TRUE(hub_->Start()) << hub_->Log();
  ASSERT_TRUE(Eventually([&] { return Contains(Outbox(), "DELIVERED"); })) << Outbox() << hub_->Log();
  EXPECT_TRUE(Contains(Outbox(), "their id EXT-")) << Outbox();
  EXPECT_TRUE(Eventually([&] { return StateSeenByTheSchool(referral) == v1::REFERRAL_STATE_DELIVERED; }));

  // Exactly one referral in the partner's system, carrying who the child is (IDENTITY allowed).
  ASSERT_EQ(FilesIn(SystemFolder(), ".referral"), 1);
  const std::string id = referral.substr(referral.rfind('/') + 1);
  std::ifstream in(SystemFolder() / (id + ".referral"), std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  plugin::v1::DeliverReferralRequest delivered;
  ASSERT_TRUE(delivered.ParseFromString(bytes.str()));
  EXPECT_EQ(delivered.referral().name(), referral);
  EXPECT_EQ(delivered.identifiers().nhs_number(), "9434765919");
  EXPECT_EQ(delivered.demographics().given_name(), "Jordan");
  EXPECT_EQ(delivered.referral().background(), "Worried about moving to secondary school; has stopped going to clubs.");

  // Each attempt was decided and logged as a disclosure to the provider.
  int disclosures = 0;
  for (const v1::SharingEvent& e : Events()) {
    if (e.kind() == v1::EVENT_KIND_DISCLOSURE && e.recipient() == "partners/brightside" &&
        Contains(e.request(), "WatchInbox")) {
      ++disclosures;
    }
  }
  EXPECT_GE(disclosures, 3);
}

TEST_F(OutboxTest, DeadLettersAfterItsLastTryAndAnAdminRedrives) {
  StartHub(/*max_attempts=*/2);
  const std::string referral = Submit();
  ASSERT_TRUE(Eventually([&] { return Contains(Outbox({"--state", "DEAD"}), "1 delivery DEAD"); })) << Outbox();
  std::string dead = Outbox({"--state", "dead"});
  EXPECT_TRUE(Contains(dead, "attempts 2")) << dead;
  EXPECT_TRUE(Contains(dead, "the record system is offline")) << dead;
  EXPECT_TRUE(Contains(hub_->Log(), "event=outbox_dead_letter")) << hub_->Log();
  // Dead stays dead: nothing is tried while the system is back.
  fs::create_directories(SystemFolder());
  std::this_thread::sleep_for(std::chrono::milliseconds(600));
  EXPECT_EQ(FilesIn(SystemFolder(), ".referral"), 0);

  const std::string item = dead.substr(2, dead.find(' ', 2) - 2);
  std::string out;
  ASSERT_EQ(hub_->Accordctl({"outbox", "redrive", "--id", item}, &out), 0) << out;
  EXPECT_TRUE(Contains(out, "PENDING again")) << out;
  ASSERT_TRUE(Eventually([&] { return Contains(Outbox(), "DELIVERED"); })) << Outbox();
  EXPECT_EQ(FilesIn(SystemFolder(), ".referral"), 1);

  // Bad input: precise messages, nothing changed.
  EXPECT_EQ(hub_->Accordctl({"outbox", "redrive", "--id", item}, &out), 1);
  EXPECT_TRUE(Contains(out, "is DELIVERED, not DEAD")) << out;
  EXPECT_EQ(hub_->Accordctl({"outbox", "redrive", "--id", "9999"}, &out), 1);
  EXPECT_TRUE(Contains(out, "no outbox item 9999")) << out;
  EXPECT_EQ(hub_->Accordctl({"outbox", "redrive", "--id", "first"}, &out), 2);
  EXPECT_EQ(hub_->Accordctl({"outbox", "list", "--state", "LOST"}, &out), 2);
  EXPECT_TRUE(Contains(out, "--state: unknown state")) << out;
  EXPECT_EQ(FilesIn(SystemFolder(), ".referral"), 1);
}

TEST_F(OutboxTest, WithdrawnConsentCancelsAnUndeliveredReferral) {
  StartHub(/*max_attempts=*/50);
  const std::string referral = Submit();
  ASSERT_TRUE(Eventually([&] { return Contains(Outbox(), "attempts 1"); })) << Outbox();
  v1::WithdrawConsentRequest withdraw;
  withdraw.set_name(consent_);
  withdraw.set_reason("Mother phoned: she wants to talk to the school first");
  v1::WithdrawConsentResponse withdrawn;
  ASSERT_TRUE(v1::ConsentService::NewStub(hub_->Channel(school_))->WithdrawConsent(Ctx().get(), withdraw, &withdrawn).ok());
  fs::create_directories(SystemFolder());
  ASSERT_TRUE(Eventually([&] { return Contains(Outbox(), "CANCELLED"); })) << Outbox();
  EXPECT_TRUE(Contains(Outbox(), "sharing refused at delivery")) << Outbox();
  EXPECT_EQ(FilesIn(SystemFolder(), ".referral"), 0);
  bool refusal_logged = false;
  for (const v1::SharingEvent& e : Events()) {
    if (e.kind() != v1::EVENT_KIND_REFUSAL || e.recipient() != "partners/brightside") continue;
    for (const std::string& code : e.reason_codes()) refusal_logged |= code == "CONSENT_WITHDRAWN";
  }
  EXPECT_TRUE(refusal_logged);
  EXPECT_EQ(StateSeenByTheSchool(referral), v1::REFERRAL_STATE_SUBMITTED);
}

TEST_F(OutboxTest, DecisionsMadeInThePartnersSystemComeBack) {
  fs::create_directories(SystemFolder());
  StartHub(/*max_attempts=*/5);
  const std::string referral = Submit();
  ASSERT_TRUE(Eventually([&] { return StateSeenByTheSchool(referral) == v1::REFERRAL_STATE_DELIVERED; }));
  auto report = [&](const std::string& line) { std::ofstream(SystemFolder() / "status.log", std::ios::app) << line << "\n"; };
  report(referral + " ACCEPTED");
  report(referral + " ACTIVE");
  ASSERT_TRUE(Eventually([&] { return StateSeenByTheSchool(referral) == v1::REFERRAL_STATE_ACTIVE; })) << hub_->Log();
  // A change the state machine refuses is reported and passed over.
  report(referral + " DECLINED Family moved away");
  report(referral + " CLOSED Goals met after ten sessions");
  ASSERT_TRUE(Eventually([&] { return StateSeenByTheSchool(referral) == v1::REFERRAL_STATE_CLOSED; })) << hub_->Log();
  EXPECT_TRUE(Contains(hub_->Log(), "event=outbox_status_change_refused")) << hub_->Log();
  // The poll cursor is kept: after a restart nothing is applied twice.
  ASSERT_EQ(hub_->Stop(SIGTERM), 0);
  ASSERT_TRUE(hub_->Start());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  std::string log = hub_->Log();
  EXPECT_EQ(log.find("event=outbox_status_change_refused"), log.rfind("event=outbox_status_change_refused")) << log;
  EXPECT_EQ(StateSeenByTheSchool(referral), v1::REFERRAL_STATE_CLOSED);
}

TEST_F(OutboxTest, APluginThatCrashesOnDeliveryIsRetriedThenDeadLetteredAndTheHubStaysUp) {
  fs::create_directories(SystemFolder());
  StartHub(/*max_attempts=*/3, ACCORD_FIXTURE_PLUGIN,
           absl::StrCat(R"({"fault": "FAULT_SEGFAULT_ON_DELIVER", "deliveriesFolder": ")", SystemFolder().string(),
                        R"("})"));
  const std::string referral = Submit();
  ASSERT_TRUE(Eventually([&] { return Contains(Outbox({"--state", "DEAD"}), "1 delivery DEAD"); })) << hub_->Log();
  std::string dead = Outbox({"--state", "DEAD"});
  EXPECT_TRUE(Contains(dead, "attempts 3")) << dead;
  EXPECT_TRUE(Contains(dead, "stopped during the call")) << dead;
  EXPECT_TRUE(Contains(hub_->Log(), "killed by signal 11")) << hub_->Log();
  EXPECT_TRUE(hub_->running());
  EXPECT_EQ(StateSeenByTheSchool(referral), v1::REFERRAL_STATE_SUBMITTED);  // nothing is lost: still there
}

// The shipped CSV adapter as the provider's system: the referral appears as a CSV file in its
// outbound folder; a decision typed into an inbound CSV file comes back into the referral.
TEST_F(OutboxTest, ACsvDropFolderProviderGetsTheReferralAndItsDecisionComesBack) {
  const fs::path out = SystemFolder() / "outbound", in = SystemFolder() / "inbound";
  fs::create_directories(out);
  fs::create_directories(in);
  StartHub(/*max_attempts=*/5, ACCORD_CSV_PLUGIN,
           absl::StrCat(R"({"outboundFolder": ")", out.string(), R"(", "inboundFolder": ")", in.string(), R"("})"));
  const std::string referral = Submit();
  const std::string id = referral.substr(referral.rfind('/') + 1);
  ASSERT_TRUE(Eventually([&] { return FilesIn(out, ".csv") == 1; })) << hub_->Log();
  std::ifstream csv(out / ("referral-" + id + ".csv"));
  std::stringstream text;
  text << csv.rdbuf();
  EXPECT_TRUE(Contains(text.str(), "referral_id,")) << text.str();
  EXPECT_TRUE(Contains(text.str(), id + ",services/mentoring,partners/oakfield")) << text.str();
  ASSERT_TRUE(Eventually([&] { return StateSeenByTheSchool(referral) == v1::REFERRAL_STATE_DELIVERED; }));

  std::ofstream(in / ".decision.csv") << "referral_id,status,reason\r\n" << id << ",accepted,Mentor found\r\n";
  fs::rename(in / ".decision.csv", in / "decision.csv");
  ASSERT_TRUE(Eventually([&] { return StateSeenByTheSchool(referral) == v1::REFERRAL_STATE_ACCEPTED; })) << hub_->Log();
  EXPECT_EQ(FilesIn(out, ".csv"), 1);  // delivered once
}

}  // namespace
}  // namespace accord
