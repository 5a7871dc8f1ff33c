// National identifiers of a subject and the postcode used for matching: validation and the one
// canonical form each is stored, compared and indexed in.
//
// Pure functions, thread-safe. Each Validate* returns the normalised value, or INVALID_ARGUMENT
// whose message starts with `field` and says exactly what is wrong ("nhs_number: check digit
// mismatch (expected 4)"). Messages never repeat the input itself (it is personal data and
// statuses end up in logs); at most they quote a single offending character and its position.
#ifndef ACCORD_HUB_DOMAIN_IDENTIFIERS_H_
#define ACCORD_HUB_DOMAIN_IDENTIFIERS_H_

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accord::domain {

// NHS number (NHS Data Dictionary): 10 digits, the 10th a modulus-11 check digit.
//
// Accepts the 10 digits alone or written 3-3-4 with one space or '-' between the groups
// ("943 476 5919", "943-476-5919"); surrounding whitespace is ignored. Returns the 10 digits.
// Refused: any other character or grouping, not exactly 10 digits, nine leading digits whose
// check digit would be 10 (no valid number starts with them), a wrong check digit.
absl::StatusOr<std::string> ValidateNhsNumber(absl::string_view input,
                                              absl::string_view field = "nhs_number");

// The check digit of an NHS number from its first nine digits: weights 10..2, then
// 11 - (sum mod 11), where 11 gives 0. nullopt when the result is 10 (an unusable number) or
// when `first_nine` is not exactly nine ASCII digits.
std::optional<int> NhsNumberCheckDigit(absl::string_view first_nine);

// Unique Pupil Number (GovTalk "Unique Pupil Number" v2.0): 13 characters; character 1 is a
// check letter, characters 2-12 are digits, character 13 is a digit (permanent UPN) or a letter
// (temporary UPN). Letters come from the 23-letter alphabet ABCDEFGHJKLMNPQRTUVWXYZ (no I, O, S).
//
// Surrounding whitespace is ignored and lower case is accepted; returns the 13 characters in upper
// case. Refused with the position and the rule broken: wrong length, a character 1 that cannot be
// a check letter, a non-digit in 2-12, a character 13 that is neither a digit nor an alphabet
// letter, a wrong check letter. Whether characters 2-4 are a real local-authority number is not
// checked (that needs the DfE's list, which changes).
absl::StatusOr<std::string> ValidateUpn(absl::string_view input, absl::string_view field = "upn");

// The check letter of a UPN from its characters 2-13 (`last_twelve`, upper case): each weighted by
// its position (2..13), a digit counting its value and a letter its 0-based index in
// ABCDEFGHJKLMNPQRTUVWXYZ; the sum mod 23 indexes the same alphabet. nullopt when `last_twelve`
// is not 12 characters or holds a character the UPN format does not allow there.
std::optional<char> UpnCheckLetter(absl::string_view last_twelve);

// UK postcode: returns it in upper case with a single space before the inward code, e.g.
// " sw1a1aa " -> "SW1A 1AA". Spaces anywhere are ignored.
//
// Checks the general shape only: an outward code A9, A99, AA9, AA99, A9A or AA9A (A = letter,
// 9 = digit) and an inward code 9AA; "GIR 0AA" is accepted as the one historic exception.
// Whether the postcode exists, and which letters Royal Mail uses in which position, are not
// checked: a real postcode must never be refused because a letter rule changed.
absl::StatusOr<std::string> ValidatePostcode(absl::string_view input, absl::string_view field = "postcode");

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_IDENTIFIERS_H_
