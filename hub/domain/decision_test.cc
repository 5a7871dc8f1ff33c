// Examples for the consent value type and for each rule and each reason of Decide().
#include "hub/domain/decision.h"

#include <vector>

#include "gtest/gtest.h"
#include "hub/domain/consent.h"

namespace accord::domain {
namespace {

using ::accord::v1::DATA_CATEGORY_EDUCATION;
using ::accord::v1::DATA_CATEGORY_HEALTH;
using ::accord::v1::DATA_CATEGORY_IDENTITY;
using ::accord::v1::DATA_CATEGORY_MENTAL_HEALTH;
using ::accord::v1::DATA_CATEGORY_SAFEGUARDING;
using ::accord::v1::DATA_CATEGORY_UNSPECIFIED;
using ::accord::v1::PURPOSE_ASSESSMENT;
using ::accord::v1::PURPOSE_REFERRAL;
using ::accord::v1::PURPOSE_UNSPECIFIED;
using ::accord::v1::SECTOR_HEALTH;
using ::accord::v1::SECTOR_SCHOOL;
using ::accord::v1::SECTOR_UNSPECIFIED;
using ::accord::v1::SECTOR_VOLUNTARY;

const absl::Time kNow = absl::FromUnixSeconds(1'700'000'000);
constexpr absl::Duration kDay = absl::Hours(24);

Partner MakePartner(std::string id, Sector sector) {
  Partner p;
  p.id = std::move(id);
  p.sector = sector;
  return p;
}

Party PartnerParty(std::string id) { return Party{std::move(id), SECTOR_UNSPECIFIED}; }
Party SectorParty(Sector sector) { return Party{"", sector}; }

// Schools may send identity, education and mental-health information to health for referral.
SharingAgreement SchoolsToHealth() {
  SharingAgreement a;
  a.id = "isa-schools-health";
  a.discloser = SectorParty(SECTOR_SCHOOL);
  a.recipient = SectorParty(SECTOR_HEALTH);
  a.purposes = {PURPOSE_REFERRAL};
  a.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_EDUCATION, DATA_CATEGORY_MENTAL_HEALTH};
  a.valid_from = kNow - 365 * kDay;
  a.valid_until = kNow + 365 * kDay;
  return a;
}

// A parent agreed that CAMHS (only) may receive identity and mental-health information for referral.
Consent ParentConsent() {
  Consent c;
  c.id = "consent-1";
  c.subject_id = "subject-1";
  c.given_by = ConsentGiver::kParentCarer;
  c.purposes = {PURPOSE_REFERRAL};
  c.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_MENTAL_HEALTH};
  c.recipients = {PartnerParty("nhs-camhs")};
  c.valid_from = kNow - 30 * kDay;
  c.valid_until = kNow + 30 * kDay;
  c.recorded_by = "oakfield";
  c.evidence = "consent form signed by mother, scanned into the MIS";
  c.create_time = c.valid_from;
  return c;
}

SharingRequest Request() {
  SharingRequest r;
  r.discloser = MakePartner("oakfield", SECTOR_SCHOOL);
  r.recipient = MakePartner("nhs-camhs", SECTOR_HEALTH);
  r.subject_id = "subject-1";
  r.purpose = PURPOSE_REFERRAL;
  r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_MENTAL_HEALTH};
  r.time = kNow;
  return r;
}

LawfulBasis Safeguarding(std::string justification = "disclosure of risk of significant harm; DSL decision") {
  return LawfulBasis{LawfulBasisKind::kSafeguarding, std::move(justification)};
}

Decision DecideWith(const SharingRequest& req, std::vector<SharingAgreement> agreements,
                    std::vector<Consent> consents) {
  return Decide(req, agreements, consents);
}

// The single category's reason code (the request asks for exactly one).
ReasonCode OnlyCode(const Decision& d) {
  EXPECT_EQ(d.categories.size(), 1u);
  return d.categories.empty() ? ReasonCode::kInvalidRequest : d.categories[0].reason.code;
}

SharingRequest OneCategory(DataCategory category) {
  SharingRequest r = Request();
  r.categories = {category};
  return r;
}

// Every category denied with `code` and the request refused as a whole.
void ExpectRequestRefused(const Decision& d, ReasonCode code) {
  ASSERT_TRUE(d.request_refusal.has_value());
  EXPECT_EQ(d.request_refusal->code, code) << ReasonCodeName(d.request_refusal->code);
  for (const CategoryDecision& c : d.categories) {
    EXPECT_FALSE(c.allowed);
    EXPECT_EQ(c.reason.code, code);
  }
  EXPECT_FALSE(d.AnyAllowed());
  EXPECT_FALSE(d.dpo_alert);
}

// ---------------------------------------------------------------------------------------------
// Allowed

TEST(DecideTest, AllowsWhenAnAgreementAndAConsentBothCover) {
  Decision d = DecideWith(Request(), {SchoolsToHealth()}, {ParentConsent()});
  EXPECT_FALSE(d.request_refusal.has_value());
  ASSERT_EQ(d.categories.size(), 2u);
  for (const CategoryDecision& c : d.categories) {
    EXPECT_TRUE(c.allowed);
    EXPECT_EQ(c.reason.code, ReasonCode::kAllowedByConsent);
    EXPECT_EQ(c.reason.agreement_id, "isa-schools-health");
    EXPECT_EQ(c.reason.consent_id, "consent-1");
    EXPECT_FALSE(c.reason.text.empty());
  }
  EXPECT_EQ(d.categories[0].category, DATA_CATEGORY_IDENTITY);
  EXPECT_EQ(d.categories[1].category, DATA_CATEGORY_MENTAL_HEALTH);
  EXPECT_TRUE(d.AllAllowed());
  EXPECT_FALSE(d.dpo_alert);
}

TEST(DecideTest, AgreementAndConsentMayNameAPartnerOrASector) {
  SharingAgreement a = SchoolsToHealth();
  a.discloser = PartnerParty("oakfield");
  a.recipient = PartnerParty("nhs-camhs");
  Consent c = ParentConsent();
  c.recipients = {SectorParty(SECTOR_HEALTH)};
  EXPECT_TRUE(DecideWith(Request(), {a}, {c}).AllAllowed());
}

TEST(DecideTest, CitesTheFirstAgreementAndTheFirstUsableConsent) {
  SharingAgreement expired = SchoolsToHealth();
  expired.id = "isa-old";
  expired.valid_until = kNow - kDay;
  SharingAgreement second = SchoolsToHealth();
  second.id = "isa-2";
  Consent withdrawn = ParentConsent();
  withdrawn.id = "consent-0";
  ASSERT_TRUE(WithdrawConsent(withdrawn, kNow - kDay).ok());
  Consent other = ParentConsent();
  other.id = "consent-2";
  Decision d = DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {expired, SchoolsToHealth(), second},
                          {withdrawn, ParentConsent(), other});
  ASSERT_EQ(OnlyCode(d), ReasonCode::kAllowedByConsent);
  EXPECT_EQ(d.categories[0].reason.agreement_id, "isa-schools-health");
  EXPECT_EQ(d.categories[0].reason.consent_id, "consent-1");
}

// ---------------------------------------------------------------------------------------------
// Minimisation: each category on its own (invariant 3)

TEST(DecideTest, OnlyTheCoveredCategoriesMayLeave) {
  SharingRequest r = Request();
  r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_EDUCATION, DATA_CATEGORY_HEALTH,
                  DATA_CATEGORY_MENTAL_HEALTH};
  Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
  ASSERT_EQ(d.categories.size(), 4u);
  EXPECT_EQ(d.categories[0].reason.code, ReasonCode::kAllowedByConsent);
  EXPECT_EQ(d.categories[1].reason.code, ReasonCode::kNoConsent);    // agreed, not consented
  EXPECT_EQ(d.categories[2].reason.code, ReasonCode::kNoAgreement);  // not agreed at all
  EXPECT_EQ(d.categories[3].reason.code, ReasonCode::kAllowedByConsent);
  EXPECT_EQ(d.AllowedCategories(),
            (std::vector<DataCategory>{DATA_CATEGORY_IDENTITY, DATA_CATEGORY_MENTAL_HEALTH}));
  EXPECT_TRUE(d.AnyAllowed());
  EXPECT_FALSE(d.AllAllowed());
}

// ---------------------------------------------------------------------------------------------
// (a) The agreement

TEST(DecideTest, NoAgreementAtAll) {
  Decision d = DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {}, {ParentConsent()});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kNoAgreement);
  EXPECT_FALSE(d.categories[0].allowed);
  EXPECT_EQ(d.categories[0].reason.agreement_id, "");
  EXPECT_EQ(d.categories[0].reason.consent_id, "");
}

TEST(DecideTest, NoAgreementForThisDirectionPurposeCategoryOrPartner) {
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);

  SharingAgreement reversed = SchoolsToHealth();
  std::swap(reversed.discloser, reversed.recipient);
  EXPECT_EQ(OnlyCode(DecideWith(r, {reversed}, {ParentConsent()})), ReasonCode::kNoAgreement);

  SharingAgreement other_purpose = SchoolsToHealth();
  other_purpose.purposes = {PURPOSE_ASSESSMENT};
  EXPECT_EQ(OnlyCode(DecideWith(r, {other_purpose}, {ParentConsent()})), ReasonCode::kNoAgreement);

  SharingAgreement other_category = SchoolsToHealth();
  other_category.categories = {DATA_CATEGORY_EDUCATION};
  EXPECT_EQ(OnlyCode(DecideWith(r, {other_category}, {ParentConsent()})), ReasonCode::kNoAgreement);

  SharingAgreement other_partner = SchoolsToHealth();
  other_partner.recipient = PartnerParty("nhs-gp");  // same sector, different partner
  EXPECT_EQ(OnlyCode(DecideWith(r, {other_partner}, {ParentConsent()})), ReasonCode::kNoAgreement);

  SharingAgreement other_school = SchoolsToHealth();
  other_school.discloser = PartnerParty("elmwood");
  EXPECT_EQ(OnlyCode(DecideWith(r, {other_school}, {ParentConsent()})), ReasonCode::kNoAgreement);

  SharingAgreement unspecified = SchoolsToHealth();
  unspecified.recipient = Party{};  // covers nobody
  EXPECT_EQ(OnlyCode(DecideWith(r, {unspecified}, {ParentConsent()})), ReasonCode::kNoAgreement);
}

TEST(DecideTest, AnAgreementWithoutIdIsIgnored) {
  SharingAgreement a = SchoolsToHealth();
  a.id = "";
  EXPECT_EQ(OnlyCode(DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {a}, {ParentConsent()})),
            ReasonCode::kNoAgreement);
}

TEST(DecideTest, AgreementWindowIsFromInclusiveUntilExclusive) {
  SharingAgreement a = SchoolsToHealth();
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);
  Consent c = ParentConsent();
  c.valid_from = a.valid_from - kDay;
  c.valid_until = a.valid_until + kDay;

  r.time = a.valid_from;
  EXPECT_EQ(OnlyCode(DecideWith(r, {a}, {c})), ReasonCode::kAllowedByConsent);
  r.time = a.valid_until - absl::Nanoseconds(1);
  EXPECT_EQ(OnlyCode(DecideWith(r, {a}, {c})), ReasonCode::kAllowedByConsent);

  r.time = a.valid_until;
  Decision d = DecideWith(r, {a}, {c});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kAgreementNotInForce);
  EXPECT_EQ(d.categories[0].reason.agreement_id, "isa-schools-health");
  r.time = a.valid_from - absl::Nanoseconds(1);
  EXPECT_EQ(OnlyCode(DecideWith(r, {a}, {c})), ReasonCode::kAgreementNotInForce);
}

TEST(DecideTest, AgreementNotInForceNamesTheFirstCoveringAgreement) {
  SharingAgreement unrelated = SchoolsToHealth();
  unrelated.id = "isa-unrelated";
  unrelated.purposes = {PURPOSE_ASSESSMENT};
  unrelated.valid_until = kNow - kDay;
  SharingAgreement expired = SchoolsToHealth();
  expired.id = "isa-expired";
  expired.valid_until = kNow - kDay;
  SharingAgreement future = SchoolsToHealth();
  future.id = "isa-future";
  future.valid_from = kNow + kDay;
  Decision d =
      DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {unrelated, expired, future}, {ParentConsent()});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kAgreementNotInForce);
  EXPECT_EQ(d.categories[0].reason.agreement_id, "isa-expired");
}

// ---------------------------------------------------------------------------------------------
// (b) The consent

TEST(DecideTest, NoConsentAtAll) {
  Decision d = DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {SchoolsToHealth()}, {});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kNoConsent);
  EXPECT_EQ(d.categories[0].reason.agreement_id, "isa-schools-health");
  EXPECT_EQ(d.categories[0].reason.consent_id, "");
}

TEST(DecideTest, ConsentForAnotherSubjectDoesNotCount) {
  Consent c = ParentConsent();
  c.subject_id = "subject-2";
  EXPECT_EQ(OnlyCode(DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {SchoolsToHealth()}, {c})),
            ReasonCode::kNoConsent);
}

TEST(DecideTest, ConsentMustCoverPurposeCategoryAndRecipient) {
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);
  Consent purpose = ParentConsent();
  purpose.purposes = {PURPOSE_ASSESSMENT};
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {purpose})), ReasonCode::kNoConsent);

  Consent category = ParentConsent();
  category.categories = {DATA_CATEGORY_MENTAL_HEALTH};
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {category})), ReasonCode::kNoConsent);

  Consent recipient = ParentConsent();
  recipient.recipients = {SectorParty(SECTOR_VOLUNTARY), PartnerParty("kooth")};
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {recipient})), ReasonCode::kNoConsent);
}

TEST(DecideTest, ConsentNamingAPartnerDoesNotCoverAnotherPartnerOfItsSector) {
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);
  r.recipient = MakePartner("nhs-gp", SECTOR_HEALTH);
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {ParentConsent()})), ReasonCode::kNoConsent);

  Consent sector = ParentConsent();
  sector.recipients = {SectorParty(SECTOR_HEALTH)};
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {sector})), ReasonCode::kAllowedByConsent);
}

TEST(DecideTest, ConsentWindowIsFromInclusiveUntilExclusive) {
  Consent c = ParentConsent();
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);

  r.time = c.valid_from;
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {c})), ReasonCode::kAllowedByConsent);
  r.time = c.valid_until - absl::Nanoseconds(1);
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {c})), ReasonCode::kAllowedByConsent);

  r.time = c.valid_from - absl::Nanoseconds(1);
  Decision d = DecideWith(r, {SchoolsToHealth()}, {c});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kConsentNotYetValid);
  EXPECT_EQ(d.categories[0].reason.consent_id, "consent-1");
  EXPECT_EQ(d.categories[0].reason.agreement_id, "isa-schools-health");

  r.time = c.valid_until;
  d = DecideWith(r, {SchoolsToHealth()}, {c});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kConsentExpired);
  EXPECT_EQ(d.categories[0].reason.consent_id, "consent-1");
}

TEST(DecideTest, WithdrawalTakesEffectForTheNextRequest) {
  Consent c = ParentConsent();
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {c})), ReasonCode::kAllowedByConsent);

  ASSERT_TRUE(WithdrawConsent(c, kNow).ok());
  Decision d = DecideWith(r, {SchoolsToHealth()}, {c});  // withdrawn_at == time: withdrawn
  EXPECT_EQ(OnlyCode(d), ReasonCode::kConsentWithdrawn);
  EXPECT_EQ(d.categories[0].reason.consent_id, "consent-1");
  r.time = kNow + absl::Seconds(1);
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {c})), ReasonCode::kConsentWithdrawn);
}

TEST(DecideTest, RecordedWithdrawalWinsEvenWhenThisClockIsBehind) {
  // Another replica recorded the withdrawal at a time this replica's clock has not reached yet.
  Consent c = ParentConsent();
  ASSERT_TRUE(WithdrawConsent(c, kNow + absl::Milliseconds(50)).ok());
  EXPECT_EQ(OnlyCode(DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {SchoolsToHealth()}, {c})),
            ReasonCode::kConsentWithdrawn);
}

TEST(DecideTest, WithdrawnAtAloneAlsoWithdraws) {
  Consent c = ParentConsent();
  c.withdrawn_at = kNow;  // state still says ACTIVE: inconsistent, so withdrawn from that moment
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {c})), ReasonCode::kConsentWithdrawn);
  r.time = kNow - absl::Nanoseconds(1);
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {c})), ReasonCode::kAllowedByConsent);
}

TEST(DecideTest, UnknownConsentStateCountsAsWithdrawn) {
  Consent c = ParentConsent();
  c.state = static_cast<ConsentState>(7);
  EXPECT_EQ(OnlyCode(DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {SchoolsToHealth()}, {c})),
            ReasonCode::kConsentWithdrawn);
}

TEST(DecideTest, MalformedConsentIsNeverReliedOn) {
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);
  Consent no_id = ParentConsent();
  no_id.id = "";
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {no_id})), ReasonCode::kConsentInvalid);

  Consent no_giver = ParentConsent();
  no_giver.given_by = ConsentGiver::kUnspecified;
  Decision d = DecideWith(r, {SchoolsToHealth()}, {no_giver});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kConsentInvalid);
  EXPECT_EQ(d.categories[0].reason.consent_id, "consent-1");

  Consent unknown_giver = ParentConsent();
  unknown_giver.given_by = static_cast<ConsentGiver>(9);
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {unknown_giver})), ReasonCode::kConsentInvalid);

  Consent empty_window = ParentConsent();
  empty_window.valid_until = empty_window.valid_from;
  EXPECT_EQ(OnlyCode(DecideWith(r, {SchoolsToHealth()}, {empty_window})), ReasonCode::kConsentInvalid);
}

TEST(DecideTest, TheFirstCoveringConsentGivesTheReasonWhenNoneIsUsable) {
  Consent other_subject = ParentConsent();
  other_subject.id = "consent-other";
  other_subject.subject_id = "subject-2";
  Consent expired = ParentConsent();
  expired.id = "consent-expired";
  expired.valid_until = kNow - kDay;
  Consent withdrawn = ParentConsent();
  withdrawn.id = "consent-withdrawn";
  ASSERT_TRUE(WithdrawConsent(withdrawn, kNow - kDay).ok());
  Decision d = DecideWith(OneCategory(DATA_CATEGORY_IDENTITY), {SchoolsToHealth()},
                          {other_subject, expired, withdrawn});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kConsentExpired);
  EXPECT_EQ(d.categories[0].reason.consent_id, "consent-expired");
}

// ---------------------------------------------------------------------------------------------
// The safeguarding basis: replaces (b), never (a)

TEST(DecideTest, SafeguardingReplacesConsentAndAlertsTheDpo) {
  SharingRequest r = Request();
  r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_EDUCATION};
  r.lawful_basis = Safeguarding();
  Decision d = DecideWith(r, {SchoolsToHealth()}, {});
  EXPECT_FALSE(d.request_refusal.has_value());
  ASSERT_EQ(d.categories.size(), 2u);
  for (const CategoryDecision& c : d.categories) {
    EXPECT_TRUE(c.allowed);
    EXPECT_EQ(c.reason.code, ReasonCode::kAllowedBySafeguarding);
    EXPECT_EQ(c.reason.agreement_id, "isa-schools-health");
    EXPECT_EQ(c.reason.consent_id, "");
  }
  EXPECT_TRUE(d.dpo_alert);
}

TEST(DecideTest, SafeguardingIsUsedEvenWhenConsentExists) {
  SharingRequest r = OneCategory(DATA_CATEGORY_IDENTITY);
  r.lawful_basis = Safeguarding();
  Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
  EXPECT_EQ(OnlyCode(d), ReasonCode::kAllowedBySafeguarding);
  EXPECT_TRUE(d.dpo_alert);
}

TEST(DecideTest, SafeguardingNeverReplacesTheAgreement) {
  SharingRequest r = Request();
  r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_SAFEGUARDING};
  r.lawful_basis = Safeguarding();
  Decision d = DecideWith(r, {SchoolsToHealth()}, {});
  EXPECT_EQ(d.categories[0].reason.code, ReasonCode::kAllowedBySafeguarding);
  EXPECT_EQ(d.categories[1].reason.code, ReasonCode::kNoAgreement);
  EXPECT_TRUE(d.dpo_alert);

  d = DecideWith(r, {}, {});
  EXPECT_FALSE(d.AnyAllowed());
  EXPECT_FALSE(d.dpo_alert) << "nothing was shared, so there is nothing to alert about";

  SharingAgreement expired = SchoolsToHealth();
  expired.valid_until = kNow;
  SharingRequest one = OneCategory(DATA_CATEGORY_IDENTITY);
  one.lawful_basis = Safeguarding();
  EXPECT_EQ(OnlyCode(DecideWith(one, {expired}, {})), ReasonCode::kAgreementNotInForce);
}

TEST(DecideTest, SafeguardingNeedsAWrittenJustification) {
  for (const char* blank : {"", " ", " \t\n "}) {
    SharingRequest r = Request();
    r.lawful_basis = Safeguarding(blank);
    Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
    ExpectRequestRefused(d, ReasonCode::kJustificationMissing);
    EXPECT_EQ(d.categories.size(), 2u);
    EXPECT_EQ(d.request_refusal->text.find("lawful_basis.justification"), 0u);
  }
}

TEST(DecideTest, UnknownLawfulBasisIsRefused) {
  SharingRequest r = Request();
  r.lawful_basis = LawfulBasis{LawfulBasisKind::kUnspecified, "because"};
  ExpectRequestRefused(DecideWith(r, {SchoolsToHealth()}, {ParentConsent()}), ReasonCode::kInvalidRequest);
  r.lawful_basis = LawfulBasis{static_cast<LawfulBasisKind>(5), "because"};
  Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
  ExpectRequestRefused(d, ReasonCode::kInvalidRequest);
  EXPECT_EQ(d.request_refusal->text.find("lawful_basis.kind"), 0u);
}

// ---------------------------------------------------------------------------------------------
// Request-level refusals: fail closed

TEST(DecideTest, SuspendedOrRevokedPartnersNeverShare) {
  SharingRequest r = Request();
  r.discloser.state = PartnerState::kSuspended;
  Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
  ExpectRequestRefused(d, ReasonCode::kDiscloserNotActive);
  EXPECT_EQ(d.categories.size(), 2u);

  r = Request();
  r.recipient.state = PartnerState::kRevoked;
  ExpectRequestRefused(DecideWith(r, {SchoolsToHealth()}, {ParentConsent()}),
                       ReasonCode::kRecipientNotActive);

  r = Request();
  r.recipient.state = static_cast<PartnerState>(12);
  ExpectRequestRefused(DecideWith(r, {SchoolsToHealth()}, {ParentConsent()}),
                       ReasonCode::kRecipientNotActive);

  // Safeguarding does not get round it either.
  r = Request();
  r.discloser.state = PartnerState::kRevoked;
  r.lawful_basis = Safeguarding();
  ExpectRequestRefused(DecideWith(r, {SchoolsToHealth()}, {}), ReasonCode::kDiscloserNotActive);
}

TEST(DecideTest, MalformedRequestsAreRefusedNamingTheField) {
  struct Case {
    const char* field;
    void (*mutate)(SharingRequest&);
  };
  const Case cases[] = {
      {"subject_id", [](SharingRequest& r) { r.subject_id = ""; }},
      {"purpose", [](SharingRequest& r) { r.purpose = PURPOSE_UNSPECIFIED; }},
      {"purpose", [](SharingRequest& r) { r.purpose = static_cast<Purpose>(99); }},
      {"categories[1]",
       [](SharingRequest& r) {
         r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_UNSPECIFIED};
       }},
      {"categories[0]", [](SharingRequest& r) { r.categories = {static_cast<DataCategory>(42)}; }},
      {"categories[2]",
       [](SharingRequest& r) {
         r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_MENTAL_HEALTH, DATA_CATEGORY_IDENTITY};
       }},
      {"discloser.id", [](SharingRequest& r) { r.discloser.id = ""; }},
      {"discloser.sector", [](SharingRequest& r) { r.discloser.sector = SECTOR_UNSPECIFIED; }},
      {"recipient.id", [](SharingRequest& r) { r.recipient.id = ""; }},
      {"recipient.sector", [](SharingRequest& r) { r.recipient.sector = static_cast<Sector>(77); }},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.field);
    SharingRequest r = Request();
    c.mutate(r);
    Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
    ExpectRequestRefused(d, ReasonCode::kInvalidRequest);
    EXPECT_EQ(d.request_refusal->text.find(std::string(c.field) + ": "), 0u) << d.request_refusal->text;
    EXPECT_EQ(d.categories.size(), r.categories.size()) << "every requested entry is answered, denied";
  }
}

TEST(DecideTest, RepeatedCategoriesDenyEverything) {
  SharingRequest r = Request();
  r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_IDENTITY};
  Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
  ExpectRequestRefused(d, ReasonCode::kInvalidRequest);
  EXPECT_EQ(d.request_refusal->text, "categories[1]: repeated value");
}

TEST(DecideTest, AnEmptyCategoryListIsRefused) {
  SharingRequest r = Request();
  r.categories.clear();
  Decision d = DecideWith(r, {SchoolsToHealth()}, {ParentConsent()});
  ExpectRequestRefused(d, ReasonCode::kInvalidRequest);
  EXPECT_TRUE(d.categories.empty());
  EXPECT_FALSE(d.AllAllowed());
  EXPECT_TRUE(d.AllowedCategories().empty());
}

TEST(DecideTest, InvalidRequestIsCheckedBeforePartnerStates) {
  SharingRequest r = Request();
  r.purpose = PURPOSE_UNSPECIFIED;
  r.discloser.state = PartnerState::kSuspended;
  r.lawful_basis = Safeguarding("");
  ExpectRequestRefused(DecideWith(r, {}, {}), ReasonCode::kInvalidRequest);
  r.purpose = PURPOSE_REFERRAL;
  ExpectRequestRefused(DecideWith(r, {}, {}), ReasonCode::kDiscloserNotActive);
  r.discloser.state = PartnerState::kActive;
  ExpectRequestRefused(DecideWith(r, {}, {}), ReasonCode::kJustificationMissing);
}

TEST(DecideTest, ReasonTextNeverNamesTheSubject) {
  SharingRequest r = Request();
  r.subject_id = "subject-with-a-distinctive-id";
  Consent c = ParentConsent();
  c.subject_id = r.subject_id;
  r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_EDUCATION, DATA_CATEGORY_HEALTH};
  for (const CategoryDecision& cd : DecideWith(r, {SchoolsToHealth()}, {c}).categories) {
    EXPECT_EQ(cd.reason.text.find("distinctive"), std::string::npos) << cd.reason.text;
  }
}

TEST(ReasonCodeTest, NamesAreStable) {
  EXPECT_EQ(ReasonCodeName(ReasonCode::kAllowedByConsent), "ALLOWED_BY_CONSENT");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kAllowedBySafeguarding), "ALLOWED_BY_SAFEGUARDING");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kInvalidRequest), "INVALID_REQUEST");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kDiscloserNotActive), "DISCLOSER_NOT_ACTIVE");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kRecipientNotActive), "RECIPIENT_NOT_ACTIVE");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kJustificationMissing), "JUSTIFICATION_MISSING");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kNoAgreement), "NO_AGREEMENT");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kAgreementNotInForce), "AGREEMENT_NOT_IN_FORCE");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kNoConsent), "NO_CONSENT");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kConsentInvalid), "CONSENT_INVALID");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kConsentWithdrawn), "CONSENT_WITHDRAWN");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kConsentNotYetValid), "CONSENT_NOT_YET_VALID");
  EXPECT_EQ(ReasonCodeName(ReasonCode::kConsentExpired), "CONSENT_EXPIRED");
  EXPECT_EQ(ReasonCodeName(static_cast<ReasonCode>(99)), "UNKNOWN");
  EXPECT_TRUE(IsAllowed(ReasonCode::kAllowedByConsent));
  EXPECT_TRUE(IsAllowed(ReasonCode::kAllowedBySafeguarding));
  EXPECT_FALSE(IsAllowed(ReasonCode::kNoConsent));
  EXPECT_FALSE(IsAllowed(ReasonCode::kInvalidRequest));
}

// ---------------------------------------------------------------------------------------------
// The consent value type

bool MentionsField(const absl::Status& s, absl::string_view field) {
  return s.code() == absl::StatusCode::kInvalidArgument && s.message().find(field) == 0;
}

TEST(ConsentTest, ValidatesACompleteNewConsent) { EXPECT_TRUE(ValidateConsent(ParentConsent()).ok()); }

TEST(ConsentTest, ValidationNamesTheField) {
  struct Case {
    const char* field;
    void (*mutate)(Consent&);
  };
  const Case cases[] = {
      {"consent.subject_id:", [](Consent& c) { c.subject_id = ""; }},
      {"consent.subject_id:", [](Consent& c) { c.subject_id = "has space"; }},
      {"consent.subject_id:", [](Consent& c) { c.subject_id = std::string(129, 'x'); }},
      {"consent.given_by:", [](Consent& c) { c.given_by = ConsentGiver::kUnspecified; }},
      {"consent.given_by:", [](Consent& c) { c.given_by = static_cast<ConsentGiver>(3); }},
      {"consent.purposes:", [](Consent& c) { c.purposes.clear(); }},
      {"consent.purposes[1]:",
       [](Consent& c) {
         c.purposes = {PURPOSE_REFERRAL, PURPOSE_REFERRAL};
       }},
      {"consent.purposes[0]:", [](Consent& c) { c.purposes = {PURPOSE_UNSPECIFIED}; }},
      {"consent.purposes[0]:", [](Consent& c) { c.purposes = {static_cast<Purpose>(64)}; }},
      {"consent.data_categories:", [](Consent& c) { c.categories.clear(); }},
      {"consent.data_categories[2]:",
       [](Consent& c) { c.categories.push_back(DATA_CATEGORY_MENTAL_HEALTH); }},
      {"consent.data_categories[0]:", [](Consent& c) { c.categories = {static_cast<DataCategory>(11)}; }},
      {"consent.recipients:", [](Consent& c) { c.recipients.clear(); }},
      {"consent.recipients[1]:", [](Consent& c) { c.recipients.push_back(PartnerParty("nhs-camhs")); }},
      {"consent.recipients[1]:",
       [](Consent& c) {
         c.recipients = {SectorParty(SECTOR_HEALTH), SectorParty(SECTOR_HEALTH)};
       }},
      {"consent.recipients[0]:", [](Consent& c) { c.recipients = {Party{}}; }},
      {"consent.recipients[0]:", [](Consent& c) { c.recipients = {SectorParty(static_cast<Sector>(40))}; }},
      {"consent.recipients[0]:",
       [](Consent& c) {
         c.recipients = {Party{"nhs-camhs", SECTOR_HEALTH}};
       }},
      {"consent.recipients[0].partner:", [](Consent& c) { c.recipients = {PartnerParty("Not An Id")}; }},
      {"consent.valid_until:", [](Consent& c) { c.valid_until = c.valid_from; }},
      {"consent.valid_until:", [](Consent& c) { c.valid_until = c.valid_from - absl::Seconds(1); }},
      {"consent.valid_until:", [](Consent& c) { c.valid_until = absl::InfiniteFuture(); }},
      {"consent.valid_until:", [](Consent& c) { c.valid_until = absl::Time(); }},
      {"consent.valid_from:", [](Consent& c) { c.valid_from = absl::InfinitePast(); }},
      {"consent.state:", [](Consent& c) { c.state = ConsentState::kWithdrawn; }},
      {"consent.withdrawn_at:", [](Consent& c) { c.withdrawn_at = kNow; }},
      {"consent.recorded_by:", [](Consent& c) { c.recorded_by = ""; }},
      {"consent.evidence:", [](Consent& c) { c.evidence = ""; }},
      {"consent.evidence:", [](Consent& c) { c.evidence = " \t\n"; }},
      {"consent.evidence:", [](Consent& c) { c.evidence = std::string(2001, 'e'); }},
  };
  for (const Case& tc : cases) {
    Consent c = ParentConsent();
    tc.mutate(c);
    absl::Status s = ValidateConsent(c);
    EXPECT_TRUE(MentionsField(s, tc.field)) << tc.field << " got: " << s;
  }
}

TEST(ConsentTest, YoungPersonMayConsentForThemselves) {
  Consent c = ParentConsent();
  c.given_by = ConsentGiver::kYoungPerson;
  EXPECT_TRUE(ValidateConsent(c).ok());
  EXPECT_EQ(ConsentGiverName(c.given_by), "YOUNG_PERSON");
  EXPECT_EQ(ConsentGiverName(ConsentGiver::kParentCarer), "PARENT_CARER");
}

TEST(ConsentTest, StatusFollowsTimeAndWithdrawal) {
  Consent c = ParentConsent();
  EXPECT_EQ(ConsentStatusAt(c, c.valid_from - absl::Nanoseconds(1)), ConsentStatus::kNotYetValid);
  EXPECT_EQ(ConsentStatusAt(c, c.valid_from), ConsentStatus::kActive);
  EXPECT_EQ(ConsentStatusAt(c, c.valid_until - absl::Nanoseconds(1)), ConsentStatus::kActive);
  EXPECT_EQ(ConsentStatusAt(c, c.valid_until), ConsentStatus::kExpired);

  Consent scheduled = c;
  scheduled.withdrawn_at = kNow;
  EXPECT_EQ(ConsentStatusAt(scheduled, kNow - absl::Nanoseconds(1)), ConsentStatus::kActive);
  EXPECT_EQ(ConsentStatusAt(scheduled, kNow), ConsentStatus::kWithdrawn);

  ASSERT_TRUE(WithdrawConsent(c, kNow).ok());
  EXPECT_EQ(c.state, ConsentState::kWithdrawn);
  EXPECT_EQ(c.withdrawn_at, kNow);
  EXPECT_EQ(ConsentStatusAt(c, kNow - kDay), ConsentStatus::kWithdrawn);  // the recorded state wins
  EXPECT_EQ(ConsentStatusAt(c, c.valid_until + kDay), ConsentStatus::kWithdrawn);
  EXPECT_EQ(ConsentStatusName(ConsentStatus::kExpired), "EXPIRED");
  EXPECT_EQ(ConsentStateName(c.state), "WITHDRAWN");
}

TEST(ConsentTest, WithdrawingTwiceIsAFailedPrecondition) {
  Consent c = ParentConsent();
  ASSERT_TRUE(WithdrawConsent(c, kNow).ok());
  absl::Status again = WithdrawConsent(c, kNow + kDay);
  EXPECT_EQ(again.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(c.withdrawn_at, kNow) << "unchanged";
}

TEST(ConsentTest, ScopeIsTheCrossProduct) {
  Consent c = ParentConsent();
  c.purposes = {PURPOSE_REFERRAL, PURPOSE_ASSESSMENT};
  c.recipients = {PartnerParty("nhs-camhs"), SectorParty(SECTOR_VOLUNTARY)};
  Partner camhs = MakePartner("nhs-camhs", SECTOR_HEALTH);
  Partner gp = MakePartner("nhs-gp", SECTOR_HEALTH);
  Partner kooth = MakePartner("kooth", SECTOR_VOLUNTARY);
  for (Purpose p : {PURPOSE_REFERRAL, PURPOSE_ASSESSMENT}) {
    for (DataCategory k : {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_MENTAL_HEALTH}) {
      EXPECT_TRUE(ConsentScopeCovers(c, p, k, camhs));
      EXPECT_TRUE(ConsentScopeCovers(c, p, k, kooth));
      EXPECT_FALSE(ConsentScopeCovers(c, p, k, gp));
    }
    EXPECT_FALSE(ConsentScopeCovers(c, p, DATA_CATEGORY_EDUCATION, camhs));
  }
  EXPECT_FALSE(ConsentScopeCovers(c, ::accord::v1::PURPOSE_SERVICE_DELIVERY, DATA_CATEGORY_IDENTITY, camhs));
}

}  // namespace
}  // namespace accord::domain
