#include "hub/domain/consent.h"

#include <algorithm>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "hub/domain/validation.h"

namespace accord::domain {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

absl::Status ValidateRecipients(const std::vector<Party>& recipients, absl::string_view field) {
  if (recipients.empty()) return Invalid(field, "at least one recipient is required");
  std::set<std::pair<std::string, int>> seen;
  for (size_t i = 0; i < recipients.size(); ++i) {
    const Party& party = recipients[i];
    std::string path = absl::StrCat(field, "[", i, "]");
    if (auto s = ValidateParty(party, path); !s.ok()) return s;
    if (!seen.emplace(party.partner_id, static_cast<int>(party.sector)).second) {
      return Invalid(path, "repeated recipient");
    }
  }
  return absl::OkStatus();
}

bool IsFinite(absl::Time t) { return t != absl::InfinitePast() && t != absl::InfiniteFuture(); }

}  // namespace

absl::string_view ConsentGiverName(ConsentGiver giver) {
  switch (giver) {
    case ConsentGiver::kUnspecified: return "UNSPECIFIED";
    case ConsentGiver::kYoungPerson: return "YOUNG_PERSON";
    case ConsentGiver::kParentCarer: return "PARENT_CARER";
  }
  return "UNKNOWN";
}

absl::string_view ConsentStateName(ConsentState state) {
  switch (state) {
    case ConsentState::kActive: return "ACTIVE";
    case ConsentState::kWithdrawn: return "WITHDRAWN";
  }
  return "UNKNOWN";
}

absl::string_view ConsentStatusName(ConsentStatus status) {
  switch (status) {
    case ConsentStatus::kActive: return "ACTIVE";
    case ConsentStatus::kNotYetValid: return "NOT_YET_VALID";
    case ConsentStatus::kExpired: return "EXPIRED";
    case ConsentStatus::kWithdrawn: return "WITHDRAWN";
  }
  return "UNKNOWN";
}

bool ConsentScopeCovers(const Consent& consent, Purpose purpose, DataCategory category,
                        const Partner& recipient) {
  auto has = [](const auto& list, auto value) {
    return std::find(list.begin(), list.end(), value) != list.end();
  };
  return has(consent.purposes, purpose) && has(consent.categories, category) &&
         std::any_of(consent.recipients.begin(), consent.recipients.end(),
                     [&](const Party& party) { return party.Covers(recipient); });
}

ConsentStatus ConsentStatusAt(const Consent& consent, absl::Time time) {
  if (consent.state != ConsentState::kActive) return ConsentStatus::kWithdrawn;
  if (consent.withdrawn_at.has_value() && *consent.withdrawn_at <= time) return ConsentStatus::kWithdrawn;
  if (time < consent.valid_from) return ConsentStatus::kNotYetValid;
  if (time >= consent.valid_until) return ConsentStatus::kExpired;
  return ConsentStatus::kActive;
}

absl::Status ValidateConsent(const Consent& c) {
  if (c.subject_id.empty() || c.subject_id.size() > 128) {
    return Invalid("consent.subject_id", "must be 1-128 characters");
  }
  for (unsigned char ch : c.subject_id) {
    if (ch < 0x21 || ch > 0x7e) return Invalid("consent.subject_id", "only printable ASCII is allowed");
  }
  if (c.given_by != ConsentGiver::kYoungPerson && c.given_by != ConsentGiver::kParentCarer) {
    return Invalid("consent.given_by", "must be YOUNG_PERSON or PARENT_CARER");
  }
  if (auto s = ValidatePurposes(c.purposes, "consent.purposes"); !s.ok()) return s;
  if (auto s = ValidateCategories(c.categories, "consent.data_categories"); !s.ok()) return s;
  if (auto s = ValidateRecipients(c.recipients, "consent.recipients"); !s.ok()) return s;
  if (!IsFinite(c.valid_from)) return Invalid("consent.valid_from", "must be a finite time");
  if (!IsFinite(c.valid_until) || c.valid_until == absl::UnixEpoch()) {
    return Invalid("consent.valid_until", "is required");
  }
  if (c.valid_until <= c.valid_from) return Invalid("consent.valid_until", "must be after valid_from");
  if (c.state != ConsentState::kActive) return Invalid("consent.state", "a new consent must be ACTIVE");
  if (c.withdrawn_at.has_value()) return Invalid("consent.withdrawn_at", "must not be set on a new consent");
  if (auto s = ValidatePartnerId(c.recorded_by, "consent.recorded_by"); !s.ok()) return s;
  if (c.evidence.size() > 2000) return Invalid("consent.evidence", "at most 2000 characters");
  if (absl::StripAsciiWhitespace(c.evidence).empty()) {
    return Invalid("consent.evidence", "how the consent was obtained is required");
  }
  return absl::OkStatus();
}

absl::Status WithdrawConsent(Consent& consent, absl::Time at) {
  if (consent.state != ConsentState::kActive) {
    return absl::FailedPreconditionError("consent.state: only an ACTIVE consent can be withdrawn");
  }
  consent.state = ConsentState::kWithdrawn;
  consent.withdrawn_at = at;
  return absl::OkStatus();
}

}  // namespace accord::domain
