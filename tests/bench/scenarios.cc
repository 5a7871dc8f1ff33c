#include "tests/bench/scenarios.h"

#include <ctime>

#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>

#include "absl/strings/str_cat.h"
#include "accord/sdk/client.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
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

// A DESIGN.md §6 scenario whose RPC this build does not have yet: listed, never faked.
class NotYetScenario : public Scenario {
 public:
  NotYetScenario(std::string id, std::string title, double target, std::string why)
      : id_(std::move(id)), title_(std::move(title)), target_(target), why_(std::move(why)) {}
  std::string id() const override { return id_; }
  std::string title() const override { return title_; }
  double target_ratio() const override { return target_; }
  std::string unavailable() const override { return why_; }
  std::string caller() const override { return kSchool; }
  absl::Status Prepare(const Environment&) override { return absl::UnimplementedError(why_); }
  std::unique_ptr<CallStarter> Starter(const Environment&, std::shared_ptr<grpc::Channel>) override { return nullptr; }

 private:
  std::string id_, title_;
  double target_;
  std::string why_;
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

std::vector<std::unique_ptr<Scenario>> AllScenarios() {
  std::vector<std::unique_ptr<Scenario>> all;
  all.push_back(std::make_unique<EchoScenario>());
  all.push_back(std::make_unique<HubHealthScenario>());
  all.push_back(std::make_unique<GetPartnerScenario>());
  all.push_back(std::make_unique<CheckSharingScenario>());
  all.push_back(std::make_unique<QueryEventsScenario>());
  all.push_back(std::make_unique<NotYetScenario>(
      "request_records", "RecordService.RequestRecords (in-process plugin)", 0.50,
      "not available yet: RecordService and the plugin host are being built on another branch"));
  all.push_back(std::make_unique<NotYetScenario>(
      "submit_referral", "ReferralService.SubmitReferral (durable, logged, idempotent)", 0.35,
      "not available yet: ReferralService is being built on another branch"));
  all.push_back(std::make_unique<NotYetScenario>(
      "watch_inbox", "ReferralService.WatchInbox delivery rate", 0,
      "not available yet: ReferralService is being built on another branch"));
  return all;
}

}  // namespace accord::bench
