#include "hub/store/store.h"

#include <fstream>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace accord::store {
namespace {

using domain::Partner;
using domain::PartnerState;

Partner MakePartner(std::string id, std::string name) {
  Partner p;
  p.id = std::move(id);
  p.display_name = std::move(name);
  p.sector = ::accord::v1::SECTOR_SCHOOL;
  p.roles = {::accord::v1::ROLE_REFERRER, ::accord::v1::ROLE_PROVIDER};
  p.create_time = absl::FromUnixMillis(1'700'000'000'123);
  return p;
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.path() / "accord.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
  }
  testsupport::TempDir dir_;
  std::unique_ptr<Store> store_;
};

TEST_F(StoreTest, PartnerRoundTripsAndSurvivesReopen) {
  ASSERT_TRUE(store_->CreatePartner(MakePartner("oakfield", "Oakfield Primary")).ok());
  store_.reset();
  auto reopened = OpenSqliteStore(dir_.path() / "accord.db");
  ASSERT_TRUE(reopened.ok()) << reopened.status();
  auto p = (*reopened)->GetPartner("oakfield");
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->display_name, "Oakfield Primary");
  EXPECT_EQ(p->sector, ::accord::v1::SECTOR_SCHOOL);
  EXPECT_EQ(p->roles, MakePartner("x", "y").roles);
  EXPECT_EQ(p->state, PartnerState::kActive);
  EXPECT_EQ(p->create_time, absl::FromUnixMillis(1'700'000'000'123));
}

TEST_F(StoreTest, ReadsInASnapshotSeeOneStateAndOthersSeeTheLatest) {
  ASSERT_TRUE(store_->CreatePartner(MakePartner("oakfield", "Oakfield Primary")).ok());
  {
    auto snapshot = store_->SnapshotReads();
    ASSERT_TRUE(store_->GetPartner("oakfield").ok());  // the snapshot's state is fixed here
    ASSERT_TRUE(store_->CreatePartner(MakePartner("riverside", "Riverside Academy")).ok());
    EXPECT_TRUE(absl::IsNotFound(store_->GetPartner("riverside").status()));
    EXPECT_EQ(store_->ListPartners("", 10)->size(), 1u);
    {
      auto inner = store_->SnapshotReads();  // inside another: changes nothing
      EXPECT_TRUE(absl::IsNotFound(store_->GetPartner("riverside").status()));
    }
    EXPECT_TRUE(absl::IsNotFound(store_->GetPartner("riverside").status()));
    // Another thread is not inside this thread's snapshot.
    absl::Status elsewhere;
    std::thread([&] { elsewhere = store_->GetPartner("riverside").status(); }).join();
    EXPECT_TRUE(elsewhere.ok()) << elsewhere;
  }
  EXPECT_TRUE(store_->GetPartner("riverside").ok());
  EXPECT_EQ(store_->ListPartners("", 10)->size(), 2u);
}

TEST_F(StoreTest, DuplicatesAreRefusedNamingTheField) {
  ASSERT_TRUE(store_->CreatePartner(MakePartner("oakfield", "Oakfield Primary")).ok());
  absl::Status same_id = store_->CreatePartner(MakePartner("oakfield", "Other"));
  EXPECT_EQ(same_id.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(same_id.message().find("partner_id"), std::string::npos);
  absl::Status same_name = store_->CreatePartner(MakePartner("other", "Oakfield Primary"));
  EXPECT_EQ(same_name.code(), absl::StatusCode::kAlreadyExists);
  EXPECT_NE(same_name.message().find("display_name"), std::string::npos);
  EXPECT_EQ(store_->ListPartners("", 10)->size(), 1u);
}

TEST_F(StoreTest, ListPagesInIdOrder) {
  for (std::string id : {"delta", "alpha", "charlie", "bravo", "echo"}) {
    ASSERT_TRUE(store_->CreatePartner(MakePartner(id, id + " name")).ok());
  }
  auto first = store_->ListPartners("", 2);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 2u);
  EXPECT_EQ((*first)[0].id, "alpha");
  EXPECT_EQ((*first)[1].id, "bravo");
  auto rest = store_->ListPartners("bravo", 10);
  ASSERT_EQ(rest->size(), 3u);
  EXPECT_EQ((*rest)[2].id, "echo");
}

TEST_F(StoreTest, SuspendReinstateRevoke) {
  domain::Certificate cert{"abcd01", "oakfield", absl::Now() + absl::Hours(1), false};
  ASSERT_TRUE(store_->CreatePartnerWithCertificate(MakePartner("oakfield", "Oakfield"), cert).ok());
  auto s = store_->SetPartnerSuspended("oakfield", true, "audit pending");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(store_->FindCredential("abcd01")->partner.state, PartnerState::kSuspended);
  EXPECT_EQ(store_->FindCredential("abcd01")->partner.state_reason, "audit pending");
  ASSERT_TRUE(store_->SetPartnerSuspended("oakfield", false, "").ok());
  EXPECT_EQ(store_->GetPartner("oakfield")->state, PartnerState::kActive);
  ASSERT_TRUE(store_->RevokePartner("oakfield", "left the partnership").ok());
  auto cred = store_->FindCredential("abcd01");
  ASSERT_TRUE(cred.ok());
  EXPECT_TRUE(cred->certificate.revoked);
  EXPECT_EQ(cred->partner.state, PartnerState::kRevoked);
  EXPECT_EQ(store_->SetPartnerSuspended("oakfield", false, "").status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->SetPartnerSuspended("nobody", true, "x").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, CertificatesBelongToExistingPartners) {
  EXPECT_EQ(store_->FindCredential("ffff").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->AddCertificate({"ffff", "nobody", absl::Now(), false}).code(), absl::StatusCode::kNotFound);
  // A failed CreatePartnerWithCertificate leaves neither behind.
  ASSERT_TRUE(store_->CreatePartner(MakePartner("oakfield", "Oakfield")).ok());
  domain::Certificate cert{"0001", "elmwood", absl::Now(), false};
  EXPECT_FALSE(store_->CreatePartnerWithCertificate(MakePartner("elmwood", "Oakfield"), cert).ok());
  EXPECT_EQ(store_->GetPartner("elmwood").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store_->FindCredential("0001").status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, AgreementsNeedExistingPartners) {
  ASSERT_TRUE(store_->CreatePartner(MakePartner("oakfield", "Oakfield")).ok());
  domain::SharingAgreement a;
  a.discloser.partner_id = "oakfield";
  a.recipient.sector = ::accord::v1::SECTOR_HEALTH;
  a.purposes = {::accord::v1::PURPOSE_REFERRAL};
  a.categories = {::accord::v1::DATA_CATEGORY_IDENTITY, ::accord::v1::DATA_CATEGORY_SEN};
  a.valid_from = absl::FromUnixMillis(1000);
  a.valid_until = absl::FromUnixMillis(2000);
  a.creator_id = "oakfield";
  auto stored = store_->CreateAgreement(a);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->id.size(), 16u);
  auto listed = store_->ListAgreements("", 10);
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_EQ((*listed)[0].categories, a.categories);
  EXPECT_EQ((*listed)[0].recipient.sector, ::accord::v1::SECTOR_HEALTH);
  EXPECT_TRUE((*listed)[0].recipient.partner_id.empty());
  EXPECT_EQ((*listed)[0].valid_until, absl::FromUnixMillis(2000));

  a.recipient.partner_id = "ghost";
  auto refused = store_->CreateAgreement(a);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("sharing_agreement.recipient.partner"), std::string::npos);
  EXPECT_EQ(store_->ListAgreements("", 10)->size(), 1u);
}

SubjectRecord Record(std::string partner, std::string nhs, std::string given, std::string family,
                     std::string birth) {
  SubjectRecord r;
  r.partner_id = std::move(partner);
  r.person.nhs_number = std::move(nhs);
  r.person.given_name = std::move(given);
  r.person.family_name = std::move(family);
  r.person.birth_date = std::move(birth);
  r.create_time = absl::FromUnixMillis(1'700'000'000'000);
  return r;
}

// A match function that answers as told and records what it was shown.
struct ScriptedMatch {
  domain::MatchResult answer;
  std::vector<domain::PersonRecord> seen;
  MatchFn fn() {
    return [this](absl::Span<const domain::PersonRecord> records) {
      seen.assign(records.begin(), records.end());
      return answer;
    };
  }
};

class SubjectStoreTest : public StoreTest {
 protected:
  void SetUp() override {
    StoreTest::SetUp();
    ASSERT_TRUE(store_->CreatePartner(MakePartner("school", "School")).ok());
    ASSERT_TRUE(store_->CreatePartner(MakePartner("health", "Health")).ok());
  }
};

TEST_F(SubjectStoreTest, IdentifierMatchesLinkAndKeepEachHoldersRecord) {
  ScriptedMatch none;
  auto created = store_->ResolveSubject(Record("school", "9434765919", "Jo", "Smith", "2014-05-03"), none.fn(), false, nullptr);
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(created->outcome, ResolveOutcome::kCreated);
  const std::string id = created->record.person.subject_id;
  auto linked = store_->ResolveSubject(Record("health", "9434765919", "Joe", "Smyth", ""), none.fn(), false, nullptr);
  ASSERT_TRUE(linked.ok());
  EXPECT_EQ(linked->outcome, ResolveOutcome::kMatchedIdentifier);
  EXPECT_EQ(linked->record.person.subject_id, id);
  EXPECT_EQ(store_->GetSubjectRecord(id, "school")->person.given_name, "Jo");
  EXPECT_EQ(store_->GetSubjectRecord(id, "health")->person.given_name, "Joe");
  auto holders = store_->ListSubjectHolders(id);
  ASSERT_TRUE(holders.ok()) << holders.status();
  ASSERT_EQ(holders->size(), 2u);
  EXPECT_EQ((*holders)[0].partner_id, "health");
  EXPECT_EQ((*holders)[1].partner_id, "school");
  EXPECT_TRUE(store_->ListSubjectHolders("0000000000000000")->empty());
}

TEST_F(SubjectStoreTest, AmbiguousWritesNothingUnlessConfirmedNew) {
  ScriptedMatch none;
  auto first = store_->ResolveSubject(Record("school", "", "Amy", "Jones", "2015-01-01"), none.fn(), false, nullptr);
  ASSERT_TRUE(first.ok());
  ScriptedMatch ambiguous;
  ambiguous.answer.outcome = domain::MatchOutcome::kAmbiguous;
  ambiguous.answer.candidates = {{first->record.person.subject_id, 9, {"family_name", "birth_date"}}};
  auto asked = store_->ResolveSubject(Record("health", "", "Beth", "Jones", "2015-01-01"), ambiguous.fn(), false, nullptr);
  ASSERT_TRUE(asked.ok());
  EXPECT_EQ(asked->outcome, ResolveOutcome::kAmbiguous);
  ASSERT_EQ(ambiguous.seen.size(), 1u);  // the record sharing the birth date was offered to the match
  EXPECT_EQ(ambiguous.seen[0].given_name, "Amy");
  EXPECT_EQ(store_->GetSubjectRecord(first->record.person.subject_id, "health").status().code(),
            absl::StatusCode::kNotFound);
  auto confirmed = store_->ResolveSubject(Record("health", "", "Beth", "Jones", "2015-01-01"), ambiguous.fn(), true, nullptr);
  ASSERT_TRUE(confirmed.ok());
  EXPECT_EQ(confirmed->outcome, ResolveOutcome::kCreated);
  EXPECT_NE(confirmed->record.person.subject_id, first->record.person.subject_id);
}

TEST_F(SubjectStoreTest, IdentifiersOfTwoSubjectsConflict) {
  ScriptedMatch none;
  ASSERT_TRUE(store_->ResolveSubject(Record("school", "9434765919", "Jo", "Smith", ""), none.fn(), false, nullptr).ok());
  SubjectRecord upn_only = Record("school", "", "Sam", "Brown", "");
  upn_only.person.upn = "B801200005001";
  ASSERT_TRUE(store_->ResolveSubject(upn_only, none.fn(), false, nullptr).ok());
  SubjectRecord both = Record("health", "9434765919", "", "", "");
  both.person.upn = "B801200005001";
  EXPECT_EQ(store_->ResolveSubject(both, none.fn(), false, nullptr).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(SubjectStoreTest, ConsentsRoundTripAndFailedUpdatesChangeNothing) {
  ScriptedMatch none;
  auto subject = store_->ResolveSubject(Record("school", "9434765919", "Jo", "Smith", ""), none.fn(), false, nullptr);
  domain::Consent c;
  c.subject_id = subject->record.person.subject_id;
  c.given_by = domain::ConsentGiver::kParentCarer;
  c.purposes = {::accord::v1::PURPOSE_REFERRAL};
  c.categories = {::accord::v1::DATA_CATEGORY_IDENTITY, ::accord::v1::DATA_CATEGORY_SEN};
  c.recipients = {domain::Party{"health", {}}, domain::Party{"", ::accord::v1::SECTOR_EARLY_HELP}};
  c.valid_from = absl::FromUnixMillis(1000);
  c.valid_until = absl::FromUnixMillis(9000);
  c.recorded_by = "school";
  c.evidence = "form";
  c.create_time = absl::FromUnixMillis(1000);
  auto stored = store_->CreateConsent(c, nullptr);
  ASSERT_TRUE(stored.ok()) << stored.status();
  auto read = store_->GetConsent(stored->id);
  ASSERT_TRUE(read.ok());
  EXPECT_EQ(read->recipients.size(), 2u);
  EXPECT_EQ(read->recipients[0].partner_id, "health");
  EXPECT_EQ(read->recipients[1].sector, ::accord::v1::SECTOR_EARLY_HELP);
  EXPECT_FALSE(read->withdrawn_at.has_value());

  auto refused = store_->UpdateConsent(stored->id, [](domain::Consent& consent) {
    consent.evidence = "changed";
    return absl::PermissionDeniedError("no");
  }, nullptr);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->GetConsent(stored->id)->evidence, "form");
  auto withdrawn = store_->UpdateConsent(stored->id, [](domain::Consent& consent) {
    return domain::WithdrawConsent(consent, absl::FromUnixMillis(5000));
  }, nullptr);
  ASSERT_TRUE(withdrawn.ok());
  EXPECT_EQ(store_->GetConsent(stored->id)->withdrawn_at, absl::FromUnixMillis(5000));
  EXPECT_EQ(store_->ListConsents(c.subject_id)->size(), 1u);
}

TEST(StoreOpenTest, CorruptFileIsNamed) {
  testsupport::TempDir dir;
  auto file = dir.path() / "accord.db";
  std::ofstream(file) << std::string(8192, 'x');
  auto s = OpenSqliteStore(file);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(s.status().message().find(file.string()), std::string::npos) << s.status();
}

TEST(StoreOpenTest, UnwritableDirectoryIsRefused) {
  auto s = OpenSqliteStore("/nonexistent-dir/accord.db");
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("/nonexistent-dir/accord.db"), std::string::npos) << s.status();
}

}  // namespace
}  // namespace accord::store
