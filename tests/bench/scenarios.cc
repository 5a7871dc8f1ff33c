#include "tests/bench/scenarios.h"

#include <ctime>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "accord/sdk/client.h"
#include "accord/v1/audit.grpc.pb.h"
#include "absl/strings/str_format.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/directory.grpc.pb.h"
#include "accord/v1/record.grpc.pb.h"
#include "accord/v1/referral.grpc.pb.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "hub/plugins/library.h"
#include "tests/bench/echo.grpc.pb.h"
#include "tests/bench/sharing_events.h"

namespace accord::bench {
namespace {

using std::chrono::milliseconds;

absl::Status FromGrpc(const char* what, const grpc::Status& s) {
  if (s.ok()) return absl::OkStatus();
  return absl::Status(static_cast<absl::StatusCode>(s.error_code()), absl::StrCat(what, ": ", s.error_message()));
}

std::unique_ptr<grpc::ClientContext> SetupContext() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return ctx;
}

template <typename Request>
std::shared_ptr<const std::vector<Request>> One(Request r) {
  return std::make_shared<const std::vector<Request>>(std::vector<Request>{std::move(r)});
}

// The ceiling: the same channel, TLS and message sizes as every hub scenario, a service that only
// copies the payload back.
class EchoScenario : public Scenario {
 public:
  std::string id() const override { return "echo"; }
  std::string title() const override { return "Echo (bare gRPC + TLS, the ceiling)"; }
  std::string caller() const override { return kSchool; }
  bool on_echo() const override { return true; }

  absl::Status Prepare(const Environment& env) override {
    request_.set_payload(std::string(static_cast<size_t>(env.payload_bytes), 'x'));
    auto channel = OpenConnection(env, caller(), env.echo_address, -1);
    if (!channel.ok()) return channel.status();
    echo::v1::EchoResponse response;
    grpc::Status s = echo::v1::EchoService::NewStub(*channel)->Echo(SetupContext().get(), request_, &response);
    if (!s.ok()) return FromGrpc("Echo", s);
    if (response.payload() != request_.payload()) return absl::InternalError("Echo: the payload came back changed");
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    std::shared_ptr<echo::v1::EchoService::Stub> stub = echo::v1::EchoService::NewStub(channel);
    return std::make_unique<UnaryStarter<echo::v1::EchoRequest, echo::v1::EchoResponse>>(
        [stub](grpc::ClientContext* ctx, const echo::v1::EchoRequest* req, echo::v1::EchoResponse* resp,
               std::function<void(grpc::Status)> done) { stub->async()->Echo(ctx, req, resp, std::move(done)); },
        One(request_), milliseconds(env.deadline_ms));
  }

 private:
  echo::v1::EchoRequest request_;
};

// The hub's own floor: grpc.health.v1.Health/Check is served by gRPC inside the hub process with
// no authentication, no store and no log — what the hub's server adds before any of our code.
class HubHealthScenario : public Scenario {
 public:
  std::string id() const override { return "hub_health"; }
  std::string title() const override { return "Health.Check on the hub (no auth, no store)"; }
  std::string caller() const override { return kSchool; }

  absl::Status Prepare(const Environment& env) override {
    auto channel = OpenConnection(env, caller(), env.hub_address, -1);
    if (!channel.ok()) return channel.status();
    absl::StatusOr<bool> serving = sdk::CheckHealth(*channel);
    if (!serving.ok()) return serving.status();
    if (!*serving) return absl::UnavailableError("the hub is not SERVING");
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    auto stub = std::make_shared<grpc::GenericStub>(channel);
    grpc::Slice nothing("");  // HealthCheckRequest{service = ""} encodes to no bytes
    grpc::ByteBuffer empty(&nothing, 1);
    return std::make_unique<UnaryStarter<grpc::ByteBuffer, grpc::ByteBuffer>>(
        [stub](grpc::ClientContext* ctx, const grpc::ByteBuffer* req, grpc::ByteBuffer* resp,
               std::function<void(grpc::Status)> done) {
          stub->UnaryCall(ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), req, resp, std::move(done));
        },
        One(empty), milliseconds(env.deadline_ms));
  }
};

// The smallest authenticated call: certificate chain check (cached), one store read of the
// caller's certificate and partner, the ADMIN role, one read of the partner asked for.
class GetPartnerScenario : public Scenario {
 public:
  std::string id() const override { return "get_partner"; }
  std::string title() const override { return "PartnerAdmin.GetPartner (auth + 1 read)"; }
  std::string caller() const override { return kOps; }

  absl::Status Prepare(const Environment& env) override {
    request_.set_name(absl::StrCat("partners/", kSchool));
    auto channel = OpenConnection(env, caller(), env.hub_address, -1);
    if (!channel.ok()) return channel.status();
    v1::GetPartnerResponse response;
    grpc::Status s = v1::PartnerAdmin::NewStub(*channel)->GetPartner(SetupContext().get(), request_, &response);
    if (!s.ok()) return FromGrpc("GetPartner", s);
    if (response.partner().name() != request_.name()) return absl::InternalError("GetPartner: another partner came back");
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    std::shared_ptr<v1::PartnerAdmin::Stub> stub = v1::PartnerAdmin::NewStub(channel);
    return std::make_unique<UnaryStarter<v1::GetPartnerRequest, v1::GetPartnerResponse>>(
        [stub](grpc::ClientContext* ctx, const v1::GetPartnerRequest* req, v1::GetPartnerResponse* resp,
               std::function<void(grpc::Status)> done) { stub->async()->GetPartner(ctx, req, resp, std::move(done)); },
        One(request_), milliseconds(env.deadline_ms));
  }

 private:
  v1::GetPartnerRequest request_;
};

// The sharing decision as a dry run: the school asks what it may send CAMHS about a child it
// holds, under an agreement and the family's consent recorded through the real RPCs.
class CheckSharingScenario : public Scenario {
 public:
  std::string id() const override { return "check_sharing"; }
  std::string title() const override { return "ConsentService.CheckSharing"; }
  std::string caller() const override { return kSchool; }

  absl::Status Prepare(const Environment& env) override {
    auto ops = OpenConnection(env, kOps, env.hub_address, -1);
    auto school = OpenConnection(env, kSchool, env.hub_address, -1);
    if (!ops.ok()) return ops.status();
    if (!school.ok()) return school.status();
    const int64_t now = std::time(nullptr);

    v1::CreateSharingAgreementRequest agreement;
    v1::SharingAgreement* a = agreement.mutable_sharing_agreement();
    a->mutable_discloser()->set_sector(v1::SECTOR_SCHOOL);
    a->mutable_recipient()->set_partner(absl::StrCat("partners/", kCamhs));
    a->add_purposes(v1::PURPOSE_REFERRAL);
    for (auto c : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_CONTACT, v1::DATA_CATEGORY_EDUCATION,
                   v1::DATA_CATEGORY_SEN, v1::DATA_CATEGORY_MENTAL_HEALTH}) {
      a->add_data_categories(c);
    }
    a->mutable_valid_until()->set_seconds(now + 365 * 24 * 3600);
    a->set_description("Schools to CAMHS referrals (benchmark)");
    v1::CreateSharingAgreementResponse created;
    grpc::Status s = v1::PartnerAdmin::NewStub(*ops)->CreateSharingAgreement(SetupContext().get(), agreement, &created);
    if (!s.ok()) return FromGrpc("CreateSharingAgreement", s);

    v1::ResolveSubjectRequest child;
    child.mutable_identifiers()->set_upn("B801200005001");
    child.mutable_identifiers()->set_local_id("MIS-BENCH-1");
    child.mutable_demographics()->set_given_name("Jordan");
    child.mutable_demographics()->set_family_name("Smith");
    child.mutable_demographics()->set_birth_date("2014-05-03");
    child.mutable_demographics()->set_postcode("LS6 2AB");
    v1::ResolveSubjectResponse resolved;
    s = v1::SubjectService::NewStub(*school)->ResolveSubject(SetupContext().get(), child, &resolved);
    if (!s.ok()) return FromGrpc("ResolveSubject", s);
    const std::string subject = resolved.subject().name();

    v1::RecordConsentRequest consent;
    v1::Consent* c = consent.mutable_consent();
    c->set_subject(subject);
    c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
    c->add_purposes(v1::PURPOSE_REFERRAL);
    for (auto cat : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_SEN}) {
      c->add_data_categories(cat);
    }
    c->add_recipients()->set_partner(absl::StrCat("partners/", kCamhs));
    c->mutable_valid_until()->set_seconds(now + 180 * 24 * 3600);
    c->set_evidence("Consent form signed by mother at SENCO meeting");
    v1::RecordConsentResponse recorded;
    s = v1::ConsentService::NewStub(*school)->RecordConsent(SetupContext().get(), consent, &recorded);
    if (!s.ok()) return FromGrpc("RecordConsent", s);

    request_.set_subject(subject);
    request_.set_recipient(absl::StrCat("partners/", kCamhs));
    request_.set_purpose(v1::PURPOSE_REFERRAL);
    request_.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    request_.add_data_categories(v1::DATA_CATEGORY_SEN);
    request_.add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
    v1::CheckSharingResponse decision;
    s = v1::ConsentService::NewStub(*school)->CheckSharing(SetupContext().get(), request_, &decision);
    if (!s.ok()) return FromGrpc("CheckSharing", s);
    // IDENTITY and SEN are agreed and consented; MENTAL_HEALTH is agreed but not consented.
    if (decision.decisions_size() != 3 || !decision.decisions(0).allowed() || !decision.decisions(1).allowed() ||
        decision.decisions(2).allowed()) {
      return absl::InternalError(absl::StrCat("CheckSharing: unexpected decision ", decision.ShortDebugString()));
    }
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    std::shared_ptr<v1::ConsentService::Stub> stub = v1::ConsentService::NewStub(channel);
    return std::make_unique<UnaryStarter<v1::CheckSharingRequest, v1::CheckSharingResponse>>(
        [stub](grpc::ClientContext* ctx, const v1::CheckSharingRequest* req, v1::CheckSharingResponse* resp,
               std::function<void(grpc::Status)> done) { stub->async()->CheckSharing(ctx, req, resp, std::move(done)); },
        One(request_), milliseconds(env.deadline_ms));
  }

 private:
  v1::CheckSharingRequest request_;
};

// A DPO reading one child's history in the pre-filled log: the first page of QueryEvents by
// subject, a different child on each call. Each call also appends (durably) the LOG_READ event
// that records the read (invariant 8).
class QueryEventsScenario : public Scenario {
 public:
  static constexpr int kChildrenAsked = 4096;
  static constexpr int kPageSize = 100;

  std::string id() const override { return "query_events"; }
  std::string title() const override { return "AuditService.QueryEvents (one child, large log)"; }
  std::string caller() const override { return kDpo; }

  absl::Status Prepare(const Environment& env) override {
    auto requests = std::make_shared<std::vector<v1::QueryEventsRequest>>();
    for (uint64_t i = 0; i < kChildrenAsked; ++i) {
      v1::QueryEventsRequest r;
      // Spread over the whole population (an odd stride visits distinct children).
      r.set_subject(absl::StrCat("subjects/", SubjectId((i * 7919) % env.log_children)));
      r.set_page_size(kPageSize);
      requests->push_back(std::move(r));
    }
    requests_ = requests;
    auto channel = OpenConnection(env, caller(), env.hub_address, -1);
    if (!channel.ok()) return channel.status();
    v1::QueryEventsResponse response;
    grpc::Status s = v1::AuditService::NewStub(*channel)->QueryEvents(SetupContext().get(), requests->front(), &response);
    if (!s.ok()) return FromGrpc("QueryEvents", s);
    for (const v1::LoggedEvent& e : response.events()) {
      if (e.event().subject() != requests->front().subject()) {
        return absl::InternalError("QueryEvents: an event of another child came back");
      }
    }
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    std::shared_ptr<v1::AuditService::Stub> stub = v1::AuditService::NewStub(channel);
    return std::make_unique<UnaryStarter<v1::QueryEventsRequest, v1::QueryEventsResponse>>(
        [stub](grpc::ClientContext* ctx, const v1::QueryEventsRequest* req, v1::QueryEventsResponse* resp,
               std::function<void(grpc::Status)> done) { stub->async()->QueryEvents(ctx, req, resp, std::move(done)); },
        requests_, milliseconds(env.deadline_ms));
  }

 private:
  std::shared_ptr<const std::vector<v1::QueryEventsRequest>> requests_;
};

// Records from a holder's system through its plugin, loaded in the hub's process: the school asks
// for what CAMHS holds about a child; the decision runs per category, the allowed ones come from
// the plugin (tests/plugins/fixture_plugin.cc, configured with one child's records), and the
// disclosure and refusal are appended durably to the sharing log before each reply.
class RequestRecordsScenario : public Scenario {
 public:
  std::string id() const override { return "request_records"; }
  std::string title() const override { return "RecordService.RequestRecords (in-process plugin)"; }
  double target_ratio() const override { return 0.50; }
  std::string caller() const override { return kSchool; }

  absl::Status Prepare(const Environment& env) override {
    auto ops = OpenConnection(env, kOps, env.hub_address, -1);
    auto school = OpenConnection(env, kSchool, env.hub_address, -1);
    auto camhs = OpenConnection(env, kCamhs, env.hub_address, -1);
    for (auto* c : {&ops, &school, &camhs}) {
      if (!c->ok()) return c->status();
    }
    const int64_t now = std::time(nullptr);
    v1::CreateSharingAgreementRequest agreement;
    v1::SharingAgreement* a = agreement.mutable_sharing_agreement();
    a->mutable_discloser()->set_partner(absl::StrCat("partners/", kCamhs));
    a->mutable_recipient()->set_sector(v1::SECTOR_SCHOOL);
    a->add_purposes(v1::PURPOSE_ASSESSMENT);
    a->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    a->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
    a->mutable_valid_until()->set_seconds(now + 365 * 24 * 3600);
    v1::CreateSharingAgreementResponse created;
    grpc::Status s = v1::PartnerAdmin::NewStub(*ops)->CreateSharingAgreement(SetupContext().get(), agreement, &created);
    if (!s.ok()) return FromGrpc("CreateSharingAgreement", s);
    std::string subject;
    for (auto [channel, local] : {std::pair{&*school, "MIS-RECORDS-1"}, std::pair{&*camhs, kRecordsLocalId}}) {
      v1::ResolveSubjectRequest child;
      child.mutable_identifiers()->set_nhs_number("9434765919");
      child.mutable_identifiers()->set_local_id(local);
      v1::ResolveSubjectResponse resolved;
      s = v1::SubjectService::NewStub(*channel)->ResolveSubject(SetupContext().get(), child, &resolved);
      if (!s.ok()) return FromGrpc("ResolveSubject", s);
      subject = resolved.subject().name();
    }
    v1::RecordConsentRequest consent;
    v1::Consent* c = consent.mutable_consent();
    c->set_subject(subject);
    c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
    c->add_purposes(v1::PURPOSE_ASSESSMENT);
    c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    c->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
    c->add_recipients()->set_partner(absl::StrCat("partners/", kSchool));
    c->mutable_valid_until()->set_seconds(now + 180 * 24 * 3600);
    c->set_evidence("Consent for the school to see CAMHS's assessment");
    v1::RecordConsentResponse recorded;
    s = v1::ConsentService::NewStub(*school)->RecordConsent(SetupContext().get(), consent, &recorded);
    if (!s.ok()) return FromGrpc("RecordConsent", s);

    request_.set_subject(subject);
    request_.set_purpose(v1::PURPOSE_ASSESSMENT);
    request_.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    request_.add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
    request_.add_data_categories(v1::DATA_CATEGORY_HEALTH);  // refused: no agreement
    v1::RequestRecordsResponse records;
    s = v1::RecordService::NewStub(*school)->RequestRecords(SetupContext().get(), request_, &records);
    if (!s.ok()) return FromGrpc("RequestRecords", s);
    if (records.holders_size() != 1 || records.holders(0).records_size() != 2) {
      return absl::InternalError(absl::StrCat("RequestRecords: unexpected answer ", records.ShortDebugString()));
    }
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    std::shared_ptr<v1::RecordService::Stub> stub = v1::RecordService::NewStub(channel);
    return std::make_unique<UnaryStarter<v1::RequestRecordsRequest, v1::RequestRecordsResponse>>(
        [stub](grpc::ClientContext* ctx, const v1::RequestRecordsRequest* req, v1::RequestRecordsResponse* resp,
               std::function<void(grpc::Status)> done) { stub->async()->RequestRecords(ctx, req, resp, std::move(done)); },
        One(request_), milliseconds(env.deadline_ms));
  }

 private:
  v1::RequestRecordsRequest request_;
};

// A name part for the i-th bench child: "Aab", "Aac", ... (no digits).
std::string Letters(int i) {
  std::string out = "A";
  for (int k = 0; k < 3; ++k, i /= 26) out.push_back(static_cast<char>('a' + i % 26));
  return out;
}

// New referrals, each durable, decided, logged and keyed: the school refers children (2 000, so no
// child gathers more than a few open referrals in a run) to a CAMHS service, every call with a new idempotency
// key. A run that made more calls than there are keys would turn the extra calls into retries
// answered from the stored referral; at the measured rates no run comes near 200 000.
class SubmitReferralScenario : public Scenario {
 public:
  static constexpr int kChildren = 2000;
  static constexpr int kKeys = 200000;

  std::string id() const override { return "submit_referral"; }
  std::string title() const override { return "ReferralService.SubmitReferral (durable, logged, idempotent)"; }
  double target_ratio() const override { return 0.35; }
  std::string caller() const override { return kSchool; }

  absl::Status Prepare(const Environment& env) override {
    auto ops = OpenConnection(env, kOps, env.hub_address, -1);
    auto school = OpenConnection(env, kSchool, env.hub_address, -1);
    auto camhs = OpenConnection(env, kCamhs, env.hub_address, -1);
    for (auto* c : {&ops, &school, &camhs}) {
      if (!c->ok()) return c->status();
    }
    const int64_t now = std::time(nullptr);
    v1::CreateSharingAgreementRequest agreement;
    v1::SharingAgreement* a = agreement.mutable_sharing_agreement();
    a->mutable_discloser()->set_sector(v1::SECTOR_SCHOOL);
    a->mutable_recipient()->set_sector(v1::SECTOR_HEALTH);
    a->add_purposes(v1::PURPOSE_REFERRAL);
    a->add_purposes(v1::PURPOSE_MULTI_AGENCY_PLANNING);
    a->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    a->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
    a->mutable_valid_until()->set_seconds(now + 365 * 24 * 3600);
    v1::CreateSharingAgreementResponse created;
    grpc::Status s = v1::PartnerAdmin::NewStub(*ops)->CreateSharingAgreement(SetupContext().get(), agreement, &created);
    if (!s.ok()) return FromGrpc("CreateSharingAgreement", s);

    v1::PublishServiceRequest publish;
    publish.set_service_id("bench-camhs-anxiety");
    ::accord::v1::Service* svc = publish.mutable_service();
    svc->set_display_name("Bench CAMHS anxiety pathway");
    svc->set_description("Assessment and therapy for anxiety.");
    svc->mutable_eligibility()->set_minimum_age(5);
    svc->mutable_eligibility()->set_maximum_age(18);
    svc->mutable_eligibility()->add_need_types(v1::NEED_TYPE_ANXIETY);
    svc->mutable_eligibility()->set_maximum_level_of_need(v1::LEVEL_OF_NEED_SPECIALIST);
    svc->add_service_areas()->add_local_authorities("E08000035");
    svc->mutable_availability()->set_accepting_referrals(true);
    v1::PublishServiceResponse published;
    s = v1::DirectoryService::NewStub(*camhs)->PublishService(SetupContext().get(), publish, &published);
    if (!s.ok()) return FromGrpc("PublishService", s);

    auto subjects = v1::SubjectService::NewStub(*school);
    auto consents = v1::ConsentService::NewStub(*school);
    auto requests = std::make_shared<std::vector<v1::SubmitReferralRequest>>();
    std::vector<std::pair<std::string, std::string>> children;  // subject, consent
    for (int i = 0; i < kChildren; ++i) {
      v1::ResolveSubjectRequest child;
      child.mutable_identifiers()->set_local_id(absl::StrCat("MIS-REF-", i));
      // Distinct children: the person index must not match them to one another (names that differ
      // only by a digit and one birth date would be taken for the same child).
      child.mutable_demographics()->set_given_name(absl::StrCat("Child", Letters(i)));
      child.mutable_demographics()->set_family_name(absl::StrCat("Referral", Letters(i * 7 + 3)));
      child.mutable_demographics()->set_birth_date(absl::FormatCivilTime(absl::CivilDay(2010, 1, 1) + i));
      child.mutable_demographics()->set_postcode("LS6 2AB");
      v1::ResolveSubjectResponse resolved;
      s = subjects->ResolveSubject(SetupContext().get(), child, &resolved);
      if (!s.ok()) return FromGrpc("ResolveSubject", s);
      v1::RecordConsentRequest consent;
      v1::Consent* c = consent.mutable_consent();
      c->set_subject(resolved.subject().name());
      c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
      c->add_purposes(v1::PURPOSE_REFERRAL);
      c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
      c->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
      c->add_recipients()->set_sector(v1::SECTOR_HEALTH);
      c->mutable_valid_until()->set_seconds(now + 180 * 24 * 3600);
      c->set_evidence("Referral form signed");
      v1::RecordConsentResponse recorded;
      s = consents->RecordConsent(SetupContext().get(), consent, &recorded);
      if (!s.ok()) return FromGrpc("RecordConsent", s);
      children.emplace_back(resolved.subject().name(), recorded.consent().name());
    }
    requests->reserve(kKeys);
    for (int k = 0; k < kKeys; ++k) {
      const auto& [subject, consent] = children[static_cast<size_t>(k) % children.size()];
      v1::SubmitReferralRequest req;
      v1::Referral* r = req.mutable_referral();
      r->set_service("services/bench-camhs-anxiety");
      r->set_subject(subject);
      v1::Need* n = r->add_needs();
      n->set_type(v1::NEED_TYPE_ANXIETY);
      n->set_level(v1::LEVEL_OF_NEED_TARGETED);
      r->set_background("Panic attacks before lessons since September; attendance down to 82%.");
      r->set_urgency(v1::URGENCY_ROUTINE);
      r->set_consent(consent);
      r->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
      r->add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
      // A version 4 UUID, distinct per call.
      r->set_idempotency_key(absl::StrFormat("%08x-0000-4000-8000-%012x", key_space_ + (k >> 16), k & 0xffff));
      requests->push_back(std::move(req));
    }
    v1::SubmitReferralResponse first;
    s = v1::ReferralService::NewStub(*school)->SubmitReferral(SetupContext().get(), requests->back(), &first);
    if (!s.ok()) return FromGrpc("SubmitReferral", s);
    requests_ = requests;
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    std::shared_ptr<v1::ReferralService::Stub> stub = v1::ReferralService::NewStub(channel);
    return std::make_unique<UnaryStarter<v1::SubmitReferralRequest, v1::SubmitReferralResponse>>(
        [stub](grpc::ClientContext* ctx, const v1::SubmitReferralRequest* req, v1::SubmitReferralResponse* resp,
               std::function<void(grpc::Status)> done) { stub->async()->SubmitReferral(ctx, req, resp, std::move(done)); },
        requests_, milliseconds(env.deadline_ms));
  }

 protected:
  const std::vector<v1::SubmitReferralRequest>& requests() const { return *requests_; }
  // The first eight hex digits of this scenario's idempotency keys (its own, so two scenarios in
  // one run never reuse a key for a different referral).
  uint32_t key_space_ = 0xbe7c0000u;

 private:
  std::shared_ptr<const std::vector<v1::SubmitReferralRequest>> requests_;
};

// One "call": a provider opens its inbox stream from the oldest item and reads kItems items (each
// decided again and logged by the hub as it is delivered), then hangs up. calls/s × kItems is
// the delivery rate.
class InboxReadStarter : public CallStarter {
 public:
  InboxReadStarter(std::shared_ptr<v1::ReferralService::Stub> stub, int items, std::chrono::milliseconds deadline)
      : stub_(std::move(stub)), items_(items), deadline_(deadline) {}
  ~InboxReadStarter() override {
    while (live_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void Start(std::function<void(const grpc::Status&)> done) override {
    live_.fetch_add(1);
    new Read(this, std::move(done));
  }

 private:
  class Read : public grpc::ClientReadReactor<v1::WatchInboxResponse> {
   public:
    Read(InboxReadStarter* owner, std::function<void(const grpc::Status&)> done)
        : owner_(owner), done_(std::move(done)) {
      ctx_.set_deadline(std::chrono::system_clock::now() + owner_->deadline_);
      owner_->stub_->async()->WatchInbox(&ctx_, &request_, this);
      StartRead(&response_);
      StartCall();
    }
    void OnReadDone(bool ok) override {
      if (!ok) return;  // the stream ended; OnDone tells how
      if (++read_ < owner_->items_) {
        StartRead(&response_);
        return;
      }
      enough_ = true;
      ctx_.TryCancel();
    }
    void OnDone(const grpc::Status& status) override {
      done_(enough_ ? grpc::Status::OK
                    : status.ok() ? grpc::Status(grpc::StatusCode::DATA_LOSS, "the inbox ended early") : status);
      InboxReadStarter* owner = owner_;
      delete this;
      owner->live_.fetch_sub(1);
    }

   private:
    InboxReadStarter* owner_;
    std::function<void(const grpc::Status&)> done_;
    grpc::ClientContext ctx_;
    v1::WatchInboxRequest request_;
    v1::WatchInboxResponse response_;
    int read_ = 0;
    bool enough_ = false;
  };

  std::shared_ptr<v1::ReferralService::Stub> stub_;
  const int items_;
  const std::chrono::milliseconds deadline_;
  std::atomic<int> live_{0};
};

// The provider side of referrals: CAMHS reading its inbox stream (kItems items per stream), with
// the referrals SubmitReferralScenario's preparation makes plus kBacklog more submitted first.
class WatchInboxScenario : public SubmitReferralScenario {
 public:
  static constexpr int kItems = 100;
  static constexpr int kBacklog = 400;

  WatchInboxScenario() { key_space_ = 0xbe7d0000u; }

  std::string id() const override { return "watch_inbox"; }
  std::string title() const override {
    return "ReferralService.WatchInbox deliveries (streams of 100; each item decided and logged)";
  }
  double target_ratio() const override { return 0; }
  int items_per_call() const override { return kItems; }
  std::string caller() const override { return kCamhs; }

  absl::Status Prepare(const Environment& env) override {
    if (absl::Status s = SubmitReferralScenario::Prepare(env); !s.ok()) return s;
    auto school = OpenConnection(env, kSchool, env.hub_address, -1);
    if (!school.ok()) return school.status();
    auto stub = v1::ReferralService::NewStub(*school);
    for (int i = 0; i < kBacklog; ++i) {
      v1::SubmitReferralResponse made;
      grpc::Status s = stub->SubmitReferral(SetupContext().get(), requests()[static_cast<size_t>(i)], &made);
      if (!s.ok()) return FromGrpc("SubmitReferral", s);
    }
    return absl::OkStatus();
  }

  std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) override {
    return std::make_unique<InboxReadStarter>(v1::ReferralService::NewStub(channel), kItems,
                                              milliseconds(env.deadline_ms));
  }
};

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenConnection(const Environment& env, const std::string& partner,
                                                              const std::string& address, int index) {
  absl::StatusOr<sdk::Credentials> creds = sdk::LoadCredentials(env.data_dir / "bundles" / partner);
  if (!creds.ok()) return creds.status();
  // sdk::OpenChannel's TLS settings, plus a private subchannel pool so that each channel is its
  // own TCP connection instead of sharing one with every channel to the same address.
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = creds->ca_certificate_pem;
  ssl.pem_private_key = creds->client_key_pem;
  ssl.pem_cert_chain = creds->client_certificate_pem;
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetInt("accord.bench.connection", index);
  auto channel = grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    return absl::UnavailableError(absl::StrCat("cannot connect to ", address, " as ", partner));
  }
  return channel;
}

std::string PluginsConfig() {
  const std::string plugin = ACCORD_FIXTURE_PLUGIN;
  absl::StatusOr<std::string> sha = plugins::FileSha256(plugin);
  return absl::StrCat(
      R"("plugins": [{"partner": ")", kCamhs, R"(", "library": ")", plugin, R"(", "sha256": ")",
      sha.ok() ? *sha : std::string(64, '0'), R"(", "inProcess": true, "config": {"people": [{"localId": ")",
      kRecordsLocalId, R"(", "records": [
        {"dataCategory": "DATA_CATEGORY_IDENTITY", "identity": {"nhsNumber": "9434765919", "givenName": "Jordan", "familyName": "Smith", "birthDate": "2014-05-03"}},
        {"dataCategory": "DATA_CATEGORY_MENTAL_HEALTH", "clinical": {"kind": "KIND_CONDITION", "system": "http://snomed.info/sct", "code": "197480006", "display": "Anxiety disorder", "status": "active"}},
        {"dataCategory": "DATA_CATEGORY_HEALTH", "clinical": {"kind": "KIND_OBSERVATION", "code": "50373000", "display": "Body height", "value": "142", "unit": "cm"}}
      ]}]}}])");
}

std::vector<std::unique_ptr<Scenario>> AllScenarios() {
  std::vector<std::unique_ptr<Scenario>> all;
  all.push_back(std::make_unique<EchoScenario>());
  all.push_back(std::make_unique<HubHealthScenario>());
  all.push_back(std::make_unique<GetPartnerScenario>());
  all.push_back(std::make_unique<CheckSharingScenario>());
  all.push_back(std::make_unique<QueryEventsScenario>());
  all.push_back(std::make_unique<RequestRecordsScenario>());
  all.push_back(std::make_unique<SubmitReferralScenario>());
  all.push_back(std::make_unique<WatchInboxScenario>());
  return all;
}

}  // namespace accord::bench
