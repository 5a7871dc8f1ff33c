#include "hub/domain/decision.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace accord::domain {
namespace {

template <typename List, typename Value>
bool Contains(const List& list, const Value& value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

std::string PurposeText(Purpose p) { return ::accord::v1::Purpose_Name(p); }
std::string CategoryText(DataCategory c) { return ::accord::v1::DataCategory_Name(c); }

std::string TimeText(absl::Time t) { return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()); }

Reason MakeReason(ReasonCode code, std::string text) {
  Reason r;
  r.code = code;
  r.text = std::move(text);
  return r;
}

Reason InvalidRequest(absl::string_view field, absl::string_view why) {
  return MakeReason(ReasonCode::kInvalidRequest, absl::StrCat(field, ": ", why));
}

bool KnownSector(Sector s) {
  return s != ::accord::v1::SECTOR_UNSPECIFIED && ::accord::v1::Sector_IsValid(s);
}

// Request-level checks, in the order decision.h documents. nullopt when every category may be
// decided on its own.
std::optional<Reason> CheckRequest(const SharingRequest& req) {
  if (req.subject_id.empty()) return InvalidRequest("subject_id", "is required");
  int purpose = static_cast<int>(req.purpose);
  if (purpose == 0 || !::accord::v1::Purpose_IsValid(purpose)) {
    return InvalidRequest("purpose", absl::StrCat("unknown value ", purpose));
  }
  if (req.categories.empty()) return InvalidRequest("categories", "at least one category is required");
  std::set<int> seen;
  for (size_t i = 0; i < req.categories.size(); ++i) {
    int v = static_cast<int>(req.categories[i]);
    std::string path = absl::StrCat("categories[", i, "]");
    if (v == 0 || !::accord::v1::DataCategory_IsValid(v)) {
      return InvalidRequest(path, absl::StrCat("unknown value ", v));
    }
    if (!seen.insert(v).second) return InvalidRequest(path, "repeated value");
  }
  if (req.lawful_basis.has_value() && req.lawful_basis->kind != LawfulBasisKind::kSafeguarding) {
    return InvalidRequest("lawful_basis.kind",
                          absl::StrCat("unknown value ", static_cast<int>(req.lawful_basis->kind)));
  }
  if (req.discloser.id.empty()) return InvalidRequest("discloser.id", "is required");
  if (!KnownSector(req.discloser.sector))
    return InvalidRequest("discloser.sector", "a known sector is required");
  if (req.recipient.id.empty()) return InvalidRequest("recipient.id", "is required");
  if (!KnownSector(req.recipient.sector))
    return InvalidRequest("recipient.sector", "a known sector is required");

  if (req.discloser.state != PartnerState::kActive) {
    return MakeReason(ReasonCode::kDiscloserNotActive, absl::StrCat("discloser ", req.discloser.id, " is ",
                                                                    PartnerStateName(req.discloser.state)));
  }
  if (req.recipient.state != PartnerState::kActive) {
    return MakeReason(ReasonCode::kRecipientNotActive, absl::StrCat("recipient ", req.recipient.id, " is ",
                                                                    PartnerStateName(req.recipient.state)));
  }
  if (req.lawful_basis.has_value() && absl::StripAsciiWhitespace(req.lawful_basis->justification).empty()) {
    return MakeReason(ReasonCode::kJustificationMissing,
                      "lawful_basis.justification: sharing on the safeguarding basis needs a written "
                      "justification");
  }
  return std::nullopt;
}

bool AgreementScopeCovers(const SharingAgreement& a, const SharingRequest& req, DataCategory category) {
  return a.discloser.Covers(req.discloser) && a.recipient.Covers(req.recipient) &&
         Contains(a.purposes, req.purpose) && Contains(a.categories, category);
}

bool InForce(const SharingAgreement& a, absl::Time t) { return a.valid_from <= t && t < a.valid_until; }

// Why `consent` cannot be relied on at `time`, or nullopt when it can.
std::optional<ReasonCode> ConsentProblem(const Consent& c, absl::Time time) {
  bool known_giver = c.given_by == ConsentGiver::kYoungPerson || c.given_by == ConsentGiver::kParentCarer;
  if (c.id.empty() || !known_giver || c.valid_until <= c.valid_from) return ReasonCode::kConsentInvalid;
  switch (ConsentStatusAt(c, time)) {
    case ConsentStatus::kActive: return std::nullopt;
    case ConsentStatus::kWithdrawn: return ReasonCode::kConsentWithdrawn;
    case ConsentStatus::kNotYetValid: return ReasonCode::kConsentNotYetValid;
    case ConsentStatus::kExpired: return ReasonCode::kConsentExpired;
  }
  return ReasonCode::kConsentInvalid;
}

std::string ConsentProblemText(ReasonCode code, const Consent& c) {
  switch (code) {
    case ReasonCode::kConsentInvalid:
      return absl::StrCat("consent ", c.id.empty() ? "(without id)" : c.id,
                          " is malformed (missing id, unknown giver or empty validity window)");
    case ReasonCode::kConsentWithdrawn:
      if (c.withdrawn_at.has_value()) {
        return absl::StrCat("consent ", c.id, " was withdrawn at ", TimeText(*c.withdrawn_at));
      }
      return absl::StrCat("consent ", c.id, " is ", ConsentStateName(c.state));
    case ReasonCode::kConsentNotYetValid:
      return absl::StrCat("consent ", c.id, " is valid only from ", TimeText(c.valid_from));
    case ReasonCode::kConsentExpired:
      return absl::StrCat("consent ", c.id, " expired at ", TimeText(c.valid_until));
    default: return "";
  }
}

CategoryDecision DecideCategory(const SharingRequest& req, DataCategory category,
                                absl::Span<const SharingAgreement> agreements,
                                absl::Span<const Consent> consents) {
  CategoryDecision out;
  out.category = category;
  std::string what = absl::StrCat(PurposeText(req.purpose), " / ", CategoryText(category), " from ",
                                  req.discloser.id, " to ", req.recipient.id);

  // (a) an agreement in force.
  const SharingAgreement* in_force = nullptr;
  const SharingAgreement* not_in_force = nullptr;
  for (const SharingAgreement& a : agreements) {
    if (a.id.empty() || !AgreementScopeCovers(a, req, category)) continue;
    if (InForce(a, req.time)) {
      in_force = &a;
      break;
    }
    if (not_in_force == nullptr) not_in_force = &a;
  }
  if (in_force == nullptr) {
    if (not_in_force != nullptr) {
      out.reason = MakeReason(
          ReasonCode::kAgreementNotInForce,
          absl::StrCat("agreement ", not_in_force->id, " covers ", what, " but is in force only from ",
                       TimeText(not_in_force->valid_from), " until ", TimeText(not_in_force->valid_until)));
      out.reason.agreement_id = not_in_force->id;
    } else {
      out.reason = MakeReason(ReasonCode::kNoAgreement, absl::StrCat("no sharing agreement covers ", what));
    }
    return out;
  }

  // (b) the safeguarding basis (already checked to be well-formed) replaces consent.
  if (req.lawful_basis.has_value()) {
    out.allowed = true;
    out.reason = MakeReason(ReasonCode::kAllowedBySafeguarding,
                            absl::StrCat("agreement ", in_force->id, " covers ", what,
                                         "; shared without consent on the safeguarding basis"));
    out.reason.agreement_id = in_force->id;
    return out;
  }

  // (b) a usable consent for this subject covering purpose, category and recipient.
  const Consent* first_covering = nullptr;
  for (const Consent& c : consents) {
    if (c.subject_id != req.subject_id || !ConsentScopeCovers(c, req.purpose, category, req.recipient)) {
      continue;
    }
    if (!ConsentProblem(c, req.time).has_value()) {
      out.allowed = true;
      out.reason = MakeReason(ReasonCode::kAllowedByConsent,
                              absl::StrCat("agreement ", in_force->id, " and consent ", c.id, " (given by ",
                                           ConsentGiverName(c.given_by), ") cover ", what));
      out.reason.agreement_id = in_force->id;
      out.reason.consent_id = c.id;
      return out;
    }
    if (first_covering == nullptr) first_covering = &c;
  }
  if (first_covering == nullptr) {
    out.reason = MakeReason(ReasonCode::kNoConsent, absl::StrCat("agreement ", in_force->id, " covers ", what,
                                                                 " but no consent for this subject does"));
  } else {
    ReasonCode code = ConsentProblem(*first_covering, req.time).value_or(ReasonCode::kConsentInvalid);
    out.reason = MakeReason(code, absl::StrCat("agreement ", in_force->id, " covers ", what, " but ",
                                               ConsentProblemText(code, *first_covering)));
    out.reason.consent_id = first_covering->id;
  }
  out.reason.agreement_id = in_force->id;
  return out;
}

}  // namespace

absl::string_view ReasonCodeName(ReasonCode code) {
  switch (code) {
    case ReasonCode::kAllowedByConsent: return "ALLOWED_BY_CONSENT";
    case ReasonCode::kAllowedBySafeguarding: return "ALLOWED_BY_SAFEGUARDING";
    case ReasonCode::kInvalidRequest: return "INVALID_REQUEST";
    case ReasonCode::kDiscloserNotActive: return "DISCLOSER_NOT_ACTIVE";
    case ReasonCode::kRecipientNotActive: return "RECIPIENT_NOT_ACTIVE";
    case ReasonCode::kJustificationMissing: return "JUSTIFICATION_MISSING";
    case ReasonCode::kNoAgreement: return "NO_AGREEMENT";
    case ReasonCode::kAgreementNotInForce: return "AGREEMENT_NOT_IN_FORCE";
    case ReasonCode::kNoConsent: return "NO_CONSENT";
    case ReasonCode::kConsentInvalid: return "CONSENT_INVALID";
    case ReasonCode::kConsentWithdrawn: return "CONSENT_WITHDRAWN";
    case ReasonCode::kConsentNotYetValid: return "CONSENT_NOT_YET_VALID";
    case ReasonCode::kConsentExpired: return "CONSENT_EXPIRED";
  }
  return "UNKNOWN";
}

bool IsAllowed(ReasonCode code) {
  return code == ReasonCode::kAllowedByConsent || code == ReasonCode::kAllowedBySafeguarding;
}

bool Decision::AnyAllowed() const {
  return std::any_of(categories.begin(), categories.end(),
                     [](const CategoryDecision& c) { return c.allowed; });
}

bool Decision::AllAllowed() const {
  return !categories.empty() && std::all_of(categories.begin(), categories.end(),
                                            [](const CategoryDecision& c) { return c.allowed; });
}

std::vector<DataCategory> Decision::AllowedCategories() const {
  std::vector<DataCategory> out;
  for (const CategoryDecision& c : categories) {
    if (c.allowed) out.push_back(c.category);
  }
  return out;
}

Decision Decide(const SharingRequest& req, absl::Span<const SharingAgreement> agreements,
                absl::Span<const Consent> consents) {
  Decision decision;
  decision.categories.reserve(req.categories.size());
  if (std::optional<Reason> refusal = CheckRequest(req); refusal.has_value()) {
    for (DataCategory category : req.categories) {
      CategoryDecision denied;
      denied.category = category;
      denied.reason = *refusal;
      decision.categories.push_back(std::move(denied));
    }
    decision.request_refusal = std::move(refusal);
    return decision;
  }
  for (DataCategory category : req.categories) {
    CategoryDecision d = DecideCategory(req, category, agreements, consents);
    if (d.allowed && d.reason.code == ReasonCode::kAllowedBySafeguarding) decision.dpo_alert = true;
    decision.categories.push_back(std::move(d));
  }
  return decision;
}

}  // namespace accord::domain
