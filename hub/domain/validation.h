// Input rules for partners and agreements. Pure functions: each returns OK or INVALID_ARGUMENT
// whose message starts with the offending field's path (e.g. "partner.display_name: ...").
#ifndef ACCORD_HUB_DOMAIN_VALIDATION_H_
#define ACCORD_HUB_DOMAIN_VALIDATION_H_

#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "hub/domain/types.h"

namespace accord::domain {

// 3–63 characters of [a-z0-9-], starting with a letter, not ending with '-'.
absl::Status ValidatePartnerId(absl::string_view id, absl::string_view field = "partner_id");

// A partner id made from a display name ("Oakfield Primary School" → "oakfield-primary-school"),
// trimmed to 63 characters; prefixed "p-" when it would not start with a letter.
std::string PartnerIdFromName(absl::string_view display_name);

// display_name (1–200 printable characters), a known sector, at least one known role, no repeats.
absl::Status ValidateNewPartner(const Partner& partner);

// Both parties set (a known partner id or a known sector), at least one purpose and category, all
// known and unrepeated, valid_until after valid_from. Existence of named partners is the caller's
// concern (it needs the store).
absl::Status ValidateAgreement(const SharingAgreement& agreement);

// A purpose that is set and known, under `field`.
absl::Status ValidatePurpose(Purpose purpose, absl::string_view field = "purpose");
// At least one purpose, each known, no repeats: "purposes[1]: repeated value".
absl::Status ValidatePurposes(const std::vector<Purpose>& purposes, absl::string_view field = "purposes");
// At least one category, each known, no repeats: "data_categories[2]: repeated value".
absl::Status ValidateCategories(const std::vector<DataCategory>& categories,
                                absl::string_view field = "data_categories");
// "YYYY-MM-DD", a real calendar date, not after `today`.
absl::Status ValidateBirthDate(absl::string_view date, absl::Time today, absl::string_view field);

// Exactly one of a valid partner id or a known sector ("<field>.partner: ..." for a bad id).
absl::Status ValidateParty(const Party& party, absl::string_view field);

// "Why": free text such as a suspension reason: 1–1000 characters.
absl::Status ValidateReason(absl::string_view reason, absl::string_view field);

// Resource names: "partners/{id}" ↔ id.
std::string PartnerName(absl::string_view id);
absl::StatusOr<std::string> ParsePartnerName(absl::string_view name, absl::string_view field = "name");
std::string AgreementName(absl::string_view id);
// Resource names of subjects and consents: "subjects/{id}", "consents/{id}" (ids: 1-64 of
// [a-z0-9]).
std::string SubjectName(absl::string_view id);
absl::StatusOr<std::string> ParseSubjectName(absl::string_view name, absl::string_view field);
std::string ConsentName(absl::string_view id);
absl::StatusOr<std::string> ParseConsentName(absl::string_view name, absl::string_view field);

// Paging (AIP-158): the page size to use and an opaque token holding the last id served.
absl::StatusOr<int> EffectivePageSize(int requested, int max_page_size);
std::string EncodePageToken(absl::string_view last_id);
absl::StatusOr<std::string> DecodePageToken(absl::string_view token);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_VALIDATION_H_
