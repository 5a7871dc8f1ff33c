// ReferralService over real mTLS with separate partner credentials: the whole story from a
// directory search to closed support with outcomes, the inbox stream cut and resumed, consent
// withdrawn mid-way, retried submissions, concurrent referrals, and every refusal.
#include <grpcpp/grpcpp.h>

#include <signal.h>

#include <algorithm>
#include <thread>

#include "absl/strings/match.h"
#include "absl/time/clock.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/directory.grpc.pb.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "accord/v1/referral.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 10) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

void ExpectCode(const grpc::Status& s, grpc::StatusCode code, const std::string& prefix = "") {
  EXPECT_EQ(s.error_code(), code) << s.error_message();
  if (!prefix.empty()) {
    EXPECT_EQ(s.error_message().rfind(prefix, 0), 0u) << "want " << prefix << " first in: " << s.error_message();
  }
}

::accord::v1::Service MakeService(const std::string& name, std::vector<v1::NeedType> needs, v1::LevelOfNeed max_level) {
  ::accord::v1::Service s;
  s.set_display_name(name);
  s.set_description("Support for children and families in Leeds.");
  v1::Eligibility* e = s.mutable_eligibility();
  e->set_minimum_age(5);
  e->set_maximum_age(18);
  for (auto n : needs) e->add_need_types(n);
  e->set_maximum_level_of_need(max_level);
  s.add_service_areas()->add_local_authorities("E08000035");
  s.mutable_availability()->set_accepting_referrals(true);
  s.mutable_availability()->set_capacity(2);
  s.mutable_availability()->mutable_waiting_time()->set_seconds(14 * 86400);
  return s;
}

// A stream reader that keeps the items it received and can be cut.
class InboxWatch {
 public:
  InboxWatch(v1::ReferralService::Stub& stub, const std::string& cursor) {
    ctx_.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
    v1::WatchInboxRequest req;
    req.set_cursor(cursor);
    reader_ = stub.WatchInbox(&ctx_, req);
  }
  ~InboxWatch() { Cut(); }
  // The next item; fails the test when the stream ends first.
  v1::WatchInboxResponse Next() {
    v1::WatchInboxResponse item;
    EXPECT_TRUE(reader_->Read(&item)) << "the inbox stream ended";
    return item;
  }
  void Cut() {
    if (!reader_) return;
    ctx_.TryCancel();
    v1::WatchInboxResponse ignored;
    while (reader_->Read(&ignored)) {
    }
    reader_->Finish();
    reader_.reset();
  }

 private:
  grpc::ClientContext ctx_;
  std::unique_ptr<grpc::ClientReader<v1::WatchInboxResponse>> reader_;
};

class ReferralTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto admin = hub_.Enrol("ops", "Accord Operations", "LOCAL_AUTHORITY", "ADMIN");
    auto school = hub_.Enrol("oakfield", "Oakfield High School", "SCHOOL", "REFERRER");
    auto counselling = hub_.Enrol("counselling", "Oakfield Counselling Trust", "VOLUNTARY", "PROVIDER");
    auto mentoring = hub_.Enrol("mentoring", "Northside Mentoring", "VOLUNTARY", "PROVIDER");
    auto early_help = hub_.Enrol("earlyhelp", "Leeds Early Help", "EARLY_HELP", "PROVIDER,REFERRER");
    auto dpo = hub_.Enrol("dpo", "County DPO", "LOCAL_AUTHORITY", "DPO");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    school_ = v1::ReferralService::NewStub(hub_.Channel(school));
    counselling_ = v1::ReferralService::NewStub(hub_.Channel(counselling));
    mentoring_ = v1::ReferralService::NewStub(hub_.Channel(mentoring));
    early_help_ = v1::ReferralService::NewStub(hub_.Channel(early_help));
    school_directory_ = v1::DirectoryService::NewStub(hub_.Channel(school));
    school_consents_ = v1::ConsentService::NewStub(hub_.Channel(school));
    dpo_ = v1::AuditService::NewStub(hub_.Channel(dpo));

    // Schools, voluntary providers and early help may share for referral and multi-agency
    // planning, in every direction the story needs.
    auto admin_stub = v1::PartnerAdmin::NewStub(hub_.Channel(admin));
    std::vector<std::pair<v1::Sector, v1::Sector>> pairs = {
        {v1::SECTOR_SCHOOL, v1::SECTOR_VOLUNTARY},     {v1::SECTOR_SCHOOL, v1::SECTOR_EARLY_HELP},
        {v1::SECTOR_VOLUNTARY, v1::SECTOR_SCHOOL},     {v1::SECTOR_EARLY_HELP, v1::SECTOR_SCHOOL},
        {v1::SECTOR_VOLUNTARY, v1::SECTOR_VOLUNTARY},  {v1::SECTOR_VOLUNTARY, v1::SECTOR_EARLY_HELP},
        {v1::SECTOR_EARLY_HELP, v1::SECTOR_VOLUNTARY},
    };
    for (auto [from, to] : pairs) {
      v1::CreateSharingAgreementRequest req;
      v1::SharingAgreement* a = req.mutable_sharing_agreement();
      a->mutable_discloser()->set_sector(from);
      a->mutable_recipient()->set_sector(to);
      a->add_purposes(v1::PURPOSE_REFERRAL);
      a->add_purposes(v1::PURPOSE_MULTI_AGENCY_PLANNING);
      for (auto c : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_MENTAL_HEALTH}) {
        a->add_data_categories(c);
      }
      a->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 365)));
      v1::CreateSharingAgreementResponse made;
      grpc::Status s = admin_stub->CreateSharingAgreement(Ctx().get(), req, &made);
      ASSERT_TRUE(s.ok()) << s.error_message();
    }

    v1::ResolveSubjectRequest resolve;
    resolve.mutable_identifiers()->set_nhs_number("9434765919");
    v1::ResolveSubjectResponse resolved;
    ASSERT_TRUE(v1::SubjectService::NewStub(hub_.Channel(school))->ResolveSubject(Ctx().get(), resolve, &resolved).ok());
    subject_ = resolved.subject().name();

    PublishAs(counselling, "counselling", MakeService("Oakfield Young People's Counselling",
                                                      {v1::NEED_TYPE_ANXIETY, v1::NEED_TYPE_LOW_MOOD},
                                                      v1::LEVEL_OF_NEED_TARGETED));
    PublishAs(mentoring, "mentoring", MakeService("Northside Mentoring", {v1::NEED_TYPE_ANXIETY},
                                                  v1::LEVEL_OF_NEED_TARGETED));
    PublishAs(early_help, "early-help", MakeService("Leeds Early Help Family Support",
                                                    {v1::NEED_TYPE_ANXIETY, v1::NEED_TYPE_FAMILY_CONFLICT},
                                                    v1::LEVEL_OF_NEED_TARGETED));
  }

  void PublishAs(const std::filesystem::path& bundle, const std::string& id, const ::accord::v1::Service& service) {
    v1::PublishServiceRequest req;
    *req.mutable_service() = service;
    req.set_service_id(id);
    v1::PublishServiceResponse resp;
    grpc::Status s = v1::DirectoryService::NewStub(hub_.Channel(bundle))->PublishService(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  // The family's consent, recorded by the school: referral and multi-agency planning, identity,
  // education and mental health, to voluntary services, early help and back to the school.
  std::string RecordConsent() {
    v1::RecordConsentRequest req;
    v1::Consent* c = req.mutable_consent();
    c->set_subject(subject_);
    c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
    c->add_purposes(v1::PURPOSE_REFERRAL);
    c->add_purposes(v1::PURPOSE_MULTI_AGENCY_PLANNING);
    for (auto cat : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_MENTAL_HEALTH}) {
      c->add_data_categories(cat);
    }
    c->add_recipients()->set_sector(v1::SECTOR_VOLUNTARY);
    c->add_recipients()->set_sector(v1::SECTOR_EARLY_HELP);
    c->add_recipients()->set_partner("partners/oakfield");
    c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 180)));
    c->set_evidence("Mother signed the school's consent form at the meeting with the SENCO");
    v1::RecordConsentResponse resp;
    grpc::Status s = school_consents_->RecordConsent(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.consent().name();
  }

  void WithdrawConsent(const std::string& consent) {
    v1::WithdrawConsentRequest req;
    req.set_name(consent);
    req.set_reason("Family asked the school to stop sharing");
    v1::WithdrawConsentResponse resp;
    grpc::Status s = school_consents_->WithdrawConsent(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  v1::SubmitReferralRequest Referral(const std::string& service, const std::string& consent, const std::string& key) {
    v1::SubmitReferralRequest req;
    v1::Referral* r = req.mutable_referral();
    r->set_service(service);
    r->set_subject(subject_);
    v1::Need* n = r->add_needs();
    n->set_type(v1::NEED_TYPE_ANXIETY);
    n->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
    r->set_background("Panic attacks before lessons since September; attendance down to 82%.");
    r->set_urgency(v1::URGENCY_PRIORITY);
    r->set_consent(consent);
    r->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    r->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
    r->set_idempotency_key(key);
    return req;
  }

  v1::Referral Submit(const v1::SubmitReferralRequest& req, grpc::Status* status = nullptr) {
    v1::SubmitReferralResponse resp;
    grpc::Status s = school_->SubmitReferral(Ctx().get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp.referral();
  }

  template <typename Req, typename Resp>
  v1::Referral Change(v1::ReferralService::Stub& stub,
                      grpc::Status (v1::ReferralService::Stub::*rpc)(grpc::ClientContext*, const Req&, Resp*),
                      const Req& req, grpc::Status* status = nullptr) {
    Resp resp;
    grpc::Status s = (stub.*rpc)(Ctx().get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp.referral();
  }

  v1::Referral Acknowledge(v1::ReferralService::Stub& stub, const std::string& name, grpc::Status* status = nullptr) {
    v1::AcknowledgeDeliveryRequest req;
    req.set_name(name);
    return Change(stub, &v1::ReferralService::Stub::AcknowledgeDelivery, req, status);
  }
  v1::Referral Accept(v1::ReferralService::Stub& stub, const std::string& name, grpc::Status* status = nullptr) {
    v1::AcceptReferralRequest req;
    req.set_name(name);
    return Change(stub, &v1::ReferralService::Stub::AcceptReferral, req, status);
  }
  v1::Referral Start(v1::ReferralService::Stub& stub, const std::string& name, grpc::Status* status = nullptr) {
    v1::StartSupportRequest req;
    req.set_name(name);
    return Change(stub, &v1::ReferralService::Stub::StartSupport, req, status);
  }

  std::vector<v1::LoggedEvent> SubjectEvents() {
    v1::GetSubjectReportRequest req;
    req.set_subject(subject_);
    v1::GetSubjectReportResponse resp;
    grpc::Status s = dpo_->GetSubjectReport(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return {resp.events().begin(), resp.events().end()};
  }

  int Count(const std::vector<v1::LoggedEvent>& events, v1::EventKind kind) {
    return static_cast<int>(std::count_if(events.begin(), events.end(),
                                          [&](const v1::LoggedEvent& e) { return e.event().kind() == kind; }));
  }

  int ReferralCount(v1::ReferralService::Stub& stub) {
    v1::ListReferralsRequest req;
    v1::ListReferralsResponse resp;
    grpc::Status s = stub.ListReferrals(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.referrals_size();
  }

  HubProcess hub_;
  std::unique_ptr<v1::ReferralService::Stub> school_, counselling_, mentoring_, early_help_;
  std::unique_ptr<v1::DirectoryService::Stub> school_directory_;
  std::unique_ptr<v1::ConsentService::Stub> school_consents_;
  std::unique_ptr<v1::AuditService::Stub> dpo_;
  std::string subject_;
};

constexpr const char* kKey1 = "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c001";
constexpr const char* kKey2 = "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c002";
constexpr const char* kKey3 = "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c003";

TEST_F(ReferralTest, TheWholeStoryFromSearchToClosedSupport) {
  // The school searches the directory.
  v1::SearchServicesRequest search;
  v1::Need* need = search.add_needs();
  need->set_type(v1::NEED_TYPE_ANXIETY);
  need->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
  search.set_age_years(14);
  search.set_local_authority("E08000035");
  v1::SearchServicesResponse found;
  ASSERT_TRUE(school_directory_->SearchServices(Ctx().get(), search, &found).ok());
  ASSERT_EQ(found.matches_size(), 3);

  // Records consent and refers to counselling; a retry with the same key is the same referral.
  std::string consent = RecordConsent();
  v1::Referral first = Submit(Referral("services/counselling", consent, kKey1));
  EXPECT_EQ(first.state(), v1::REFERRAL_STATE_SUBMITTED);
  EXPECT_EQ(first.provider(), "partners/counselling");
  EXPECT_EQ(Submit(Referral("services/counselling", consent, kKey1)).name(), first.name());

  // Counselling's inbox stream receives it; the stream is cut.
  std::string cursor;
  {
    InboxWatch watch(*counselling_, "");
    v1::WatchInboxResponse item = watch.Next();
    EXPECT_EQ(item.referral().name(), first.name());
    EXPECT_EQ(item.state(), v1::REFERRAL_STATE_SUBMITTED);
    EXPECT_TRUE(item.withheld_reason().empty());
    EXPECT_EQ(item.referral().background(), "Panic attacks before lessons since September; attendance down to 82%.");
    EXPECT_TRUE(item.referral().idempotency_key().empty());
    cursor = item.cursor();
  }
  // While it is disconnected the school also refers to mentoring: both services are told.
  v1::Referral second = Submit(Referral("services/mentoring", consent, kKey2));
  ASSERT_EQ(second.state(), v1::REFERRAL_STATE_SUBMITTED);
  v1::GetReferralRequest get;
  get.set_name(second.name());
  v1::GetReferralResponse got;
  ASSERT_TRUE(mentoring_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_FALSE(got.referral().has_concurrent());  // not delivered yet: only that it exists
  EXPECT_TRUE(got.referral().background().empty());
  Acknowledge(*mentoring_, second.name());
  ASSERT_TRUE(mentoring_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_FALSE(got.referral().background().empty());
  ASSERT_EQ(got.referral().concurrent().services_size(), 1);
  EXPECT_EQ(got.referral().concurrent().services(0), "services/counselling");
  EXPECT_FALSE(got.referral().concurrent().suggestion().empty());
  // Resumed from the cursor: the next item is the notice, nothing before it again.
  {
    InboxWatch watch(*counselling_, cursor);
    v1::WatchInboxResponse item = watch.Next();
    EXPECT_EQ(item.referral().name(), first.name());
    ASSERT_EQ(item.concurrent().services_size(), 1);
    EXPECT_EQ(item.concurrent().services(0), "services/mentoring");
    EXPECT_NE(item.cursor(), cursor);
  }
  v1::WithdrawReferralRequest withdraw;
  withdraw.set_name(second.name());
  withdraw.set_reason("Agreed with the family that counselling leads");
  EXPECT_EQ(Change(*school_, &v1::ReferralService::Stub::WithdrawReferral, withdraw).state(),
            v1::REFERRAL_STATE_WITHDRAWN);

  // Counselling declines as above its threshold, redirecting to early help.
  EXPECT_EQ(Acknowledge(*counselling_, first.name()).state(), v1::REFERRAL_STATE_DELIVERED);
  v1::DeclineReferralRequest decline;
  decline.set_name(first.name());
  decline.mutable_decline()->set_reason(v1::DECLINE_REASON_ABOVE_THRESHOLD);
  decline.mutable_decline()->set_text("Family conflict at home needs a whole-family response first.");
  decline.mutable_decline()->set_redirect_service("services/early-help");
  EXPECT_EQ(Change(*counselling_, &v1::ReferralService::Stub::DeclineReferral, decline).state(),
            v1::REFERRAL_STATE_DECLINED);

  // The school's own inbox tells it, in order.
  {
    InboxWatch watch(*school_, "");
    std::vector<v1::ReferralState> states;
    for (int i = 0; i < 3; ++i) {  // mentoring's acknowledgement of the second, then the first's
      v1::WatchInboxResponse item = watch.Next();
      if (item.referral().name() == first.name()) states.push_back(item.state());
    }
    EXPECT_EQ(states, (std::vector<v1::ReferralState>{v1::REFERRAL_STATE_DELIVERED, v1::REFERRAL_STATE_DECLINED}));
  }
  get.set_name(first.name());
  ASSERT_TRUE(school_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.referral().decline().reason(), v1::DECLINE_REASON_ABOVE_THRESHOLD);
  EXPECT_EQ(got.referral().decline().redirect_service(), "services/early-help");
  EXPECT_EQ(got.referral().history_size(), 3);

  // The school re-refers to early help, linked to the declined referral.
  v1::SubmitReferralRequest again = Referral("services/early-help", consent, kKey3);
  again.mutable_referral()->set_previous_referral(first.name());
  again.mutable_referral()->set_link(v1::REFERRAL_LINK_REDIRECT);
  again.mutable_referral()->mutable_needs(0)->set_level(v1::LEVEL_OF_NEED_TARGETED);
  v1::Referral third = Submit(again);
  EXPECT_EQ(third.previous_referral(), first.name());

  // Early help receives it, waitlists, accepts, starts, records outcomes and closes.
  {
    InboxWatch watch(*early_help_, "");
    v1::WatchInboxResponse item = watch.Next();
    EXPECT_EQ(item.referral().name(), third.name());
    EXPECT_EQ(item.referral().needs(0).level(), v1::LEVEL_OF_NEED_TARGETED);
    // It carries what happened before, as structured facts.
    ASSERT_EQ(item.referral().earlier_referrals_size(), 1);
    EXPECT_EQ(item.referral().earlier_referrals(0).service(), "services/counselling");
    EXPECT_EQ(item.referral().earlier_referrals(0).state(), v1::REFERRAL_STATE_DECLINED);
    EXPECT_EQ(item.referral().earlier_referrals(0).decline_reason(), v1::DECLINE_REASON_ABOVE_THRESHOLD);
  }
  Acknowledge(*early_help_, third.name());
  grpc::Status s_bad;
  v1::WaitlistReferralRequest waitlist;
  waitlist.set_name(third.name());
  waitlist.mutable_expected_wait()->set_seconds(21 * 86400);
  waitlist.set_position(0);
  Change(*early_help_, &v1::ReferralService::Stub::WaitlistReferral, waitlist, &s_bad);
  ExpectCode(s_bad, grpc::StatusCode::INVALID_ARGUMENT, "position");
  waitlist.set_position(4);
  v1::Referral waiting = Change(*early_help_, &v1::ReferralService::Stub::WaitlistReferral, waitlist);
  EXPECT_EQ(waiting.state(), v1::REFERRAL_STATE_WAITLISTED);
  EXPECT_EQ(waiting.waitlist_position(), 4);
  EXPECT_EQ(waiting.expected_wait().seconds(), 21 * 86400);
  EXPECT_EQ(Accept(*early_help_, third.name()).state(), v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(Start(*early_help_, third.name()).state(), v1::REFERRAL_STATE_ACTIVE);
  v1::RecordOutcomeRequest outcomes;
  outcomes.set_referral(third.name());
  v1::OutcomeValue* swemwbs = outcomes.add_outcomes();
  swemwbs->set_measure(v1::OUTCOME_MEASURE_SWEMWBS);
  swemwbs->set_timepoint(v1::OUTCOME_TIMEPOINT_START);
  swemwbs->set_value(19);
  v1::RecordOutcomeResponse recorded;
  ASSERT_TRUE(early_help_->RecordOutcome(Ctx().get(), outcomes, &recorded).ok());
  v1::CloseReferralRequest close;
  close.set_name(third.name());
  close.mutable_closure()->set_reason(v1::CLOSURE_REASON_SUPPORT_COMPLETED);
  EXPECT_EQ(Change(*early_help_, &v1::ReferralService::Stub::CloseReferral, close).state(),
            v1::REFERRAL_STATE_CLOSED);
  swemwbs->set_timepoint(v1::OUTCOME_TIMEPOINT_CLOSE);
  swemwbs->set_value(26);
  ASSERT_TRUE(early_help_->RecordOutcome(Ctx().get(), outcomes, &recorded).ok());
  EXPECT_EQ(recorded.outcomes_size(), 2);

  v1::GetOutcomeReportRequest report_req;
  report_req.set_service("services/early-help");
  v1::GetOutcomeReportResponse report;
  ASSERT_TRUE(school_->GetOutcomeReport(Ctx().get(), report_req, &report).ok());
  ASSERT_EQ(report.measures_size(), 1);
  EXPECT_EQ(report.measures(0).paired_count(), 1);
  EXPECT_TRUE(report.measures(0).suppressed());  // one child: its score is not shown
  EXPECT_EQ(report.measures(0).means().mean_change(), 0);

  // The school sees its referral's history; outcomes stay with the provider.
  get.set_name(third.name());
  ASSERT_TRUE(school_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.referral().state(), v1::REFERRAL_STATE_CLOSED);
  EXPECT_EQ(got.referral().history_size(), 6);
  EXPECT_EQ(got.referral().outcomes_size(), 0);

  // The DPO's report: every disclosure in order, each on the family's consent.
  std::vector<std::string> disclosures;
  for (const v1::LoggedEvent& e : SubjectEvents()) {
    if (e.event().kind() != v1::EVENT_KIND_DISCLOSURE) continue;
    EXPECT_EQ(e.event().basis(), v1::BASIS_CONSENT) << e.event().request();
    ASSERT_EQ(e.event().consents_size(), 1) << e.event().request();
    EXPECT_EQ(e.event().consents(0), consent);
    EXPECT_FALSE(e.event().sharing_agreements().empty());
    disclosures.push_back(e.event().request() + " -> " + e.event().recipient());
  }
  std::vector<std::string> expected = {
      "SubmitReferral " + first.name() + " -> partners/counselling",
      "WatchInbox " + first.name() + " SUBMITTED -> partners/counselling",
      "SubmitReferral " + second.name() + " -> partners/mentoring",
      "WatchInbox " + first.name() + " SUBMITTED concurrent -> partners/counselling",
      "WithdrawReferral " + second.name() + " WITHDRAWN -> partners/mentoring",
      "AcknowledgeDelivery " + first.name() + " DELIVERED -> partners/oakfield",
      "DeclineReferral " + first.name() + " DECLINED -> partners/oakfield",
      "SubmitReferral " + third.name() + " -> partners/earlyhelp",
      "CloseReferral " + third.name() + " CLOSED -> partners/oakfield",
  };
  size_t at = 0;
  for (const std::string& d : disclosures) {
    if (at < expected.size() && absl::StrContains(d, expected[at])) ++at;
  }
  EXPECT_EQ(at, expected.size()) << "missing in order: " << (at < expected.size() ? expected[at] : "")
                                 << "\nlogged:\n" << [&] {
                                      std::string all;
                                      for (const auto& d : disclosures) all += d + "\n";
                                      return all;
                                    }();
}

TEST_F(ReferralTest, WithdrawnConsentBlocksTheNextDelivery) {
  std::string consent = RecordConsent();
  v1::Referral referral = Submit(Referral("services/counselling", consent, kKey1));
  WithdrawConsent(consent);
  InboxWatch watch(*counselling_, "");
  v1::WatchInboxResponse item = watch.Next();
  EXPECT_EQ(item.referral().name(), referral.name());
  EXPECT_TRUE(absl::StrContains(item.withheld_reason(), "CONSENT_WITHDRAWN")) << item.withheld_reason();
  EXPECT_TRUE(item.referral().background().empty());
  EXPECT_TRUE(item.referral().subject().empty());
  watch.Cut();
  // Nor can the provider read it another way, or take it into its system.
  v1::GetReferralRequest get;
  get.set_name(referral.name());
  v1::GetReferralResponse got;
  ASSERT_TRUE(counselling_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_TRUE(got.referral().background().empty());
  EXPECT_TRUE(got.referral().subject().empty());
  EXPECT_EQ(got.referral().needs_size(), 0);
  EXPECT_EQ(got.referral().state(), v1::REFERRAL_STATE_SUBMITTED);
  grpc::Status ack;
  Acknowledge(*counselling_, referral.name(), &ack);
  ExpectCode(ack, grpc::StatusCode::PERMISSION_DENIED, "name: sharing refused at delivery");
  ASSERT_TRUE(school_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.referral().state(), v1::REFERRAL_STATE_SUBMITTED);
  EXPECT_FALSE(got.referral().background().empty());  // the referrer's own
  std::vector<v1::LoggedEvent> events = SubjectEvents();
  ASSERT_FALSE(events.empty());
  bool refused = false;
  for (const auto& e : events) {
    if (e.event().kind() != v1::EVENT_KIND_REFUSAL) continue;
    refused |= absl::StrContains(e.event().request(), "WatchInbox") &&
              std::find(e.event().reason_codes().begin(), e.event().reason_codes().end(), "CONSENT_WITHDRAWN") !=
                  e.event().reason_codes().end();
  }
  EXPECT_TRUE(refused);
  // And a new submission is refused, logged, and stores nothing.
  grpc::Status s;
  Submit(Referral("services/counselling", consent, kKey2), &s);
  ExpectCode(s, grpc::StatusCode::PERMISSION_DENIED, "referral.data_categories");
  EXPECT_EQ(ReferralCount(*school_), 1);
}

TEST_F(ReferralTest, ConcurrentRetriesWithOneKeyCreateOneReferral) {
  std::string consent = RecordConsent();
  v1::SubmitReferralRequest req = Referral("services/counselling", consent, kKey1);
  std::vector<std::string> names(8);
  std::vector<std::thread> threads;
  for (size_t i = 0; i < names.size(); ++i) {
    threads.emplace_back([&, i] {
      auto stub = school_.get();
      v1::SubmitReferralResponse resp;
      grpc::Status s = stub->SubmitReferral(Ctx().get(), req, &resp);
      if (s.ok()) names[i] = resp.referral().name();
    });
  }
  for (auto& t : threads) t.join();
  for (const std::string& n : names) EXPECT_EQ(n, names[0]);
  EXPECT_FALSE(names[0].empty());
  EXPECT_EQ(ReferralCount(*school_), 1);
  EXPECT_EQ(ReferralCount(*counselling_), 1);
  std::vector<v1::LoggedEvent> events = SubjectEvents();
  int submits = 0;
  for (const auto& e : events) {
    submits += e.event().kind() == v1::EVENT_KIND_DISCLOSURE && absl::StrContains(e.event().request(), "SubmitReferral");
  }
  EXPECT_EQ(submits, 1);
  // The same key for a different referral is refused.
  req.mutable_referral()->set_background("Something else entirely.");
  grpc::Status s;
  Submit(req, &s);
  ExpectCode(s, grpc::StatusCode::ALREADY_EXISTS, "referral.idempotency_key");
}

TEST_F(ReferralTest, BadSubmissionsNameTheFieldStoreNothingAndDiscloseNothing) {
  std::string consent = RecordConsent();
  int disclosures_before = Count(SubjectEvents(), v1::EVENT_KIND_DISCLOSURE);
  grpc::Status s;
  Submit(Referral("services/nowhere", consent, kKey1), &s);
  ExpectCode(s, grpc::StatusCode::NOT_FOUND, "referral.service");
  v1::SubmitReferralRequest req = Referral("services/counselling", consent, kKey1);
  req.mutable_referral()->set_subject("subjects/unknownchild");
  Submit(req, &s);
  ExpectCode(s, grpc::StatusCode::NOT_FOUND, "referral.subject");
  req = Referral("services/counselling", consent, kKey1);
  req.mutable_referral()->mutable_needs(0)->set_level(static_cast<v1::LevelOfNeed>(9));
  Submit(req, &s);
  ExpectCode(s, grpc::StatusCode::INVALID_ARGUMENT, "referral.needs[0].level");
  Submit(Referral("services/counselling", consent, ""), &s);
  ExpectCode(s, grpc::StatusCode::INVALID_ARGUMENT, "referral.idempotency_key");
  Submit(Referral("services/counselling", "consents/nosuchconsent", kKey1), &s);
  ExpectCode(s, grpc::StatusCode::NOT_FOUND, "referral.consent");
  // A category the consent does not cover: refused by the decision, and the refusal is logged.
  req = Referral("services/counselling", consent, kKey1);
  req.mutable_referral()->add_data_categories(v1::DATA_CATEGORY_HEALTH);
  Submit(req, &s);
  ExpectCode(s, grpc::StatusCode::PERMISSION_DENIED, "referral.data_categories");
  EXPECT_TRUE(absl::StrContains(s.error_message(), "HEALTH")) << s.error_message();
  // A closed service.
  v1::UpdateAvailabilityRequest close;
  close.set_name("services/counselling");
  close.mutable_availability()->set_accepting_referrals(false);
  v1::UpdateAvailabilityResponse closed;
  auto counselling_dir = v1::DirectoryService::NewStub(hub_.Channel(hub_.data_dir() / "bundles/counselling"));
  ASSERT_TRUE(counselling_dir->UpdateAvailability(Ctx().get(), close, &closed).ok());
  Submit(Referral("services/counselling", consent, kKey1), &s);
  ExpectCode(s, grpc::StatusCode::FAILED_PRECONDITION, "referral.service");
  // A provider without ROLE_REFERRER cannot refer from scratch.
  v1::SubmitReferralResponse resp;
  ExpectCode(mentoring_->SubmitReferral(Ctx().get(), Referral("services/early-help", consent, kKey1), &resp),
             grpc::StatusCode::PERMISSION_DENIED);

  EXPECT_EQ(ReferralCount(*school_), 0);
  std::vector<v1::LoggedEvent> events = SubjectEvents();
  EXPECT_EQ(Count(events, v1::EVENT_KIND_DISCLOSURE), disclosures_before);
  EXPECT_EQ(Count(events, v1::EVENT_KIND_REFUSAL), 1);
}

TEST_F(ReferralTest, BadChangesAreRefusedInOrderAndNobodySeesAnotherPartnersReferrals) {
  std::string consent = RecordConsent();
  v1::Referral referral = Submit(Referral("services/counselling", consent, kKey1));
  grpc::Status s;
  // Another provider: not a party, so the referral does not exist for it.
  Acknowledge(*mentoring_, referral.name(), &s);
  ExpectCode(s, grpc::StatusCode::NOT_FOUND, "name");
  v1::GetReferralRequest get;
  get.set_name(referral.name());
  v1::GetReferralResponse got;
  ExpectCode(mentoring_->GetReferral(Ctx().get(), get, &got), grpc::StatusCode::NOT_FOUND, "name");
  EXPECT_EQ(ReferralCount(*mentoring_), 0);
  // The referrer cannot make the provider's changes; the school holds no ROLE_PROVIDER.
  Accept(*school_, referral.name(), &s);
  ExpectCode(s, grpc::StatusCode::PERMISSION_DENIED);
  // Early help is a provider but not this referral's: NOT_FOUND.
  Accept(*early_help_, referral.name(), &s);
  ExpectCode(s, grpc::StatusCode::NOT_FOUND);
  // Illegal transitions name the state.
  Start(*counselling_, referral.name(), &s);
  ExpectCode(s, grpc::StatusCode::FAILED_PRECONDITION, "referral is SUBMITTED; cannot start support");
  Acknowledge(*counselling_, referral.name());
  Acknowledge(*counselling_, referral.name(), &s);
  ExpectCode(s, grpc::StatusCode::FAILED_PRECONDITION, "referral is DELIVERED; cannot acknowledge delivery");
  // A decline without a reason.
  v1::DeclineReferralRequest decline;
  decline.set_name(referral.name());
  decline.mutable_decline()->set_text("no reason code");
  Change(*counselling_, &v1::ReferralService::Stub::DeclineReferral, decline, &s);
  ExpectCode(s, grpc::StatusCode::INVALID_ARGUMENT, "decline.reason");
  decline.mutable_decline()->set_reason(v1::DECLINE_REASON_OUT_OF_AREA);
  decline.mutable_decline()->set_redirect_service("services/nowhere");
  Change(*counselling_, &v1::ReferralService::Stub::DeclineReferral, decline, &s);
  ExpectCode(s, grpc::StatusCode::NOT_FOUND, "decline.redirect_service");
  // Outcomes: not before support starts; out of range refused naming the field.
  v1::RecordOutcomeRequest outcomes;
  outcomes.set_referral(referral.name());
  v1::OutcomeValue* v = outcomes.add_outcomes();
  v->set_measure(v1::OUTCOME_MEASURE_SWEMWBS);
  v->set_timepoint(v1::OUTCOME_TIMEPOINT_START);
  v->set_value(20);
  v1::RecordOutcomeResponse recorded;
  ExpectCode(counselling_->RecordOutcome(Ctx().get(), outcomes, &recorded), grpc::StatusCode::FAILED_PRECONDITION,
             "referral is DELIVERED; cannot record outcomes");
  Accept(*counselling_, referral.name());
  Start(*counselling_, referral.name());
  v->set_value(36);
  ExpectCode(counselling_->RecordOutcome(Ctx().get(), outcomes, &recorded), grpc::StatusCode::INVALID_ARGUMENT,
             "outcomes[0].value");
  v->set_measure(v1::OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES);
  v->set_value(41);
  ExpectCode(counselling_->RecordOutcome(Ctx().get(), outcomes, &recorded), grpc::StatusCode::INVALID_ARGUMENT,
             "outcomes[0].value");
  v->set_measure(v1::OUTCOME_MEASURE_ATTENDANCE_PERCENT);
  v->set_value(100.5);
  ExpectCode(counselling_->RecordOutcome(Ctx().get(), outcomes, &recorded), grpc::StatusCode::INVALID_ARGUMENT,
             "outcomes[0].value");
  get.set_name(referral.name());
  ASSERT_TRUE(counselling_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.referral().outcomes_size(), 0);
  EXPECT_EQ(got.referral().state(), v1::REFERRAL_STATE_ACTIVE);
  // Withdrawal after support started is refused.
  v1::WithdrawReferralRequest withdraw;
  withdraw.set_name(referral.name());
  withdraw.set_reason("too late");
  Change(*school_, &v1::ReferralService::Stub::WithdrawReferral, withdraw, &s);
  ExpectCode(s, grpc::StatusCode::FAILED_PRECONDITION, "referral is ACTIVE");
  // Paging and filters on the caller's own referrals.
  v1::ListReferralsRequest list;
  list.set_side(v1::REFERRAL_SIDE_PROVIDER);
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(school_->ListReferrals(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.referrals_size(), 0);
  list.set_side(v1::REFERRAL_SIDE_REFERRER);
  ASSERT_TRUE(school_->ListReferrals(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.referrals_size(), 1);
}

TEST_F(ReferralTest, AProviderStepsUpAndTheNewReferralIsLinked) {
  std::string consent = RecordConsent();
  v1::Referral referral = Submit(Referral("services/counselling", consent, kKey1));
  // Counselling refers the child on to early help from the referral it holds.
  v1::SubmitReferralRequest onward = Referral("services/early-help", consent, kKey2);
  onward.mutable_referral()->set_previous_referral(referral.name());
  onward.mutable_referral()->set_link(v1::REFERRAL_LINK_STEP_UP);
  v1::SubmitReferralResponse resp;
  grpc::Status s = mentoring_->SubmitReferral(Ctx().get(), onward, &resp);
  ExpectCode(s, grpc::StatusCode::NOT_FOUND, "referral.previous_referral");  // not its referral
  s = counselling_->SubmitReferral(Ctx().get(), onward, &resp);
  ExpectCode(s, grpc::StatusCode::FAILED_PRECONDITION, "referral.previous_referral");  // not delivered yet
  Acknowledge(*counselling_, referral.name());
  s = counselling_->SubmitReferral(Ctx().get(), onward, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(resp.referral().previous_referral(), referral.name());
  EXPECT_EQ(resp.referral().link(), v1::REFERRAL_LINK_STEP_UP);
  EXPECT_EQ(resp.referral().referrer(), "partners/counselling");
  // Early help is told the child is also with counselling.
  v1::GetReferralRequest get;
  get.set_name(resp.referral().name());
  v1::GetReferralResponse got;
  Acknowledge(*early_help_, resp.referral().name());
  ASSERT_TRUE(early_help_->GetReferral(Ctx().get(), get, &got).ok());
  ASSERT_EQ(got.referral().concurrent().services_size(), 1);
  EXPECT_EQ(got.referral().concurrent().services(0), "services/counselling");
  ASSERT_EQ(got.referral().earlier_referrals_size(), 1);
  EXPECT_EQ(got.referral().earlier_referrals(0).service(), "services/counselling");
  // A redirect needs a declined referral.
  v1::SubmitReferralRequest redirect = Referral("services/early-help", consent, kKey3);
  redirect.mutable_referral()->set_previous_referral(referral.name());
  redirect.mutable_referral()->set_link(v1::REFERRAL_LINK_REDIRECT);
  Submit(redirect, &s);
  ExpectCode(s, grpc::StatusCode::FAILED_PRECONDITION, "referral.previous_referral");
}

TEST_F(ReferralTest, ASafeguardingReferralWithoutConsentIsLoggedAsSuchAndAlertsTheDpo) {
  v1::SubmitReferralRequest req = Referral("services/early-help", "", kKey1);
  req.mutable_referral()->mutable_lawful_basis()->set_kind(v1::LAWFUL_BASIS_KIND_SAFEGUARDING);
  grpc::Status s;
  Submit(req, &s);
  ExpectCode(s, grpc::StatusCode::INVALID_ARGUMENT, "referral.lawful_basis");  // no justification
  req.mutable_referral()->mutable_lawful_basis()->set_justification(
      "Disclosed violence at home; family not to be told before the strategy discussion");
  v1::Referral referral = Submit(req);
  EXPECT_EQ(referral.state(), v1::REFERRAL_STATE_SUBMITTED);
  bool alerted = false;
  for (const auto& e : SubjectEvents()) {
    if (e.event().kind() == v1::EVENT_KIND_DISCLOSURE && absl::StrContains(e.event().request(), "SubmitReferral")) {
      EXPECT_EQ(e.event().basis(), v1::BASIS_SAFEGUARDING);
      alerted = e.event().dpo_alert();
      EXPECT_TRUE(e.event().consents().empty());
    }
  }
  EXPECT_TRUE(alerted);
}

TEST_F(ReferralTest, ConcurrentReferralsAreNotToldWhereConsentDoesNotAllowIt) {
  // Consent for referral only (not multi-agency planning): neither side may be told of the other.
  v1::RecordConsentRequest req;
  v1::Consent* c = req.mutable_consent();
  c->set_subject(subject_);
  c->set_given_by(v1::CONSENT_GIVER_YOUNG_PERSON);
  c->add_purposes(v1::PURPOSE_REFERRAL);
  c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  c->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
  c->add_recipients()->set_sector(v1::SECTOR_VOLUNTARY);
  c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30)));
  c->set_evidence("Told her head of year she wants help, 2026-11-20");
  v1::RecordConsentResponse recorded;
  ASSERT_TRUE(school_consents_->RecordConsent(Ctx().get(), req, &recorded).ok());
  Submit(Referral("services/counselling", recorded.consent().name(), kKey1));
  v1::Referral second = Submit(Referral("services/mentoring", recorded.consent().name(), kKey2));
  Acknowledge(*mentoring_, second.name());
  v1::GetReferralRequest get;
  get.set_name(second.name());
  v1::GetReferralResponse got;
  ASSERT_TRUE(mentoring_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.referral().concurrent().services_size(), 0);
  EXPECT_EQ(got.referral().concurrent().undisclosed_count(), 1);
  // Counselling's inbox holds its own referral only: no notice.
  InboxWatch watch(*counselling_, "");
  v1::WatchInboxResponse item = watch.Next();
  EXPECT_EQ(item.state(), v1::REFERRAL_STATE_SUBMITTED);
  EXPECT_FALSE(item.has_concurrent());
  watch.Cut();
  int refusals = 0;
  for (const auto& e : SubjectEvents()) {
    refusals += e.event().kind() == v1::EVENT_KIND_REFUSAL && e.event().purpose() == v1::PURPOSE_MULTI_AGENCY_PLANNING;
  }
  EXPECT_EQ(refusals, 2);  // one each way, logged
}

TEST_F(ReferralTest, ListsPageNewestFirstAndTheOutcomeReportNamesNoChild) {
  std::string consent = RecordConsent();
  std::vector<std::string> names;
  const char* keys[] = {"6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c101", "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c102",
                        "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c103", "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c104",
                        "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c105"};
  for (int i = 0; i < 5; ++i) {
    std::string name = Submit(Referral("services/early-help", consent, keys[i])).name();
    names.push_back(name);
    Acknowledge(*early_help_, name);
    Accept(*early_help_, name);
    Start(*early_help_, name);
    v1::RecordOutcomeRequest outcomes;
    outcomes.set_referral(name);
    v1::OutcomeValue* start = outcomes.add_outcomes();
    start->set_measure(v1::OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES);
    start->set_timepoint(v1::OUTCOME_TIMEPOINT_START);
    start->set_value(20 + i);
    v1::OutcomeValue* close = outcomes.add_outcomes();
    *close = *start;
    close->set_timepoint(v1::OUTCOME_TIMEPOINT_CLOSE);
    close->set_value(14 + i);
    v1::RecordOutcomeResponse recorded;
    grpc::Status s = early_help_->RecordOutcome(Ctx().get(), outcomes, &recorded);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }
  // Two per page, newest first, across pages.
  std::vector<std::string> listed;
  v1::ListReferralsRequest list;
  list.set_page_size(2);
  for (int page = 0; page < 5; ++page) {
    v1::ListReferralsResponse resp;
    ASSERT_TRUE(early_help_->ListReferrals(Ctx().get(), list, &resp).ok());
    for (const auto& r : resp.referrals()) listed.push_back(r.name());
    if (resp.next_page_token().empty()) break;
    list.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(listed, std::vector<std::string>(names.rbegin(), names.rend()));
  list.Clear();
  list.set_state(v1::REFERRAL_STATE_CLOSED);
  v1::ListReferralsResponse none;
  ASSERT_TRUE(school_->ListReferrals(Ctx().get(), list, &none).ok());
  EXPECT_EQ(none.referrals_size(), 0);
  list.set_page_token("garbage");
  v1::ListReferralsResponse bad;
  ExpectCode(school_->ListReferrals(Ctx().get(), list, &bad), grpc::StatusCode::INVALID_ARGUMENT, "page_token");

  v1::GetOutcomeReportRequest req;
  req.set_service("services/early-help");
  v1::GetOutcomeReportResponse report;
  ASSERT_TRUE(mentoring_->GetOutcomeReport(Ctx().get(), req, &report).ok());
  ASSERT_EQ(report.measures_size(), 1);
  const v1::MeasureSummary& sdq = report.measures(0);
  EXPECT_EQ(sdq.paired_count(), 5);
  EXPECT_FALSE(sdq.suppressed());
  EXPECT_DOUBLE_EQ(sdq.means().mean_change(), -6);
  EXPECT_EQ(sdq.improved_count(), 5);  // lower is better for SDQ
  EXPECT_FALSE(sdq.higher_is_better());
  std::string text = report.DebugString();
  EXPECT_FALSE(absl::StrContains(text, subject_.substr(9))) << text;
  EXPECT_FALSE(absl::StrContains(text, "referrals/")) << text;
  EXPECT_FALSE(absl::StrContains(text, "partners/")) << text;
  req.set_service("services/nowhere");
  ExpectCode(mentoring_->GetOutcomeReport(Ctx().get(), req, &report), grpc::StatusCode::NOT_FOUND, "service");
  req.set_service("services/early-help");
  req.mutable_start_time()->set_seconds(2000);
  req.mutable_end_time()->set_seconds(1000);
  ExpectCode(mentoring_->GetOutcomeReport(Ctx().get(), req, &report), grpc::StatusCode::INVALID_ARGUMENT,
             "end_time");
}

TEST_F(ReferralTest, AChangeTheReferrerMayNotBeToldIsWithheldFromItEverywhere) {
  // The young person agreed to the referral, not to the provider telling the school back.
  v1::RecordConsentRequest req;
  v1::Consent* c = req.mutable_consent();
  c->set_subject(subject_);
  c->set_given_by(v1::CONSENT_GIVER_YOUNG_PERSON);
  c->add_purposes(v1::PURPOSE_REFERRAL);
  c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  c->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
  c->add_recipients()->set_partner("partners/counselling");
  c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30)));
  c->set_evidence("Asked the school counsellor to refer her, privately");
  v1::RecordConsentResponse recorded;
  ASSERT_TRUE(school_consents_->RecordConsent(Ctx().get(), req, &recorded).ok());
  v1::Referral referral = Submit(Referral("services/counselling", recorded.consent().name(), kKey1));
  EXPECT_EQ(Acknowledge(*counselling_, referral.name()).state(), v1::REFERRAL_STATE_DELIVERED);
  EXPECT_EQ(Accept(*counselling_, referral.name()).state(), v1::REFERRAL_STATE_ACCEPTED);

  v1::GetReferralRequest get;
  get.set_name(referral.name());
  v1::GetReferralResponse got;
  ASSERT_TRUE(school_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.referral().state(), v1::REFERRAL_STATE_SUBMITTED);
  EXPECT_EQ(got.referral().history_size(), 1);
  v1::ListReferralsRequest list;
  list.set_state(v1::REFERRAL_STATE_ACCEPTED);
  v1::ListReferralsResponse listed;
  ASSERT_TRUE(school_->ListReferrals(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.referrals_size(), 0);
  list.set_state(v1::REFERRAL_STATE_SUBMITTED);
  ASSERT_TRUE(school_->ListReferrals(Ctx().get(), list, &listed).ok());
  EXPECT_EQ(listed.referrals_size(), 1);
  ASSERT_TRUE(counselling_->GetReferral(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.referral().state(), v1::REFERRAL_STATE_ACCEPTED);

  int refused_notices = 0;
  for (const auto& e : SubjectEvents()) {
    if (e.event().kind() == v1::EVENT_KIND_REFUSAL && e.event().recipient() == "partners/oakfield") {
      ++refused_notices;
      EXPECT_EQ(e.event().reason_codes(0), "NO_CONSENT");
    }
  }
  EXPECT_EQ(refused_notices, 2);  // the acknowledgement and the acceptance
}

TEST_F(ReferralTest, AReferralSurvivesKillNineAndARetryAfterTheRestartIsTheSameReferral) {
  std::string consent = RecordConsent();
  v1::SubmitReferralRequest req = Referral("services/counselling", consent, kKey1);
  v1::Referral referral = Submit(req);
  EXPECT_EQ(hub_.Stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(hub_.Start()) << hub_.Log();
  school_ = v1::ReferralService::NewStub(hub_.Channel(hub_.data_dir() / "bundles/oakfield"));
  counselling_ = v1::ReferralService::NewStub(hub_.Channel(hub_.data_dir() / "bundles/counselling"));
  EXPECT_EQ(Submit(req).name(), referral.name());
  EXPECT_EQ(ReferralCount(*school_), 1);
  // The provider's inbox still holds it, from the start.
  InboxWatch watch(*counselling_, "");
  EXPECT_EQ(watch.Next().referral().name(), referral.name());
}

TEST_F(ReferralTest, AnIdleInboxStreamIsWokenByTheNextReferral) {
  std::string consent = RecordConsent();
  v1::Referral a = Submit(Referral("services/counselling", consent, kKey1));
  InboxWatch watch(*counselling_, "");
  EXPECT_EQ(watch.Next().referral().name(), a.name());  // the stream is now idle, registered
  v1::Referral b = Submit(Referral("services/counselling", consent, kKey2));
  v1::WatchInboxResponse woken = watch.Next();
  EXPECT_EQ(woken.referral().name(), b.name());
  EXPECT_EQ(woken.state(), v1::REFERRAL_STATE_SUBMITTED);
  Acknowledge(*counselling_, b.name());
  // The school withdraws b: the provider's stream is told.
  v1::WithdrawReferralRequest withdraw;
  withdraw.set_name(b.name());
  withdraw.set_reason("Family moved out of the area");
  Change(*school_, &v1::ReferralService::Stub::WithdrawReferral, withdraw);
  v1::WatchInboxResponse withdrawn = watch.Next();
  EXPECT_EQ(withdrawn.state(), v1::REFERRAL_STATE_WITHDRAWN);
  EXPECT_EQ(withdrawn.referral().withdraw_reason(), "Family moved out of the area");
}

TEST_F(ReferralTest, BadCursorsAreRefusedAndOpenStreamsEndWhenTheHubStops) {
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    v1::WatchInboxRequest req;
    req.set_cursor("not-a-cursor");
    auto reader = counselling_->WatchInbox(&ctx, req);
    v1::WatchInboxResponse item;
    EXPECT_FALSE(reader->Read(&item));
    ExpectCode(reader->Finish(), grpc::StatusCode::INVALID_ARGUMENT, "cursor");
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  auto reader = counselling_->WatchInbox(&ctx, v1::WatchInboxRequest());
  // Make sure the stream is open on the hub before stopping it.
  std::string consent = RecordConsent();
  v1::Referral a = Submit(Referral("services/counselling", consent, kKey1));
  v1::WatchInboxResponse item;
  ASSERT_TRUE(reader->Read(&item));
  EXPECT_EQ(item.referral().name(), a.name());
  // The client waits on the stream while the hub stops: it is told to come back with its cursor.
  grpc::Status ended;
  std::thread client([&] {
    while (reader->Read(&item)) {
    }
    ended = reader->Finish();
  });
  EXPECT_EQ(hub_.Stop(SIGTERM), 0);
  client.join();
  ExpectCode(ended, grpc::StatusCode::UNAVAILABLE);
  EXPECT_TRUE(absl::StrContains(ended.error_message(), "cursor")) << ended.error_message();
}

}  // namespace
}  // namespace accord
