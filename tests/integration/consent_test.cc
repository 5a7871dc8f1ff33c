// ConsentService over real mTLS: recording with a signed receipt, withdrawal taking effect on the
// very next decision, expiry, one partner's consent not covering another of the same sector,
// category-by-category minimisation, safeguarding, and every refusal.
#include <grpcpp/grpcpp.h>
#include <sqlite3.h>

#include <fstream>
#include <future>
#include <thread>

#include "absl/time/clock.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "google/protobuf/util/json_util.h"
#include "gtest/gtest.h"
#include "hub/audit/consent_receipt.h"
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

google::protobuf::Timestamp At(absl::Time t) {
  google::protobuf::Timestamp ts;
  ts.set_seconds(absl::ToUnixSeconds(t));
  return ts;
}

class ConsentTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto admin = hub_.Enrol("ops", "Accord Operations", "LOCAL_AUTHORITY", "ADMIN");
    auto school = hub_.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    auto camhs = hub_.Enrol("camhs", "Riverside CAMHS", "HEALTH", "PROVIDER");
    auto northside = hub_.Enrol("northside", "Northside CAMHS", "HEALTH", "PROVIDER");
    auto dpo = hub_.Enrol("dpo", "County DPO", "LOCAL_AUTHORITY", "DPO");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    school_ = v1::ConsentService::NewStub(hub_.Channel(school));
    camhs_ = v1::ConsentService::NewStub(hub_.Channel(camhs));
    dpo_ = v1::ConsentService::NewStub(hub_.Channel(dpo));

    // Schools may send these categories to any health partner for referral.
    v1::CreateSharingAgreementRequest agreement;
    v1::SharingAgreement* a = agreement.mutable_sharing_agreement();
    a->mutable_discloser()->set_sector(v1::SECTOR_SCHOOL);
    a->mutable_recipient()->set_sector(v1::SECTOR_HEALTH);
    a->add_purposes(v1::PURPOSE_REFERRAL);
    for (auto c : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_SEN,
                   v1::DATA_CATEGORY_MENTAL_HEALTH}) {
      a->add_data_categories(c);
    }
    *a->mutable_valid_until() = At(absl::Now() + absl::Hours(24 * 365));
    v1::CreateSharingAgreementResponse made;
    ASSERT_TRUE(v1::PartnerAdmin::NewStub(hub_.Channel(admin))->CreateSharingAgreement(Ctx().get(), agreement, &made).ok());

    subject_ = ResolveAs(school, "9434765919");
  }

  std::string ResolveAs(const std::filesystem::path& bundle, const std::string& nhs) {
    v1::ResolveSubjectRequest req;
    req.mutable_identifiers()->set_nhs_number(nhs);
    v1::ResolveSubjectResponse resp;
    grpc::Status s = v1::SubjectService::NewStub(hub_.Channel(bundle))->ResolveSubject(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.subject().name();
  }

  v1::RecordConsentRequest ConsentTo(const std::string& recipient, std::vector<v1::DataCategory> categories) {
    v1::RecordConsentRequest req;
    v1::Consent* c = req.mutable_consent();
    c->set_subject(subject_);
    c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
    c->add_purposes(v1::PURPOSE_REFERRAL);
    for (auto cat : categories) c->add_data_categories(cat);
    c->add_recipients()->set_partner(recipient);
    *c->mutable_valid_until() = At(absl::Now() + absl::Hours(24 * 180));
    c->set_evidence("Consent form signed by mother at meeting with SENCO, 2026-11-20");
    return req;
  }

  v1::RecordConsentResponse Record(v1::ConsentService::Stub& stub, const v1::RecordConsentRequest& req,
                                   grpc::Status* status = nullptr) {
    v1::RecordConsentResponse resp;
    grpc::Status s = stub.RecordConsent(Ctx().get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  v1::CheckSharingResponse Check(v1::ConsentService::Stub& stub, const std::string& recipient,
                                 std::vector<v1::DataCategory> categories, grpc::Status* status = nullptr,
                                 const std::string& discloser = "") {
    v1::CheckSharingRequest req;
    req.set_subject(subject_);
    req.set_discloser(discloser);
    req.set_recipient(recipient);
    req.set_purpose(v1::PURPOSE_REFERRAL);
    for (auto c : categories) req.add_data_categories(c);
    v1::CheckSharingResponse resp;
    grpc::Status s = stub.CheckSharing(Ctx().get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  int ConsentCount() {
    v1::ListConsentsRequest req;
    req.set_subject(subject_);
    v1::ListConsentsResponse resp;
    EXPECT_TRUE(school_->ListConsents(Ctx().get(), req, &resp).ok());
    return resp.consents_size();
  }

  HubProcess hub_;
  std::unique_ptr<v1::ConsentService::Stub> school_, camhs_, dpo_;
  std::string subject_;
};

void ExpectInvalid(const grpc::Status& s, const std::string& field) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message().rfind(field, 0), 0u) << "want " << field << " first in: " << s.error_message();
}

// A write that cannot commit — here another process holds the database's write lock, as a long
// `accordctl subject erase --expired` sweep would — holds up the writes waiting for it, not the
// hub: writes wait on worker threads, so decisions are answered meanwhile, and the writes complete
// once the lock is released. (Waiting on gRPC's callback threads, two such writes held every one
// of them on a 2-core machine, and every other call waited for the lock too.)
TEST_F(ConsentTest, AStalledWriteHoldsUpOnlyTheWritesWaitingForIt) {
  const int before = ConsentCount();
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2((hub_.data_dir() / "accord.db").c_str(), &db, SQLITE_OPEN_READWRITE, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db, "BEGIN IMMEDIATE", nullptr, nullptr, nullptr), SQLITE_OK);
  std::vector<std::future<grpc::Status>> writes;
  for (int i = 0; i < 4; ++i) {
    writes.push_back(std::async(std::launch::async, [this] {
      grpc::Status s;
      Record(*school_, ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY}), &s);
      return s;
    }));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the writes wait for the lock now
  for (int i = 0; i < 3; ++i) Check(*school_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  for (auto& w : writes) {
    EXPECT_NE(w.wait_for(std::chrono::seconds(0)), std::future_status::ready)
        << "a write finished before the lock was released";
  }
  ASSERT_EQ(sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr), SQLITE_OK);
  sqlite3_close(db);
  for (auto& w : writes) {
    grpc::Status s = w.get();
    EXPECT_TRUE(s.ok()) << s.error_message();
  }
  EXPECT_EQ(ConsentCount(), before + 4);
}

TEST_F(ConsentTest, RecordedConsentComesWithAReceiptAnyoneCanVerify) {
  auto resp = Record(*school_, ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_SEN}));
  EXPECT_EQ(resp.consent().state(), v1::CONSENT_STATE_ACTIVE);
  EXPECT_EQ(resp.consent().recorder(), "partners/oakfield");
  EXPECT_EQ(resp.receipt().algorithm(), "Ed25519");

  auto key = audit::VerifyingKey::FromPem(*security::ReadFile(hub_.data_dir() / "keys/signing.pub"));
  ASSERT_TRUE(key.ok()) << key.status();
  auto payload = audit::VerifyConsentReceipt(resp.receipt(), *key);
  ASSERT_TRUE(payload.ok()) << payload.status();
  EXPECT_EQ(payload->consent().name(), resp.consent().name());
  EXPECT_EQ(payload->recorder_display_name(), "Oakfield Primary School");

  // One altered byte and it no longer verifies.
  v1::ConsentReceipt forged = resp.receipt();
  std::string bytes = forged.payload();
  bytes[bytes.size() / 2] ^= 0x01;
  forged.set_payload(bytes);
  EXPECT_FALSE(audit::VerifyConsentReceipt(forged, *key).ok());

  // Offline, with accordctl and nothing but the public key.
  std::string json;
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(resp.receipt(), &json).ok());
  auto good = hub_.data_dir() / "receipt.json";
  std::ofstream(good) << json;
  std::string out;
  EXPECT_EQ(testsupport::RunProgram({testsupport::AccordctlBinary(), "consent", "verify-receipt", good.string(),
                                     "--public-key", (hub_.data_dir() / "keys/signing.pub").string()},
                                    &out),
            0)
      << out;
  EXPECT_NE(out.find("Receipt verified"), std::string::npos) << out;
  EXPECT_NE(out.find("IDENTITY, SEN"), std::string::npos) << out;
  json.clear();
  ASSERT_TRUE(google::protobuf::util::MessageToJsonString(forged, &json).ok());
  auto bad = hub_.data_dir() / "forged.json";
  std::ofstream(bad) << json;
  EXPECT_NE(testsupport::RunProgram({testsupport::AccordctlBinary(), "consent", "verify-receipt", bad.string(),
                                     "--public-key", (hub_.data_dir() / "keys/signing.pub").string()},
                                    &out),
            0);
  EXPECT_NE(out.find("does not verify"), std::string::npos) << out;
}

TEST_F(ConsentTest, OnlyTheConsentedCategoriesAreAllowed) {
  Record(*school_, ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_SEN}));
  auto check = Check(*school_, "partners/camhs",
                     {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_SEN, v1::DATA_CATEGORY_MENTAL_HEALTH,
                      v1::DATA_CATEGORY_SAFEGUARDING});
  ASSERT_EQ(check.decisions_size(), 4);
  EXPECT_TRUE(check.decisions(0).allowed());
  EXPECT_EQ(check.decisions(0).reason_code(), "ALLOWED_BY_CONSENT");
  EXPECT_FALSE(check.decisions(0).consent().empty());
  EXPECT_FALSE(check.decisions(0).sharing_agreement().empty());
  EXPECT_TRUE(check.decisions(1).allowed());
  EXPECT_FALSE(check.decisions(2).allowed());  // agreed between the parties, but not consented to
  EXPECT_EQ(check.decisions(2).reason_code(), "NO_CONSENT");
  EXPECT_FALSE(check.decisions(3).allowed());  // not even in the agreement
  EXPECT_EQ(check.decisions(3).reason_code(), "NO_AGREEMENT");
  EXPECT_FALSE(check.dpo_alert());
}

TEST_F(ConsentTest, AConsentToOnePartnerDoesNotCoverAnotherOfTheSameSector) {
  Record(*school_, ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY}));
  EXPECT_TRUE(Check(*school_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY}).decisions(0).allowed());
  auto other = Check(*school_, "partners/northside", {v1::DATA_CATEGORY_IDENTITY});
  EXPECT_FALSE(other.decisions(0).allowed());
  EXPECT_EQ(other.decisions(0).reason_code(), "NO_CONSENT");
  // A consent naming the sector covers both.
  auto sector = ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  sector.mutable_consent()->mutable_recipients(0)->set_sector(v1::SECTOR_HEALTH);
  Record(*school_, sector);
  EXPECT_TRUE(Check(*school_, "partners/northside", {v1::DATA_CATEGORY_IDENTITY}).decisions(0).allowed());
}

TEST_F(ConsentTest, WithdrawalTakesEffectOnTheVeryNextDecision) {
  auto recorded = Record(*school_, ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY}));
  EXPECT_TRUE(Check(*school_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY}).decisions(0).allowed());
  v1::WithdrawConsentRequest req;
  req.set_name(recorded.consent().name());
  req.set_reason("Parent phoned the school office");
  v1::WithdrawConsentResponse resp;
  ASSERT_TRUE(school_->WithdrawConsent(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.consent().state(), v1::CONSENT_STATE_WITHDRAWN);
  EXPECT_GT(resp.consent().withdraw_time().seconds(), 0);
  auto after = Check(*school_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  EXPECT_FALSE(after.decisions(0).allowed());
  EXPECT_EQ(after.decisions(0).reason_code(), "CONSENT_WITHDRAWN");
  // Withdrawn once is enough.
  EXPECT_EQ(school_->WithdrawConsent(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

TEST_F(ConsentTest, AnExpiredConsentAllowsNothing) {
  auto old = ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  *old.mutable_consent()->mutable_valid_from() = At(absl::Now() - absl::Hours(24 * 400));
  *old.mutable_consent()->mutable_valid_until() = At(absl::Now() - absl::Hours(24 * 35));
  auto recorded = Record(*school_, old);
  EXPECT_EQ(recorded.consent().state(), v1::CONSENT_STATE_EXPIRED);
  auto check = Check(*school_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  EXPECT_FALSE(check.decisions(0).allowed());
  EXPECT_EQ(check.decisions(0).reason_code(), "CONSENT_EXPIRED");
}

TEST_F(ConsentTest, SafeguardingNeedsAJustificationAndAlertsTheDpos) {
  v1::CheckSharingRequest req;
  req.set_subject(subject_);
  req.set_recipient("partners/camhs");
  req.set_purpose(v1::PURPOSE_REFERRAL);
  req.add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
  req.mutable_lawful_basis()->set_kind(v1::LAWFUL_BASIS_KIND_SAFEGUARDING);
  v1::CheckSharingResponse resp;
  ExpectInvalid(school_->CheckSharing(Ctx().get(), req, &resp), "lawful_basis.justification");
  req.mutable_lawful_basis()->set_justification("Disclosure of self-harm; risk of significant harm");
  ASSERT_TRUE(school_->CheckSharing(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.decisions_size(), 1);
  EXPECT_TRUE(resp.decisions(0).allowed());
  EXPECT_EQ(resp.decisions(0).reason_code(), "ALLOWED_BY_SAFEGUARDING");
  EXPECT_TRUE(resp.dpo_alert());
}

TEST_F(ConsentTest, CheckSharingRefusals) {
  grpc::Status s;
  Check(*school_, "partners/camhs", {}, &s);
  ExpectInvalid(s, "data_categories");
  Check(*school_, "partners/camhs", {static_cast<v1::DataCategory>(42)}, &s);
  ExpectInvalid(s, "data_categories[0]");
  Check(*school_, "partners/nobody", {v1::DATA_CATEGORY_IDENTITY}, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND);
  v1::CheckSharingRequest bad;
  bad.set_subject(subject_);
  bad.set_recipient("partners/camhs");
  bad.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  v1::CheckSharingResponse resp;
  ExpectInvalid(school_->CheckSharing(Ctx().get(), bad, &resp), "purpose");
  // Health does not hold this child, and may not ask about sharing between two other partners.
  Check(*camhs_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY}, &s, "partners/oakfield");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  Check(*camhs_, "partners/northside", {v1::DATA_CATEGORY_IDENTITY}, &s, "partners/oakfield");
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  // A DPO may check any sharing.
  auto dpo = Check(*dpo_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY}, &s, "partners/oakfield");
  EXPECT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(dpo.decisions(0).reason_code(), "NO_CONSENT");
}

TEST_F(ConsentTest, RecordConsentRefusalsStoreNothing) {
  grpc::Status s;
  auto req = ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  req.mutable_consent()->set_purposes(0, static_cast<v1::Purpose>(99));
  Record(*school_, req, &s);
  ExpectInvalid(s, "consent.purposes[0]");
  req = ConsentTo("partners/camhs", {static_cast<v1::DataCategory>(0)});
  Record(*school_, req, &s);
  ExpectInvalid(s, "consent.data_categories[0]");
  req = ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  *req.mutable_consent()->mutable_valid_from() = At(absl::Now() + absl::Hours(48));
  *req.mutable_consent()->mutable_valid_until() = At(absl::Now() + absl::Hours(24));
  Record(*school_, req, &s);
  ExpectInvalid(s, "consent.valid_until");
  req = ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  req.mutable_consent()->set_evidence("  ");
  Record(*school_, req, &s);
  ExpectInvalid(s, "consent.evidence");
  req = ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  req.mutable_consent()->set_given_by(v1::CONSENT_GIVER_UNSPECIFIED);
  Record(*school_, req, &s);
  ExpectInvalid(s, "consent.given_by");
  req = ConsentTo("partners/ghost", {v1::DATA_CATEGORY_IDENTITY});
  Record(*school_, req, &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  req = ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY});
  Record(*camhs_, req, &s);  // health does not hold this child
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  Record(*dpo_, req, &s);  // a DPO records nothing
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_EQ(ConsentCount(), 0);
}

TEST_F(ConsentTest, OnlyTheRecorderMayWithdraw) {
  auto recorded = Record(*school_, ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY}));
  ResolveAs(hub_.data_dir() / "bundles/camhs", "9434765919");  // health now holds the child too
  v1::WithdrawConsentRequest req;
  req.set_name(recorded.consent().name());
  req.set_reason("asked to");
  v1::WithdrawConsentResponse resp;
  grpc::Status s = camhs_->WithdrawConsent(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  req.set_reason("");
  ExpectInvalid(school_->WithdrawConsent(Ctx().get(), req, &resp), "reason");
  req.set_reason("x");
  req.set_name("consents/ffffffffffffffff");
  EXPECT_EQ(school_->WithdrawConsent(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  // Still active.
  EXPECT_TRUE(Check(*school_, "partners/camhs", {v1::DATA_CATEGORY_IDENTITY}).decisions(0).allowed());
}

TEST_F(ConsentTest, ListConsentsNewestFirstWithTheirStateNow) {
  auto first = Record(*school_, ConsentTo("partners/camhs", {v1::DATA_CATEGORY_IDENTITY}));
  auto second = Record(*school_, ConsentTo("partners/northside", {v1::DATA_CATEGORY_SEN}));
  v1::WithdrawConsentRequest w;
  w.set_name(first.consent().name());
  w.set_reason("changed mind");
  v1::WithdrawConsentResponse wr;
  ASSERT_TRUE(school_->WithdrawConsent(Ctx().get(), w, &wr).ok());
  v1::ListConsentsRequest req;
  req.set_subject(subject_);
  v1::ListConsentsResponse resp;
  ASSERT_TRUE(school_->ListConsents(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.consents_size(), 2);
  EXPECT_EQ(resp.consents(1).name(), first.consent().name());
  EXPECT_EQ(resp.consents(1).state(), v1::CONSENT_STATE_WITHDRAWN);
  EXPECT_EQ(resp.consents(0).state(), v1::CONSENT_STATE_ACTIVE);
  EXPECT_EQ(camhs_->ListConsents(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(dpo_->ListConsents(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace accord
