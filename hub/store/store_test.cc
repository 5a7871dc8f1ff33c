#include "hub/store/store.h"

#include <fstream>

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
