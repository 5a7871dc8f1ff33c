// PartnerAdmin over real mTLS: each RPC's allowed path, its wrong-role refusal and its
// invalid-argument paths, with "nothing changed" checked after every refusal.
#include <grpcpp/grpcpp.h>

#include "absl/time/clock.h"
#include "accord/sdk/client.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "gtest/gtest.h"
#include "hub/security/ca.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

class PartnerAdminTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto admin = hub_.Enrol("ops", "Accord Operations", "LOCAL_AUTHORITY", "ADMIN");
    auto school = hub_.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    admin_ = v1::PartnerAdmin::NewStub(hub_.Channel(admin));
    school_ = v1::PartnerAdmin::NewStub(hub_.Channel(school));
  }

  static std::unique_ptr<grpc::ClientContext> Ctx() {
    auto ctx = std::make_unique<grpc::ClientContext>();
    ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return ctx;
  }

  grpc::Status Register(v1::PartnerAdmin::Stub& stub, const std::string& id, const std::string& name,
                        v1::Sector sector, std::vector<v1::Role> roles, v1::RegisterPartnerResponse* out = nullptr,
                        const std::string& csr = "") {
    v1::RegisterPartnerRequest req;
    req.set_partner_id(id);
    req.mutable_partner()->set_display_name(name);
    req.mutable_partner()->set_sector(sector);
    for (auto r : roles) req.mutable_partner()->add_roles(r);
    req.set_csr_pem(csr);
    v1::RegisterPartnerResponse resp;
    return stub.RegisterPartner(Ctx().get(), req, out ? out : &resp);
  }

  std::vector<v1::Partner> AllPartners() {
    v1::ListPartnersRequest req;
    req.set_page_size(1000);
    v1::ListPartnersResponse resp;
    EXPECT_TRUE(admin_->ListPartners(Ctx().get(), req, &resp).ok());
    return {resp.partners().begin(), resp.partners().end()};
  }

  int AgreementCount() {
    v1::ListSharingAgreementsRequest req;
    req.set_page_size(1000);
    v1::ListSharingAgreementsResponse resp;
    EXPECT_TRUE(admin_->ListSharingAgreements(Ctx().get(), req, &resp).ok());
    return resp.sharing_agreements_size();
  }

  static v1::CreateSharingAgreementRequest SchoolsToCamhs() {
    v1::CreateSharingAgreementRequest req;
    v1::SharingAgreement* a = req.mutable_sharing_agreement();
    a->mutable_discloser()->set_sector(v1::SECTOR_SCHOOL);
    a->mutable_recipient()->set_partner("partners/camhs");
    a->add_purposes(v1::PURPOSE_REFERRAL);
    a->add_data_categories(v1::DATA_CATEGORY_IDENTITY);
    a->add_data_categories(v1::DATA_CATEGORY_SEN);
    a->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 365)));
    a->set_description("Schools to CAMHS referral ISA 2026");
    return req;
  }

  HubProcess hub_;
  std::unique_ptr<v1::PartnerAdmin::Stub> admin_;
  std::unique_ptr<v1::PartnerAdmin::Stub> school_;
};

void ExpectInvalid(const grpc::Status& s, const std::string& field) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_NE(s.error_message().find(field), std::string::npos) << "want field " << field << " in: " << s.error_message();
}

void ExpectWrongRole(const grpc::Status& s) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("ROLE_ADMIN"), std::string::npos) << s.error_message();
}

TEST_F(PartnerAdminTest, RegisterPartner) {
  v1::RegisterPartnerResponse resp;
  ASSERT_TRUE(Register(*admin_, "camhs", "Riverside CAMHS", v1::SECTOR_HEALTH, {v1::ROLE_PROVIDER}, &resp).ok());
  EXPECT_EQ(resp.partner().name(), "partners/camhs");
  EXPECT_EQ(resp.partner().state(), v1::PARTNER_STATE_ACTIVE);
  EXPECT_TRUE(resp.certificate_pem().empty());
  EXPECT_FALSE(resp.ca_certificate_pem().empty());
  // Without an id, one is made from the name.
  ASSERT_TRUE(Register(*admin_, "", "Brightside Mentoring", v1::SECTOR_VOLUNTARY, {v1::ROLE_PROVIDER}, &resp).ok());
  EXPECT_EQ(resp.partner().name(), "partners/brightside-mentoring");
  EXPECT_EQ(AllPartners().size(), 4u);
}

TEST_F(PartnerAdminTest, RegisterPartnerWithACsrGivesAWorkingCertificate) {
  auto csr = security::MakeCertificateRequest("anything");
  ASSERT_TRUE(csr.ok());
  v1::RegisterPartnerResponse resp;
  ASSERT_TRUE(Register(*admin_, "la-admin", "County Council IT", v1::SECTOR_LOCAL_AUTHORITY, {v1::ROLE_ADMIN}, &resp,
                       csr->first)
                  .ok());
  ASSERT_FALSE(resp.certificate_pem().empty());
  sdk::Credentials creds{resp.certificate_pem(), csr->second, resp.ca_certificate_pem(), ""};
  auto stub = v1::PartnerAdmin::NewStub(sdk::OpenChannel(creds, hub_.address()));
  v1::GetPartnerRequest req;
  req.set_name("partners/la-admin");
  v1::GetPartnerResponse got;
  grpc::Status s = stub->GetPartner(Ctx().get(), req, &got);
  ASSERT_TRUE(s.ok()) << s.error_message();
  EXPECT_EQ(got.partner().display_name(), "County Council IT");
}

TEST_F(PartnerAdminTest, RegisterPartnerRefusals) {
  ExpectWrongRole(Register(*school_, "camhs", "Riverside CAMHS", v1::SECTOR_HEALTH, {v1::ROLE_PROVIDER}));
  ExpectInvalid(Register(*admin_, "camhs", "", v1::SECTOR_HEALTH, {v1::ROLE_PROVIDER}), "partner.display_name");
  ExpectInvalid(Register(*admin_, "camhs", "Riverside CAMHS", v1::SECTOR_UNSPECIFIED, {v1::ROLE_PROVIDER}),
                "partner.sector");
  ExpectInvalid(Register(*admin_, "camhs", "Riverside CAMHS", v1::SECTOR_HEALTH, {}), "partner.roles");
  ExpectInvalid(Register(*admin_, "camhs", "Riverside CAMHS", v1::SECTOR_HEALTH, {static_cast<v1::Role>(77)}),
                "partner.roles[0]");
  ExpectInvalid(Register(*admin_, "Bad Id", "Riverside CAMHS", v1::SECTOR_HEALTH, {v1::ROLE_PROVIDER}), "partner_id");
  ExpectInvalid(Register(*admin_, "camhs", "Riverside CAMHS", v1::SECTOR_HEALTH, {v1::ROLE_PROVIDER}, nullptr,
                         "not a csr"),
                "csr_pem");
  grpc::Status dup = Register(*admin_, "oakfield", "Another name", v1::SECTOR_SCHOOL, {v1::ROLE_REFERRER});
  EXPECT_EQ(dup.error_code(), grpc::StatusCode::ALREADY_EXISTS) << dup.error_message();
  grpc::Status dup_name = Register(*admin_, "oak2", "Oakfield Primary School", v1::SECTOR_SCHOOL, {v1::ROLE_REFERRER});
  EXPECT_EQ(dup_name.error_code(), grpc::StatusCode::ALREADY_EXISTS) << dup_name.error_message();
  EXPECT_EQ(AllPartners().size(), 2u);  // nothing registered
}

TEST_F(PartnerAdminTest, GetPartner) {
  v1::GetPartnerRequest req;
  req.set_name("partners/oakfield");
  v1::GetPartnerResponse resp;
  ASSERT_TRUE(admin_->GetPartner(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.partner().display_name(), "Oakfield Primary School");
  EXPECT_EQ(resp.partner().sector(), v1::SECTOR_SCHOOL);
  ASSERT_EQ(resp.partner().roles_size(), 1);
  EXPECT_EQ(resp.partner().roles(0), v1::ROLE_REFERRER);
  EXPECT_GT(resp.partner().create_time().seconds(), 0);

  ExpectWrongRole(school_->GetPartner(Ctx().get(), req, &resp));
  req.set_name("oakfield");
  ExpectInvalid(admin_->GetPartner(Ctx().get(), req, &resp), "name");
  req.set_name("partners/nobody");
  EXPECT_EQ(admin_->GetPartner(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(PartnerAdminTest, ListPartnersPages) {
  for (std::string id : {"alpha-school", "bravo-school", "charlie-school"}) {
    ASSERT_TRUE(Register(*admin_, id, id + " name", v1::SECTOR_SCHOOL, {v1::ROLE_REFERRER}).ok());
  }
  std::vector<std::string> seen;
  v1::ListPartnersRequest req;
  req.set_page_size(2);
  int pages = 0;
  do {
    v1::ListPartnersResponse resp;
    ASSERT_TRUE(admin_->ListPartners(Ctx().get(), req, &resp).ok());
    for (const auto& p : resp.partners()) seen.push_back(p.name());
    req.set_page_token(resp.next_page_token());
    ++pages;
  } while (!req.page_token().empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  EXPECT_EQ(seen, (std::vector<std::string>{"partners/alpha-school", "partners/bravo-school",
                                            "partners/charlie-school", "partners/oakfield", "partners/ops"}));

  v1::ListPartnersResponse resp;
  ExpectWrongRole(school_->ListPartners(Ctx().get(), v1::ListPartnersRequest(), &resp));
  v1::ListPartnersRequest bad;
  bad.set_page_size(-1);
  ExpectInvalid(admin_->ListPartners(Ctx().get(), bad, &resp), "page_size");
  bad.set_page_size(0);
  bad.set_page_token("forged");
  ExpectInvalid(admin_->ListPartners(Ctx().get(), bad, &resp), "page_token");
}

TEST_F(PartnerAdminTest, SuspendAndReinstatePartner) {
  v1::SuspendPartnerRequest req;
  req.set_name("partners/oakfield");
  req.set_reason("data breach inquiry");
  v1::SuspendPartnerResponse resp;
  ExpectWrongRole(school_->SuspendPartner(Ctx().get(), req, &resp));
  ASSERT_TRUE(admin_->SuspendPartner(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.partner().state(), v1::PARTNER_STATE_SUSPENDED);
  EXPECT_EQ(resp.partner().state_reason(), "data breach inquiry");
  // The suspended school is refused at once, whatever it calls.
  v1::GetPartnerResponse got;
  v1::GetPartnerRequest get;
  get.set_name("partners/oakfield");
  grpc::Status refused = school_->GetPartner(Ctx().get(), get, &got);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(refused.error_message().find("suspended"), std::string::npos);

  v1::ReinstatePartnerRequest back;
  back.set_name("partners/oakfield");
  v1::ReinstatePartnerResponse back_resp;
  // A suspended partner cannot lift its own suspension.
  EXPECT_EQ(school_->ReinstatePartner(Ctx().get(), back, &back_resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  ASSERT_TRUE(admin_->ReinstatePartner(Ctx().get(), back, &back_resp).ok());
  EXPECT_EQ(back_resp.partner().state(), v1::PARTNER_STATE_ACTIVE);
  // Back to a plain wrong-role refusal: the suspension is gone.
  ExpectWrongRole(school_->GetPartner(Ctx().get(), get, &got));
}

TEST_F(PartnerAdminTest, SuspendPartnerRefusals) {
  v1::SuspendPartnerRequest req;
  v1::SuspendPartnerResponse resp;
  req.set_name("partners/oakfield");
  ExpectInvalid(admin_->SuspendPartner(Ctx().get(), req, &resp), "reason");
  req.set_reason("x");
  req.set_name("oakfield");
  ExpectInvalid(admin_->SuspendPartner(Ctx().get(), req, &resp), "name");
  req.set_name("partners/nobody");
  EXPECT_EQ(admin_->SuspendPartner(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
  req.set_name("partners/ops");
  EXPECT_EQ(admin_->SuspendPartner(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  for (const auto& p : AllPartners()) EXPECT_EQ(p.state(), v1::PARTNER_STATE_ACTIVE) << p.name();
}

TEST_F(PartnerAdminTest, CreateAndListSharingAgreements) {
  ASSERT_TRUE(Register(*admin_, "camhs", "Riverside CAMHS", v1::SECTOR_HEALTH, {v1::ROLE_PROVIDER}).ok());
  v1::CreateSharingAgreementResponse resp;
  grpc::Status s = admin_->CreateSharingAgreement(Ctx().get(), SchoolsToCamhs(), &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  const v1::SharingAgreement& a = resp.sharing_agreement();
  EXPECT_EQ(a.name().rfind("sharingAgreements/", 0), 0u);
  EXPECT_EQ(a.creator(), "partners/ops");
  EXPECT_EQ(a.recipient().partner(), "partners/camhs");
  EXPECT_EQ(a.discloser().sector(), v1::SECTOR_SCHOOL);
  EXPECT_GT(a.valid_from().seconds(), 0);  // defaulted to now
  ASSERT_TRUE(admin_->CreateSharingAgreement(Ctx().get(), SchoolsToCamhs(), &resp).ok());
  ASSERT_TRUE(admin_->CreateSharingAgreement(Ctx().get(), SchoolsToCamhs(), &resp).ok());

  v1::ListSharingAgreementsRequest req;
  req.set_page_size(2);
  v1::ListSharingAgreementsResponse page1, page2;
  ASSERT_TRUE(admin_->ListSharingAgreements(Ctx().get(), req, &page1).ok());
  EXPECT_EQ(page1.sharing_agreements_size(), 2);
  ASSERT_FALSE(page1.next_page_token().empty());
  req.set_page_token(page1.next_page_token());
  ASSERT_TRUE(admin_->ListSharingAgreements(Ctx().get(), req, &page2).ok());
  EXPECT_EQ(page2.sharing_agreements_size(), 1);
  EXPECT_TRUE(page2.next_page_token().empty());
  EXPECT_EQ(page2.sharing_agreements(0).data_categories_size(), 2);

  ExpectWrongRole(school_->ListSharingAgreements(Ctx().get(), v1::ListSharingAgreementsRequest(), &page1));
  v1::ListSharingAgreementsRequest bad;
  bad.set_page_size(-5);
  ExpectInvalid(admin_->ListSharingAgreements(Ctx().get(), bad, &page1), "page_size");
}

TEST_F(PartnerAdminTest, CreateSharingAgreementRefusals) {
  ASSERT_TRUE(Register(*admin_, "camhs", "Riverside CAMHS", v1::SECTOR_HEALTH, {v1::ROLE_PROVIDER}).ok());
  v1::CreateSharingAgreementResponse resp;
  ExpectWrongRole(school_->CreateSharingAgreement(Ctx().get(), SchoolsToCamhs(), &resp));

  auto req = SchoolsToCamhs();
  req.mutable_sharing_agreement()->mutable_recipient()->set_partner("partners/ghost");
  ExpectInvalid(admin_->CreateSharingAgreement(Ctx().get(), req, &resp), "sharing_agreement.recipient.partner");
  req = SchoolsToCamhs();
  req.mutable_sharing_agreement()->mutable_recipient()->set_partner("camhs");
  ExpectInvalid(admin_->CreateSharingAgreement(Ctx().get(), req, &resp), "sharing_agreement.recipient.partner");
  req = SchoolsToCamhs();
  req.mutable_sharing_agreement()->clear_discloser();
  ExpectInvalid(admin_->CreateSharingAgreement(Ctx().get(), req, &resp), "sharing_agreement.discloser");
  req = SchoolsToCamhs();
  req.mutable_sharing_agreement()->clear_purposes();
  ExpectInvalid(admin_->CreateSharingAgreement(Ctx().get(), req, &resp), "sharing_agreement.purposes");
  req = SchoolsToCamhs();
  req.mutable_sharing_agreement()->add_data_categories(static_cast<v1::DataCategory>(99));
  ExpectInvalid(admin_->CreateSharingAgreement(Ctx().get(), req, &resp), "sharing_agreement.data_categories[2]");
  req = SchoolsToCamhs();
  req.mutable_sharing_agreement()->clear_valid_until();
  ExpectInvalid(admin_->CreateSharingAgreement(Ctx().get(), req, &resp), "sharing_agreement.valid_until");
  req = SchoolsToCamhs();
  req.mutable_sharing_agreement()->mutable_valid_from()->set_seconds(
      req.sharing_agreement().valid_until().seconds() + 60);
  ExpectInvalid(admin_->CreateSharingAgreement(Ctx().get(), req, &resp), "sharing_agreement.valid_until");
  EXPECT_EQ(AgreementCount(), 0);
}

TEST(PartnerAdminLimitsTest, OversizedMessagesAreResourceExhausted) {
  HubProcess hub(R"("limits": {"max_receive_message_bytes": 2048})");
  auto admin_bundle = hub.Enrol("ops", "Accord Operations", "LOCAL_AUTHORITY", "ADMIN");
  ASSERT_TRUE(hub.Start()) << hub.Log();
  auto admin = v1::PartnerAdmin::NewStub(hub.Channel(admin_bundle));
  v1::RegisterPartnerRequest req;
  req.mutable_partner()->set_display_name(std::string(4096, 'x'));
  req.mutable_partner()->set_sector(v1::SECTOR_SCHOOL);
  req.mutable_partner()->add_roles(v1::ROLE_REFERRER);
  v1::RegisterPartnerResponse resp;
  grpc::ClientContext ctx;
  grpc::Status s = admin->RegisterPartner(&ctx, req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << s.error_message();
  // Within the limit, the same call is served.
  req.mutable_partner()->set_display_name("Small School");
  grpc::ClientContext ctx2;
  EXPECT_TRUE(admin->RegisterPartner(&ctx2, req, &resp).ok());
}

}  // namespace
}  // namespace accord
