// AuditService over real mTLS: DPO-only access, every read logged, the subject report, signed
// tree heads and proofs that verify with nothing but the hub's public key, the export stream.
#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "accord/v1/audit.grpc.pb.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "gtest/gtest.h"
#include "hub/audit/merkle.h"
#include "hub/audit/tree_head.h"
#include "hub/security/files.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

audit::Hash H(const std::string& bytes) { return *audit::HashFromBytes(bytes); }

class AuditServiceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto school = hub_.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    auto dpo = hub_.Enrol("dpo", "County DPO", "LOCAL_AUTHORITY", "DPO");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    school_audit_ = v1::AuditService::NewStub(hub_.Channel(school));
    dpo_ = v1::AuditService::NewStub(hub_.Channel(dpo));
    // Real events: the school registers a child and records then withdraws a consent.
    auto subjects = v1::SubjectService::NewStub(hub_.Channel(school));
    v1::ResolveSubjectRequest resolve;
    resolve.mutable_identifiers()->set_nhs_number("9434765919");
    v1::ResolveSubjectResponse resolved;
    ASSERT_TRUE(subjects->ResolveSubject(Ctx().get(), resolve, &resolved).ok());
    subject_ = resolved.subject().name();
    auto consents = v1::ConsentService::NewStub(hub_.Channel(school));
    v1::RecordConsentRequest record;
    v1::Consent* c = record.mutable_consent();
    c->set_subject(subject_);
    c->set_given_by(v1::CONSENT_GIVER_YOUNG_PERSON);
    c->add_purposes(v1::PURPOSE_REFERRAL);
    c->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    c->add_recipients()->set_sector(v1::SECTOR_HEALTH);
    c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30)));
    c->set_evidence("Told the school nurse she agrees, 2026-11-20");
    v1::RecordConsentResponse recorded;
    ASSERT_TRUE(consents->RecordConsent(Ctx().get(), record, &recorded).ok());
    v1::WithdrawConsentRequest withdraw;
    withdraw.set_name(recorded.consent().name());
    withdraw.set_reason("Changed her mind at the next appointment");
    v1::WithdrawConsentResponse withdrawn;
    ASSERT_TRUE(consents->WithdrawConsent(Ctx().get(), withdraw, &withdrawn).ok());
    key_ = std::make_unique<audit::VerifyingKey>(
        *audit::VerifyingKey::FromPem(*security::ReadFile(hub_.data_dir() / "keys/signing.pub")));
  }

  v1::SignedTreeHead Head() {
    v1::GetTreeHeadResponse resp;
    grpc::Status s = dpo_->GetTreeHead(Ctx().get(), v1::GetTreeHeadRequest(), &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.tree_head();
  }

  void ExpectSignedByHub(const v1::SignedTreeHead& head) {
    audit::SignedTreeHead sth;
    sth.head.tree_size = head.tree_size();
    sth.head.root_hash = H(head.root_hash());
    sth.head.timestamp = absl::FromUnixSeconds(head.time().seconds()) + absl::Nanoseconds(head.time().nanos());
    sth.signature = head.signature();
    EXPECT_TRUE(audit::VerifyTreeHead(sth, *key_).ok());
    EXPECT_EQ(head.key_id(), *key_->KeyId());
  }

  HubProcess hub_;
  std::unique_ptr<v1::AuditService::Stub> school_audit_, dpo_;
  std::unique_ptr<audit::VerifyingKey> key_;
  std::string subject_;
};

TEST_F(AuditServiceTest, OnlyDposMayReadTheLog) {
  v1::QueryEventsResponse resp;
  grpc::Status s = school_audit_->QueryEvents(Ctx().get(), v1::QueryEventsRequest(), &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(s.error_message().find("ROLE_DPO"), std::string::npos);
  v1::GetTreeHeadResponse head;
  EXPECT_EQ(school_audit_->GetTreeHead(Ctx().get(), v1::GetTreeHeadRequest(), &head).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  grpc::ClientContext ctx;
  auto reader = school_audit_->ExportEvents(&ctx, v1::ExportEventsRequest());
  v1::ExportEventsResponse item;
  EXPECT_FALSE(reader->Read(&item));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(AuditServiceTest, EventsTellWhoDidWhatAndEveryReadIsLogged) {
  v1::QueryEventsRequest req;
  req.set_subject(subject_);
  v1::QueryEventsResponse resp;
  ASSERT_TRUE(dpo_->QueryEvents(Ctx().get(), req, &resp).ok());
  std::vector<v1::EventKind> kinds;
  for (const auto& e : resp.events()) kinds.push_back(e.event().kind());
  // Linked, consent recorded, consent withdrawn — and this very read.
  ASSERT_EQ(kinds, (std::vector<v1::EventKind>{v1::EVENT_KIND_SUBJECT_LINKED, v1::EVENT_KIND_CONSENT_RECORDED,
                                                v1::EVENT_KIND_CONSENT_WITHDRAWN, v1::EVENT_KIND_LOG_READ}));
  EXPECT_EQ(resp.events(0).event().actor(), "partners/oakfield");
  EXPECT_EQ(resp.events(1).details().text(), "Told the school nurse she agrees, 2026-11-20");
  EXPECT_EQ(resp.events(2).details().text(), "Changed her mind at the next appointment");
  EXPECT_EQ(resp.events(3).event().actor(), "partners/dpo");
  EXPECT_EQ(resp.events(3).event().request(), "AuditService/QueryEvents");

  v1::QueryEventsRequest by_kind;
  by_kind.set_kind(v1::EVENT_KIND_CONSENT_WITHDRAWN);
  ASSERT_TRUE(dpo_->QueryEvents(Ctx().get(), by_kind, &resp).ok());
  ASSERT_EQ(resp.events_size(), 1);
  v1::QueryEventsRequest paged;
  paged.set_page_size(2);
  ASSERT_TRUE(dpo_->QueryEvents(Ctx().get(), paged, &resp).ok());
  EXPECT_EQ(resp.events_size(), 2);
  ASSERT_FALSE(resp.next_page_token().empty());
  paged.set_page_token(resp.next_page_token());
  ASSERT_TRUE(dpo_->QueryEvents(Ctx().get(), paged, &resp).ok());
  EXPECT_EQ(resp.events(0).event().sequence(), 2u);
}

TEST_F(AuditServiceTest, QueryRefusesBadInput) {
  v1::QueryEventsResponse resp;
  v1::QueryEventsRequest req;
  req.set_subject("children/1");
  EXPECT_EQ(dpo_->QueryEvents(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = v1::QueryEventsRequest();
  req.set_page_token("bogus");
  EXPECT_EQ(dpo_->QueryEvents(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  req = v1::QueryEventsRequest();
  req.mutable_start_time()->set_seconds(2000);
  req.mutable_end_time()->set_seconds(1000);
  grpc::Status s = dpo_->QueryEvents(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(s.error_message().rfind("end_time", 0), 0u) << s.error_message();
}

TEST_F(AuditServiceTest, SubjectReport) {
  v1::GetSubjectReportRequest req;
  req.set_subject(subject_);
  v1::GetSubjectReportResponse resp;
  ASSERT_TRUE(dpo_->GetSubjectReport(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.subject(), subject_);
  EXPECT_EQ(resp.disclosures(), 0);  // nothing has left the school yet
  EXPECT_GE(resp.events_size(), 4);
  EXPECT_EQ(resp.events(resp.events_size() - 1).event().request(), "AuditService/GetSubjectReport");
  req.set_subject("subjects/0000000000000000");
  EXPECT_EQ(dpo_->GetSubjectReport(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(AuditServiceTest, ProofsVerifyAgainstSignedTreeHeads) {
  v1::SignedTreeHead first = Head();
  ExpectSignedByHub(first);
  ASSERT_GE(first.tree_size(), 3u);
  // Every event's inclusion proof checks against the signed root.
  for (uint64_t seq = 0; seq < first.tree_size(); ++seq) {
    v1::GetInclusionProofRequest req;
    req.set_sequence(seq);
    req.set_tree_size(first.tree_size());
    v1::GetInclusionProofResponse resp;
    ASSERT_TRUE(dpo_->GetInclusionProof(Ctx().get(), req, &resp).ok());
    std::vector<audit::Hash> proof;
    for (const auto& h : resp.proof()) proof.push_back(H(h));
    EXPECT_TRUE(
        audit::VerifyInclusion(H(resp.leaf_hash()), seq, first.tree_size(), proof, H(first.root_hash())).ok());
  }
  // Later the log has grown (the reads above were logged): the old head is consistent with the new.
  v1::SignedTreeHead second = Head();
  ASSERT_GT(second.tree_size(), first.tree_size());
  v1::GetConsistencyProofRequest creq;
  creq.set_first_tree_size(first.tree_size());
  creq.set_second_tree_size(second.tree_size());
  v1::GetConsistencyProofResponse cresp;
  ASSERT_TRUE(dpo_->GetConsistencyProof(Ctx().get(), creq, &cresp).ok());
  std::vector<audit::Hash> proof;
  for (const auto& h : cresp.proof()) proof.push_back(H(h));
  EXPECT_TRUE(audit::VerifyConsistency(first.tree_size(), second.tree_size(), H(first.root_hash()),
                                       H(second.root_hash()), proof)
                  .ok());

  v1::GetInclusionProofRequest bad;
  bad.set_sequence(second.tree_size() + 100);
  v1::GetInclusionProofResponse bad_resp;
  EXPECT_EQ(dpo_->GetInclusionProof(Ctx().get(), bad, &bad_resp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  creq.set_first_tree_size(second.tree_size() + 1);
  EXPECT_EQ(dpo_->GetConsistencyProof(Ctx().get(), creq, &cresp).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(AuditServiceTest, ExportStreamsEveryRecordThenASignedHeadOverThem) {
  grpc::ClientContext ctx;
  auto reader = dpo_->ExportEvents(&ctx, v1::ExportEventsRequest());
  v1::ExportEventsResponse item;
  audit::TreeBuilder tree;
  std::vector<audit::Node> nodes;
  v1::SignedTreeHead head;
  uint64_t n = 0;
  while (reader->Read(&item)) {
    if (item.has_tree_head()) {
      head = item.tree_head();
      break;
    }
    v1::SharingEvent e;
    ASSERT_TRUE(e.ParseFromString(item.event_record()));
    EXPECT_EQ(e.sequence(), n++);
    tree.Append(audit::HashLeaf(item.event_record()), &nodes);
  }
  ASSERT_TRUE(reader->Finish().ok());
  EXPECT_EQ(head.tree_size(), n);
  EXPECT_EQ(H(head.root_hash()), tree.Root());
  ExpectSignedByHub(head);
}

}  // namespace
}  // namespace accord
