// Property test: Decide() must agree, on every one of thousands of seeded random draws, with a
// deliberately plain reference model written below from the rules in decision.h — same allow/deny,
// same reason code, same cited agreement and consent, same DPO alert. A few metamorphic properties
// (order, removal, per-category independence, safeguarding) are checked on the same draws.
//
// Deterministic: a fixed seed (override with ACCORD_DECISION_SEED=<n> to explore); a failure prints
// the seed, the draw number and the draw itself.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "gtest/gtest.h"
#include "hub/domain/decision.h"

namespace accord::domain {
namespace {

constexpr uint64_t kDefaultSeed = 20240611;
constexpr int kDraws = 20000;

const absl::Time kBase = absl::FromUnixSeconds(1'700'000'000);

// ---------------------------------------------------------------------------------------------
// The reference model. Brute force over the inputs, literal translations of the rules, written
// without sharing any code with decision.cc (not even Party::Covers or the protobuf enum helpers).

bool RefIn(const auto& list, auto value) {
  for (const auto& x : list) {
    if (x == value) return true;
  }
  return false;
}

bool RefCovers(const Party& party, const Partner& who) {
  if (party.partner_id != "") return party.partner_id == who.id;
  return static_cast<int>(party.sector) != 0 && party.sector == who.sector;
}

bool RefBlank(const std::string& s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

bool Between(int v, int lo, int hi) { return lo <= v && v <= hi; }

// The request-level reason, if any (proto ranges: Purpose 1..5, DataCategory 1..10, Sector 1..6).
std::optional<ReasonCode> RefRefusal(const SharingRequest& r) {
  bool well_formed = true;
  if (r.subject_id == "") well_formed = false;
  if (!Between(r.purpose, 1, 5)) well_formed = false;
  if (r.categories.size() == 0) well_formed = false;
  for (size_t i = 0; i < r.categories.size(); ++i) {
    if (!Between(r.categories[i], 1, 10)) well_formed = false;
    for (size_t j = 0; j < i; ++j) {
      if (r.categories[i] == r.categories[j]) well_formed = false;
    }
  }
  if (r.lawful_basis.has_value() && r.lawful_basis->kind != LawfulBasisKind::kSafeguarding)
    well_formed = false;
  if (r.discloser.id == "" || !Between(r.discloser.sector, 1, 6)) well_formed = false;
  if (r.recipient.id == "" || !Between(r.recipient.sector, 1, 6)) well_formed = false;

  if (!well_formed) return ReasonCode::kInvalidRequest;
  if (r.discloser.state != PartnerState::kActive) return ReasonCode::kDiscloserNotActive;
  if (r.recipient.state != PartnerState::kActive) return ReasonCode::kRecipientNotActive;
  if (r.lawful_basis.has_value() && RefBlank(r.lawful_basis->justification))
    return ReasonCode::kJustificationMissing;
  return std::nullopt;
}

// Why a consent cannot be relied on at `t`, or nullopt if it can.
std::optional<ReasonCode> RefConsentProblem(const Consent& c, absl::Time t) {
  bool known_giver = c.given_by == ConsentGiver::kYoungPerson || c.given_by == ConsentGiver::kParentCarer;
  if (c.id == "" || !known_giver || !(c.valid_from < c.valid_until)) return ReasonCode::kConsentInvalid;
  bool withdrawn = c.state != ConsentState::kActive || (c.withdrawn_at.has_value() && *c.withdrawn_at <= t);
  if (withdrawn) return ReasonCode::kConsentWithdrawn;
  if (t < c.valid_from) return ReasonCode::kConsentNotYetValid;
  if (!(t < c.valid_until)) return ReasonCode::kConsentExpired;
  return std::nullopt;
}

struct Expected {
  bool allowed = false;
  ReasonCode code = ReasonCode::kInvalidRequest;
  std::string agreement_id;
  std::string consent_id;
};

Expected RefCategory(const SharingRequest& r, DataCategory category,
                     const std::vector<SharingAgreement>& agreements, const std::vector<Consent>& consents) {
  std::vector<const SharingAgreement*> covering;
  std::vector<const SharingAgreement*> in_force;
  for (const SharingAgreement& a : agreements) {
    if (a.id != "" && RefCovers(a.discloser, r.discloser) && RefCovers(a.recipient, r.recipient) &&
        RefIn(a.purposes, r.purpose) && RefIn(a.categories, category)) {
      covering.push_back(&a);
      if (a.valid_from <= r.time && r.time < a.valid_until) in_force.push_back(&a);
    }
  }
  if (in_force.empty() && covering.empty()) return {false, ReasonCode::kNoAgreement, "", ""};
  if (in_force.empty()) return {false, ReasonCode::kAgreementNotInForce, covering[0]->id, ""};
  std::string agreement = in_force[0]->id;

  if (r.lawful_basis.has_value()) return {true, ReasonCode::kAllowedBySafeguarding, agreement, ""};

  std::vector<const Consent*> matching;
  for (const Consent& c : consents) {
    bool recipient_named = false;
    for (const Party& p : c.recipients) recipient_named = recipient_named || RefCovers(p, r.recipient);
    if (c.subject_id == r.subject_id && RefIn(c.purposes, r.purpose) && RefIn(c.categories, category) &&
        recipient_named) {
      matching.push_back(&c);
    }
  }
  for (const Consent* c : matching) {
    if (!RefConsentProblem(*c, r.time).has_value())
      return {true, ReasonCode::kAllowedByConsent, agreement, c->id};
  }
  if (matching.empty()) return {false, ReasonCode::kNoConsent, agreement, ""};
  return {false, *RefConsentProblem(*matching[0], r.time), agreement, matching[0]->id};
}

// ---------------------------------------------------------------------------------------------
// Random draws over a small world, so that matches, near misses and exact boundaries are common.

class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform enough for a test, and unlike std::uniform_int_distribution the same on every library.
  size_t Below(size_t n) { return static_cast<size_t>(engine_() % n); }
  bool Percent(size_t p) { return Below(100) < p; }
  template <typename T>
  T Pick(const std::vector<T>& v) {
    return v[Below(v.size())];
  }

 private:
  std::mt19937_64 engine_;
};

using ::accord::v1::SECTOR_EARLY_HELP;
using ::accord::v1::SECTOR_HEALTH;
using ::accord::v1::SECTOR_SCHOOL;
using ::accord::v1::SECTOR_UNSPECIFIED;
using ::accord::v1::SECTOR_VOLUNTARY;

const std::vector<std::pair<std::string, Sector>> kPartners = {
    {"oakfield", SECTOR_SCHOOL}, {"elmwood", SECTOR_SCHOOL},  {"nhs-camhs", SECTOR_HEALTH},
    {"nhs-gp", SECTOR_HEALTH},   {"kooth", SECTOR_VOLUNTARY},
};
const std::vector<Purpose> kPurposes = {::accord::v1::PURPOSE_REFERRAL, ::accord::v1::PURPOSE_ASSESSMENT};
const std::vector<Purpose> kOddPurposes = {::accord::v1::PURPOSE_UNSPECIFIED, static_cast<Purpose>(99),
                                           ::accord::v1::PURPOSE_SERVICE_DELIVERY};
const std::vector<DataCategory> kCategories = {
    ::accord::v1::DATA_CATEGORY_IDENTITY, ::accord::v1::DATA_CATEGORY_EDUCATION,
    ::accord::v1::DATA_CATEGORY_HEALTH, ::accord::v1::DATA_CATEGORY_MENTAL_HEALTH};
const std::vector<DataCategory> kOddCategories = {::accord::v1::DATA_CATEGORY_UNSPECIFIED,
                                                  static_cast<DataCategory>(42),
                                                  ::accord::v1::DATA_CATEGORY_SOCIAL_CARE};

absl::Time Hour(size_t h) { return kBase + absl::Hours(static_cast<int64_t>(h)); }

Partner RandomPartner(Rng& rng) {
  auto [id, sector] = rng.Pick(kPartners);
  Partner p;
  p.id = id;
  p.sector = sector;
  if (rng.Percent(1)) p.id = "";
  if (rng.Percent(1)) p.sector = rng.Percent(50) ? SECTOR_UNSPECIFIED : static_cast<Sector>(99);
  size_t s = rng.Below(100);
  p.state = s < 95   ? PartnerState::kActive
            : s < 97 ? PartnerState::kSuspended
            : s < 99 ? PartnerState::kRevoked
                     : static_cast<PartnerState>(5);
  return p;
}

Party RandomParty(Rng& rng) {
  Party p;
  if (rng.Percent(45)) {
    p.partner_id = rng.Percent(90) ? rng.Pick(kPartners).first : "ghost";
  } else {
    p.sector =
        rng.Pick(std::vector<Sector>{SECTOR_SCHOOL, SECTOR_HEALTH, SECTOR_VOLUNTARY, SECTOR_EARLY_HELP});
    if (rng.Percent(4)) p.sector = rng.Percent(50) ? SECTOR_UNSPECIFIED : static_cast<Sector>(99);
  }
  if (rng.Percent(3)) {  // malformed: both set
    p.partner_id = rng.Pick(kPartners).first;
    p.sector = rng.Pick(kPartners).second;
  }
  return p;
}

// A party that covers `who`, or one that nearly does (same sector, another partner).
Party PartyNear(Rng& rng, const Partner& who) {
  if (rng.Percent(10)) return RandomParty(rng);
  Party p;
  if (rng.Percent(50)) {
    p.partner_id = who.id;
  } else {
    p.sector = who.sector;
  }
  return p;
}

template <typename T>
std::vector<T> Subset(Rng& rng, const std::vector<T>& pool, const std::vector<T>& odd) {
  std::vector<T> out;
  for (const T& v : pool) {
    if (rng.Percent(80)) out.push_back(v);
  }
  if (rng.Percent(5)) out.push_back(rng.Pick(odd));
  return out;
}

// [from, until) in hours, occasionally empty or inverted.
std::pair<absl::Time, absl::Time> RandomWindow(Rng& rng) {
  size_t from = rng.Below(8);
  size_t until = rng.Percent(5) ? rng.Below(from + 1) : from + 1 + rng.Below(9);
  return {Hour(from), Hour(until)};
}

SharingRequest RandomRequest(Rng& rng) {
  SharingRequest r;
  r.discloser = RandomPartner(rng);
  r.recipient = RandomPartner(rng);
  size_t s = rng.Below(100);
  r.subject_id = s < 90 ? "s1" : s < 99 ? "s2" : "";
  r.purpose = rng.Percent(98) ? rng.Pick(kPurposes) : rng.Pick(kOddPurposes);
  if (!rng.Percent(1)) {
    std::vector<DataCategory> pool = kCategories;
    size_t n = 1 + rng.Below(3);
    for (size_t i = 0; i < n && !pool.empty(); ++i) {
      size_t k = rng.Below(pool.size());
      r.categories.push_back(pool[k]);
      pool.erase(pool.begin() + static_cast<std::ptrdiff_t>(k));
    }
    if (rng.Percent(2)) r.categories.push_back(r.categories[rng.Below(r.categories.size())]);  // repeat
    if (rng.Percent(2)) r.categories.insert(r.categories.begin(), rng.Pick(kOddCategories));
  }
  r.time = Hour(rng.Below(10));
  size_t b = rng.Below(100);
  if (b < 75) {
    // consent only
  } else if (b < 98) {
    r.lawful_basis = LawfulBasis{LawfulBasisKind::kSafeguarding,
                                 rng.Pick(std::vector<std::string>{"risk of significant harm", "DSL decision",
                                                                   " fear of harm ", "risk", "", "  \t"})};
  } else {
    r.lawful_basis = LawfulBasis{
        rng.Percent(50) ? LawfulBasisKind::kUnspecified : static_cast<LawfulBasisKind>(3), "because"};
  }
  return r;
}

SharingAgreement RandomAgreement(Rng& rng, const SharingRequest& r, size_t index) {
  SharingAgreement a;
  a.id = rng.Percent(4) ? "" : "a" + std::to_string(index);
  bool near = rng.Percent(85);
  a.discloser = near ? PartyNear(rng, r.discloser) : RandomParty(rng);
  a.recipient = near ? PartyNear(rng, r.recipient) : RandomParty(rng);
  a.purposes = Subset(rng, kPurposes, kOddPurposes);
  a.categories = Subset(rng, kCategories, kOddCategories);
  std::tie(a.valid_from, a.valid_until) = RandomWindow(rng);
  return a;
}

Consent RandomConsent(Rng& rng, const SharingRequest& r, size_t index) {
  Consent c;
  c.id = rng.Percent(4) ? "" : "c" + std::to_string(index);
  size_t s = rng.Below(100);
  c.subject_id = s < 80 ? "s1" : s < 97 ? "s2" : "";
  size_t g = rng.Below(100);
  c.given_by = g < 47   ? ConsentGiver::kYoungPerson
               : g < 94 ? ConsentGiver::kParentCarer
               : g < 97 ? ConsentGiver::kUnspecified
                        : static_cast<ConsentGiver>(7);
  c.purposes = Subset(rng, kPurposes, kOddPurposes);
  c.categories = Subset(rng, kCategories, kOddCategories);
  size_t n = 1 + rng.Below(2);
  for (size_t i = 0; i < n; ++i)
    c.recipients.push_back(rng.Percent(70) ? PartyNear(rng, r.recipient) : RandomParty(rng));
  std::tie(c.valid_from, c.valid_until) = RandomWindow(rng);
  size_t st = rng.Below(100);
  c.state = st < 80   ? ConsentState::kActive
            : st < 97 ? ConsentState::kWithdrawn
                      : static_cast<ConsentState>(4);
  if (c.state == ConsentState::kWithdrawn ? rng.Percent(85) : rng.Percent(8))
    c.withdrawn_at = Hour(rng.Below(10));
  c.recorded_by = "oakfield";
  c.evidence = "form";
  return c;
}

struct Draw {
  SharingRequest request;
  std::vector<SharingAgreement> agreements;
  std::vector<Consent> consents;
};

Draw RandomDraw(Rng& rng) {
  Draw d;
  d.request = RandomRequest(rng);
  size_t na = rng.Percent(10) ? 0 : 1 + rng.Below(4);
  for (size_t i = 0; i < na; ++i) d.agreements.push_back(RandomAgreement(rng, d.request, i));
  size_t nc = rng.Below(6);
  for (size_t i = 0; i < nc; ++i) d.consents.push_back(RandomConsent(rng, d.request, i));
  return d;
}

// ---------------------------------------------------------------------------------------------
// Printing a draw for failure messages.

std::string Hours(absl::Time t) { return std::to_string((t - kBase) / absl::Hours(1)); }

std::string PartyText(const Party& p) {
  return p.partner_id.empty()
             ? "sector:" + std::to_string(p.sector)
             : "partner:" + p.partner_id + (p.sector ? "+sector:" + std::to_string(p.sector) : "");
}

template <typename T>
std::string Ints(const std::vector<T>& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) s += (i ? "," : "") + std::to_string(static_cast<int>(v[i]));
  return s + "]";
}

std::string Describe(const Draw& d) {
  std::ostringstream o;
  const SharingRequest& r = d.request;
  auto partner = [](const Partner& p) {
    return p.id + "/sector:" + std::to_string(p.sector) +
           "/state:" + std::to_string(static_cast<int>(p.state));
  };
  o << "request: " << partner(r.discloser) << " -> " << partner(r.recipient) << " subject='" << r.subject_id
    << "' purpose=" << r.purpose << " categories=" << Ints(r.categories) << " t=" << Hours(r.time) << "h";
  if (r.lawful_basis) {
    o << " basis=" << static_cast<int>(r.lawful_basis->kind) << " '" << r.lawful_basis->justification << "'";
  }
  o << "\n";
  for (const SharingAgreement& a : d.agreements) {
    o << "  agreement '" << a.id << "' " << PartyText(a.discloser) << " -> " << PartyText(a.recipient)
      << " purposes=" << Ints(a.purposes) << " categories=" << Ints(a.categories) << " ["
      << Hours(a.valid_from) << "h," << Hours(a.valid_until) << "h)\n";
  }
  for (const Consent& c : d.consents) {
    o << "  consent '" << c.id << "' subject='" << c.subject_id << "' giver=" << static_cast<int>(c.given_by)
      << " purposes=" << Ints(c.purposes) << " categories=" << Ints(c.categories) << " recipients=";
    for (const Party& p : c.recipients) o << PartyText(p) << " ";
    o << "[" << Hours(c.valid_from) << "h," << Hours(c.valid_until)
      << "h) state=" << static_cast<int>(c.state)
      << " withdrawn_at=" << (c.withdrawn_at ? Hours(*c.withdrawn_at) + "h" : "-") << "\n";
  }
  return o.str();
}

// ---------------------------------------------------------------------------------------------
// The comparison.

// Empty when Decide agrees with the reference model on `d`; otherwise what differs.
std::string Disagreement(const Draw& d, const Decision& got) {
  std::ostringstream o;
  const SharingRequest& r = d.request;
  std::optional<ReasonCode> refusal = RefRefusal(r);
  if (got.categories.size() != r.categories.size()) {
    o << "answered " << got.categories.size() << " categories for " << r.categories.size() << " asked\n";
    return o.str();
  }
  if (refusal.has_value() != got.request_refusal.has_value() ||
      (refusal.has_value() && *refusal != got.request_refusal->code)) {
    o << "request refusal: expected " << (refusal ? ReasonCodeName(*refusal) : "none") << ", got "
      << (got.request_refusal ? ReasonCodeName(got.request_refusal->code) : "none") << "\n";
  }
  bool expect_alert = false;
  for (size_t i = 0; i < r.categories.size(); ++i) {
    Expected e = refusal.has_value() ? Expected{false, *refusal, "", ""}
                                     : RefCategory(r, r.categories[i], d.agreements, d.consents);
    expect_alert = expect_alert || (e.allowed && e.code == ReasonCode::kAllowedBySafeguarding);
    const CategoryDecision& c = got.categories[i];
    if (c.category != r.categories[i] || c.allowed != e.allowed || c.reason.code != e.code ||
        c.reason.agreement_id != e.agreement_id || c.reason.consent_id != e.consent_id) {
      o << "category[" << i << "]=" << r.categories[i] << ": expected " << (e.allowed ? "allow " : "deny ")
        << ReasonCodeName(e.code) << " agreement='" << e.agreement_id << "' consent='" << e.consent_id
        << "', got " << (c.allowed ? "allow " : "deny ") << ReasonCodeName(c.reason.code) << " agreement='"
        << c.reason.agreement_id << "' consent='" << c.reason.consent_id << "' (" << c.reason.text << ")\n";
    }
    if (c.allowed != IsAllowed(c.reason.code))
      o << "category[" << i << "]: allowed flag contradicts its code\n";
  }
  if (expect_alert != got.dpo_alert)
    o << "dpo_alert: expected " << expect_alert << ", got " << got.dpo_alert << "\n";
  return o.str();
}

// Properties that need no model; empty when they hold.
std::string BrokenProperty(const Draw& d, const Decision& got, Rng& rng) {
  std::ostringstream o;
  const SharingRequest& r = d.request;

  // Order of the inputs never changes what may be disclosed (only which ids are cited).
  std::vector<SharingAgreement> agreements(d.agreements.rbegin(), d.agreements.rend());
  std::vector<Consent> consents(d.consents.rbegin(), d.consents.rend());
  if (Decide(r, agreements, consents).AllowedCategories() != got.AllowedCategories()) {
    o << "reversing the agreements and consents changed the allowed categories\n";
  }

  // Taking a consent away never allows more.
  if (!d.consents.empty()) {
    std::vector<Consent> fewer = d.consents;
    fewer.erase(fewer.begin() + static_cast<std::ptrdiff_t>(rng.Below(fewer.size())));
    Decision less = Decide(r, d.agreements, fewer);
    for (size_t i = 0; i < less.categories.size(); ++i) {
      if (less.categories[i].allowed && !got.categories[i].allowed) {
        o << "removing a consent allowed category[" << i << "]\n";
      }
    }
  }

  // Each category is decided on its own: asking for it alone gives the same answer.
  if (!got.request_refusal.has_value()) {
    for (size_t i = 0; i < r.categories.size(); ++i) {
      SharingRequest one = r;
      one.categories = {r.categories[i]};
      Decision alone = Decide(one, d.agreements, d.consents);
      const Reason& a = alone.categories.at(0).reason;
      const Reason& b = got.categories[i].reason;
      if (a.code != b.code || a.agreement_id != b.agreement_id || a.consent_id != b.consent_id) {
        o << "category[" << i << "] alone: " << ReasonCodeName(a.code)
          << ", in the request: " << ReasonCodeName(b.code) << "\n";
      }
    }
  }

  // A justified safeguarding basis never takes away what consent allowed, and alerts when used.
  if (!r.lawful_basis.has_value()) {
    SharingRequest safeguarding = r;
    safeguarding.lawful_basis = LawfulBasis{LawfulBasisKind::kSafeguarding, "risk of significant harm"};
    Decision s = Decide(safeguarding, d.agreements, d.consents);
    for (size_t i = 0; i < got.categories.size(); ++i) {
      if (got.categories[i].allowed && !s.categories[i].allowed) {
        o << "a safeguarding basis denied category[" << i << "] that consent allowed\n";
      }
    }
    if (s.dpo_alert != s.AnyAllowed()) o << "safeguarding: dpo_alert must equal 'something was shared'\n";
  }
  return o.str();
}

uint64_t Seed() {
  const char* env = std::getenv("ACCORD_DECISION_SEED");
  return env != nullptr && *env != '\0' ? std::strtoull(env, nullptr, 10) : kDefaultSeed;
}

TEST(DecisionPropertyTest, DecideAgreesWithTheReferenceModel) {
  const uint64_t seed = Seed();
  Rng rng(seed);
  std::map<ReasonCode, int> seen;
  int allowed_draws = 0;
  for (int i = 0; i < kDraws; ++i) {
    Draw d = RandomDraw(rng);
    Decision got = Decide(d.request, d.agreements, d.consents);
    std::string diff = Disagreement(d, got);
    if (diff.empty()) diff = BrokenProperty(d, got, rng);
    if (!diff.empty()) {
      FAIL() << "seed " << seed << " (set ACCORD_DECISION_SEED to replay), draw " << i << ":\n"
             << diff << Describe(d);
    }
    for (const CategoryDecision& c : got.categories) ++seen[c.reason.code];
    if (got.AnyAllowed()) ++allowed_draws;
  }

  // The draws must reach every outcome, or agreement above would prove little.
  std::ostringstream histogram;
  for (const auto& [code, n] : seen) histogram << ReasonCodeName(code) << "=" << n << " ";
  for (ReasonCode code :
       {ReasonCode::kAllowedByConsent, ReasonCode::kAllowedBySafeguarding, ReasonCode::kInvalidRequest,
        ReasonCode::kDiscloserNotActive, ReasonCode::kRecipientNotActive, ReasonCode::kJustificationMissing,
        ReasonCode::kNoAgreement, ReasonCode::kAgreementNotInForce, ReasonCode::kNoConsent,
        ReasonCode::kConsentInvalid, ReasonCode::kConsentWithdrawn, ReasonCode::kConsentNotYetValid,
        ReasonCode::kConsentExpired}) {
    EXPECT_GE(seen[code], 20) << ReasonCodeName(code) << " is rarely drawn (seed " << seed
                              << "): " << histogram.str();
  }
  EXPECT_GE(allowed_draws, kDraws / 20) << "too few draws allow anything (seed " << seed << ")";
  std::cout << "seed " << seed << ", " << kDraws << " draws, " << allowed_draws
            << " allowing something: " << histogram.str() << "\n";
}

}  // namespace
}  // namespace accord::domain
