#include "hub/domain/validation.h"

#include <algorithm>
#include <set>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"

namespace accord::domain {
namespace {

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

template <typename Enum>
absl::Status ValidateEnumList(const std::vector<Enum>& values, absl::string_view field,
                              bool (*is_valid)(int)) {
  if (values.empty()) return Invalid(field, "at least one value is required");
  std::set<int> seen;
  for (size_t i = 0; i < values.size(); ++i) {
    int v = static_cast<int>(values[i]);
    std::string path = absl::StrCat(field, "[", i, "]");
    if (v == 0 || !is_valid(v)) return Invalid(path, absl::StrCat("unknown value ", v));
    if (!seen.insert(v).second) return Invalid(path, "repeated value");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePartnerId(absl::string_view id, absl::string_view field) {
  if (id.size() < 3 || id.size() > 63) return Invalid(field, "must be 3-63 characters");
  if (id.front() < 'a' || id.front() > 'z') return Invalid(field, "must start with a lower-case letter");
  if (id.back() == '-') return Invalid(field, "must not end with '-'");
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-';
    if (!ok) return Invalid(field, "only lower-case letters, digits and '-' are allowed");
  }
  return absl::OkStatus();
}

std::string PartnerIdFromName(absl::string_view display_name) {
  std::string id;
  bool dash = false;
  for (char c : display_name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    bool alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
    if (alnum) {
      if (dash && !id.empty()) id.push_back('-');
      id.push_back(c);
      dash = false;
    } else {
      dash = true;
    }
  }
  if (id.empty() || id.front() < 'a' || id.front() > 'z') id = "p-" + id;
  if (id.size() > 63) id.resize(63);
  while (!id.empty() && id.back() == '-') id.pop_back();
  if (id.size() < 3) id = id.size() > 2 ? "partner-" + id.substr(2) : "partner";
  return id;
}

absl::Status ValidateParty(const Party& party, absl::string_view field) {
  if (party.IsPartner()) {
    if (party.sector != ::accord::v1::SECTOR_UNSPECIFIED) {
      return Invalid(field, "name either a partner or a sector, not both");
    }
    return ValidatePartnerId(party.partner_id, absl::StrCat(field, ".partner"));
  }
  if (party.sector == ::accord::v1::SECTOR_UNSPECIFIED || !::accord::v1::Sector_IsValid(party.sector)) {
    return Invalid(field, "a partner or a known sector is required");
  }
  return absl::OkStatus();
}

absl::Status ValidateNewPartner(const Partner& partner) {
  const std::string& name = partner.display_name;
  if (name.empty() || name.size() > 200) return Invalid("partner.display_name", "must be 1-200 characters");
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) return Invalid("partner.display_name", "must not contain control characters");
  }
  if (partner.sector == ::accord::v1::SECTOR_UNSPECIFIED || !::accord::v1::Sector_IsValid(partner.sector)) {
    return Invalid("partner.sector", "a known sector is required");
  }
  return ValidateEnumList(partner.roles, "partner.roles", &::accord::v1::Role_IsValid);
}

absl::Status ValidateAgreement(const SharingAgreement& a) {
  if (auto s = ValidateParty(a.discloser, "sharing_agreement.discloser"); !s.ok()) return s;
  if (auto s = ValidateParty(a.recipient, "sharing_agreement.recipient"); !s.ok()) return s;
  if (auto s = ValidatePurposes(a.purposes, "sharing_agreement.purposes"); !s.ok()) return s;
  if (auto s = ValidateCategories(a.categories, "sharing_agreement.data_categories"); !s.ok()) return s;
  if (a.valid_until == absl::InfinitePast() || a.valid_until == absl::UnixEpoch()) {
    return Invalid("sharing_agreement.valid_until", "is required");
  }
  if (a.valid_until <= a.valid_from) {
    return Invalid("sharing_agreement.valid_until", "must be after valid_from");
  }
  if (a.description.size() > 1000) return Invalid("sharing_agreement.description", "at most 1000 characters");
  return absl::OkStatus();
}

absl::Status ValidatePurpose(Purpose purpose, absl::string_view field) {
  if (purpose == ::accord::v1::PURPOSE_UNSPECIFIED || !::accord::v1::Purpose_IsValid(purpose)) {
    return Invalid(field, "a known purpose is required");
  }
  return absl::OkStatus();
}

absl::Status ValidatePurposes(const std::vector<Purpose>& purposes, absl::string_view field) {
  return ValidateEnumList(purposes, field, &::accord::v1::Purpose_IsValid);
}

absl::Status ValidateCategories(const std::vector<DataCategory>& categories, absl::string_view field) {
  return ValidateEnumList(categories, field, &::accord::v1::DataCategory_IsValid);
}

absl::Status ValidateBirthDate(absl::string_view date, absl::Time today, absl::string_view field) {
  absl::CivilDay day;
  if (date.size() != 10 || !absl::ParseCivilTime(date, &day) || absl::FormatCivilTime(day) != date) {
    return Invalid(field, "must be a calendar date YYYY-MM-DD");
  }
  if (absl::FromCivil(day, absl::UTCTimeZone()) > today) return Invalid(field, "must not be in the future");
  return absl::OkStatus();
}

absl::Status ValidateReason(absl::string_view reason, absl::string_view field) {
  if (reason.empty() || reason.size() > 1000) return Invalid(field, "must be 1-1000 characters");
  return absl::OkStatus();
}

std::string PartnerName(absl::string_view id) { return absl::StrCat("partners/", id); }

absl::StatusOr<std::string> ParsePartnerName(absl::string_view name, absl::string_view field) {
  constexpr absl::string_view kPrefix = "partners/";
  if (!absl::StartsWith(name, kPrefix)) return Invalid(field, "must look like \"partners/{partner_id}\"");
  std::string id(name.substr(kPrefix.size()));
  if (auto s = ValidatePartnerId(id, field); !s.ok()) return s;
  return id;
}

std::string AgreementName(absl::string_view id) { return absl::StrCat("sharingAgreements/", id); }

namespace {
absl::StatusOr<std::string> ParseOpaqueName(absl::string_view name, absl::string_view prefix,
                                            absl::string_view field) {
  if (!absl::StartsWith(name, prefix)) return Invalid(field, absl::StrCat("must look like \"", prefix, "{id}\""));
  absl::string_view id = name.substr(prefix.size());
  bool ok = !id.empty() && id.size() <= 64;
  for (char c : id) ok = ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'));
  if (!ok) return Invalid(field, absl::StrCat("must look like \"", prefix, "{id}\""));
  return std::string(id);
}
}  // namespace

std::string SubjectName(absl::string_view id) { return absl::StrCat("subjects/", id); }
absl::StatusOr<std::string> ParseSubjectName(absl::string_view name, absl::string_view field) {
  return ParseOpaqueName(name, "subjects/", field);
}
std::string ConsentName(absl::string_view id) { return absl::StrCat("consents/", id); }
absl::StatusOr<std::string> ParseConsentName(absl::string_view name, absl::string_view field) {
  return ParseOpaqueName(name, "consents/", field);
}

absl::StatusOr<int> EffectivePageSize(int requested, int max_page_size) {
  if (requested < 0) return Invalid("page_size", "must not be negative");
  if (requested == 0 || requested > max_page_size) return max_page_size;
  return requested;
}

std::string EncodePageToken(absl::string_view last_id) {
  return absl::WebSafeBase64Escape(absl::StrCat("after:", last_id));
}

absl::StatusOr<std::string> DecodePageToken(absl::string_view token) {
  if (token.empty()) return std::string();
  std::string raw;
  if (!absl::WebSafeBase64Unescape(token, &raw) || !absl::StartsWith(raw, "after:") || raw.size() == 6) {
    return Invalid("page_token", "not a token this hub issued");
  }
  return raw.substr(6);
}

}  // namespace accord::domain
