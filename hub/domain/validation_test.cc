#include "hub/domain/validation.h"

#include "gtest/gtest.h"

namespace accord::domain {
namespace {

using ::accord::v1::DATA_CATEGORY_EDUCATION;
using ::accord::v1::DATA_CATEGORY_IDENTITY;
using ::accord::v1::PURPOSE_REFERRAL;
using ::accord::v1::ROLE_ADMIN;
using ::accord::v1::ROLE_REFERRER;
using ::accord::v1::SECTOR_HEALTH;
using ::accord::v1::SECTOR_SCHOOL;

bool MentionsField(const absl::Status& s, absl::string_view field) {
  return s.code() == absl::StatusCode::kInvalidArgument && s.message().find(field) == 0;
}

TEST(PartnerIdTest, AcceptsSlugs) {
  EXPECT_TRUE(ValidatePartnerId("oakfield-primary").ok());
  EXPECT_TRUE(ValidatePartnerId("abc").ok());
  EXPECT_TRUE(ValidatePartnerId("a1-2").ok());
}

TEST(PartnerIdTest, RefusesWithReason) {
  EXPECT_TRUE(MentionsField(ValidatePartnerId("ab"), "partner_id"));
  EXPECT_TRUE(MentionsField(ValidatePartnerId("1abc"), "partner_id"));
  EXPECT_TRUE(MentionsField(ValidatePartnerId("abc-"), "partner_id"));
  EXPECT_TRUE(MentionsField(ValidatePartnerId("Abc"), "partner_id"));
  EXPECT_TRUE(MentionsField(ValidatePartnerId("ab c"), "partner_id"));
  EXPECT_TRUE(MentionsField(ValidatePartnerId(std::string(64, 'a')), "partner_id"));
}

TEST(PartnerIdTest, FromNameIsAValidId) {
  EXPECT_EQ(PartnerIdFromName("Oakfield Primary School"), "oakfield-primary-school");
  EXPECT_EQ(PartnerIdFromName("  St. Mary's  C of E "), "st-mary-s-c-of-e");
  EXPECT_EQ(PartnerIdFromName("1st Step Mentoring"), "p-1st-step-mentoring");
  for (std::string name : std::vector<std::string>{"Oakfield", "!!", "a", std::string(300, 'x').append(" y"), "Ünïcode Trust"}) {
    std::string id = PartnerIdFromName(name);
    EXPECT_TRUE(ValidatePartnerId(id).ok()) << name << " -> " << id;
  }
}

Partner GoodPartner() {
  Partner p;
  p.display_name = "Oakfield Primary School";
  p.sector = SECTOR_SCHOOL;
  p.roles = {ROLE_REFERRER};
  return p;
}

TEST(NewPartnerTest, AcceptsAComplete) { EXPECT_TRUE(ValidateNewPartner(GoodPartner()).ok()); }

TEST(NewPartnerTest, NamesTheField) {
  Partner p = GoodPartner();
  p.display_name = "";
  EXPECT_TRUE(MentionsField(ValidateNewPartner(p), "partner.display_name"));
  p = GoodPartner();
  p.display_name = "bad\nname";
  EXPECT_TRUE(MentionsField(ValidateNewPartner(p), "partner.display_name"));
  p = GoodPartner();
  p.sector = ::accord::v1::SECTOR_UNSPECIFIED;
  EXPECT_TRUE(MentionsField(ValidateNewPartner(p), "partner.sector"));
  p = GoodPartner();
  p.sector = static_cast<Sector>(99);
  EXPECT_TRUE(MentionsField(ValidateNewPartner(p), "partner.sector"));
  p = GoodPartner();
  p.roles = {};
  EXPECT_TRUE(MentionsField(ValidateNewPartner(p), "partner.roles"));
  p = GoodPartner();
  p.roles = {ROLE_ADMIN, ROLE_ADMIN};
  EXPECT_TRUE(MentionsField(ValidateNewPartner(p), "partner.roles[1]"));
  p = GoodPartner();
  p.roles = {static_cast<Role>(42)};
  EXPECT_TRUE(MentionsField(ValidateNewPartner(p), "partner.roles[0]"));
}

SharingAgreement GoodAgreement() {
  SharingAgreement a;
  a.discloser.sector = SECTOR_SCHOOL;
  a.recipient.partner_id = "nhs-camhs";
  a.purposes = {PURPOSE_REFERRAL};
  a.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_EDUCATION};
  a.valid_from = absl::FromUnixSeconds(1'700'000'000);
  a.valid_until = a.valid_from + absl::Hours(24 * 365);
  return a;
}

TEST(AgreementTest, AcceptsAComplete) { EXPECT_TRUE(ValidateAgreement(GoodAgreement()).ok()); }

TEST(AgreementTest, NamesTheField) {
  SharingAgreement a = GoodAgreement();
  a.discloser = Party{};
  EXPECT_TRUE(MentionsField(ValidateAgreement(a), "sharing_agreement.discloser"));
  a = GoodAgreement();
  a.recipient.partner_id = "X";
  EXPECT_TRUE(MentionsField(ValidateAgreement(a), "sharing_agreement.recipient.partner"));
  a = GoodAgreement();
  a.recipient.sector = SECTOR_HEALTH;  // both a partner and a sector
  EXPECT_TRUE(MentionsField(ValidateAgreement(a), "sharing_agreement.recipient"));
  a = GoodAgreement();
  a.purposes.clear();
  EXPECT_TRUE(MentionsField(ValidateAgreement(a), "sharing_agreement.purposes"));
  a = GoodAgreement();
  a.categories.push_back(DATA_CATEGORY_IDENTITY);
  EXPECT_TRUE(MentionsField(ValidateAgreement(a), "sharing_agreement.data_categories[2]"));
  a = GoodAgreement();
  a.valid_until = a.valid_from;
  EXPECT_TRUE(MentionsField(ValidateAgreement(a), "sharing_agreement.valid_until"));
}

TEST(PartyTest, CoversPartnerOrSector) {
  Partner school = GoodPartner();
  school.id = "oakfield";
  EXPECT_TRUE((Party{"oakfield", {}}).Covers(school));
  EXPECT_FALSE((Party{"elmwood", {}}).Covers(school));
  EXPECT_TRUE((Party{"", SECTOR_SCHOOL}).Covers(school));
  EXPECT_FALSE((Party{"", SECTOR_HEALTH}).Covers(school));
  EXPECT_FALSE((Party{}).Covers(school));
}

TEST(NamesTest, RoundTrip) {
  EXPECT_EQ(PartnerName("oakfield"), "partners/oakfield");
  EXPECT_EQ(*ParsePartnerName("partners/oakfield"), "oakfield");
  EXPECT_TRUE(MentionsField(ParsePartnerName("oakfield").status(), "name"));
  EXPECT_TRUE(MentionsField(ParsePartnerName("partners/").status(), "name"));
}

TEST(PagingTest, SizeAndToken) {
  EXPECT_EQ(*EffectivePageSize(0, 500), 500);
  EXPECT_EQ(*EffectivePageSize(10, 500), 10);
  EXPECT_EQ(*EffectivePageSize(9000, 500), 500);
  EXPECT_TRUE(MentionsField(EffectivePageSize(-1, 500).status(), "page_size"));
  EXPECT_EQ(*DecodePageToken(EncodePageToken("oakfield")), "oakfield");
  EXPECT_EQ(*DecodePageToken(""), "");
  EXPECT_TRUE(MentionsField(DecodePageToken("garbage!").status(), "page_token"));
  EXPECT_TRUE(MentionsField(DecodePageToken("YWJj").status(), "page_token"));  // "abc"
}

}  // namespace
}  // namespace accord::domain
