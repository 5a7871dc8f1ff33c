// Person matching for the hub's person index (DESIGN.md §2 "Subject"): scores the demographics
// of an incoming record against the records the index already holds and says whether exactly one
// subject is confidently the same person, several are plausible (a human must decide), or none.
// The scoring, the thresholds and the reasons for them are in docs/MATCHING.md.
//
// Deterministic matching on national identifiers is the caller's job and happens first (a known
// NHS number or UPN links directly); this file only scores demographics. What it does with
// identifiers is refuse: a subject with an NHS number or UPN that differs from the query's is a
// different person and is never a candidate.
//
// Pure functions: no I/O, no clock, no global state; thread-safe. Results are deterministic and
// do not depend on the order of `records`.
#ifndef ACCORD_HUB_DOMAIN_MATCHING_H_
#define ACCORD_HUB_DOMAIN_MATCHING_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace accord::domain {

// One partner's record of one subject, as stored in the index.
struct PersonRecord {
  std::string subject_id;
  std::string nhs_number;  // normalised 10 digits or empty
  std::string upn;         // normalised 13 characters or empty
  std::string given_name, family_name;
  std::string birth_date;  // "YYYY-MM-DD" or empty
  std::string postcode;    // normalised "SW1A 1AA" or empty
};

// The incoming person; fields in the same forms as PersonRecord. Empty fields never agree.
struct MatchQuery {
  std::string nhs_number, upn, given_name, family_name, birth_date, postcode;
};

// A subject that scored, with the fields of its best record that agreed with the query, in the
// fixed order birth_date, family_name, given_name, postcode. A field that agreed only partly is
// named with a suffix: "birth_date_partial", "family_name_prefix", "given_name_initial",
// "postcode_outward". Carries no personal details: safe to show to the caller.
struct MatchCandidate {
  std::string subject_id;
  int score = 0;  // 0..100
  std::vector<std::string> matched_fields;
};

enum class MatchOutcome {
  kConfident,  // exactly one subject is the same person: link it
  kAmbiguous,  // at least one subject is plausible but none confidently: link nothing
  kNone,       // nobody plausible: a new subject
};

struct MatchResult {
  MatchOutcome outcome = MatchOutcome::kNone;
  std::string subject_id;  // set when kConfident
  // Subjects scoring at least kPlausibleScore, best first, ties by subject_id ascending. When
  // kConfident the confident subject is the first.
  std::vector<MatchCandidate> candidates;
};

// Points per agreeing field (docs/MATCHING.md). A partial agreement scores instead of, never in
// addition to, the full one. The maximum total is 100.
inline constexpr int kBirthDateExactPoints = 40;
inline constexpr int kBirthDatePartialPoints = 20;  // day/month transposed, or one digit differs
inline constexpr int kFamilyNameExactPoints = 25;
inline constexpr int kFamilyNamePrefixPoints = 10;  // first three letters equal
inline constexpr int kGivenNameExactPoints = 25;
inline constexpr int kGivenNameInitialPoints = 10;  // one side is an initial of the other
inline constexpr int kPostcodeFullPoints = 10;
inline constexpr int kPostcodeOutwardPoints = 5;    // outward code ("SW1A") only

// A subject at or above this score is a candidate; below it, it is ignored.
inline constexpr int kPlausibleScore = 70;
// The best subject links automatically only when it scores at least kConfidentScore, its birth
// date agrees exactly, and every other subject scores at least kConfidentMargin points less.
inline constexpr int kConfidentScore = 90;
inline constexpr int kConfidentMargin = 15;

// Scores every subject among `records` against the query's demographics and decides. Several
// records may share a subject_id: each subject scores as its best-scoring record. A subject any of
// whose records has an NHS number or UPN present in both it and the query and different from the
// query's is excluded altogether (a conflicting national identifier means a different person).
// An agreeing identifier adds nothing: identifier matches are resolved before this is called.
MatchResult MatchDemographics(const MatchQuery& query, absl::Span<const PersonRecord> records);

// The score of one record against the query: subject_id is the record's. nullopt when a national
// identifier conflicts. Symmetric: swapping the roles of query and record gives the same score.
std::optional<MatchCandidate> ScoreRecord(const MatchQuery& query, const PersonRecord& record);

// The form names are compared and indexed in: ASCII letters lower-cased; hyphen, apostrophe
// (ASCII ' and the typographic ‘ ’) and dot dropped ("O'Brien-Smith" -> "obriensmith"); any other
// ASCII character (spaces, digits, other punctuation, control characters) separates words, and
// words are joined by single spaces with none leading or trailing. Other non-ASCII bytes are kept
// as they are (so "Zoë" and "ZOË" differ). Used for blocking keys and comparisons.
std::string NormaliseName(absl::string_view name);

// The minimum demographics that allow a demographic match: given_name, family_name and
// birth_date all present. OK, or INVALID_ARGUMENT naming the first offending field
// ("demographics.birth_date: must not be in the future"), checked in the order given_name,
// family_name, birth_date: a name missing, longer than 100 characters (UTF-8 code points),
// holding a control character, or with no letter at all; a birth date that is not a real calendar
// date YYYY-MM-DD or is after `today`. The postcode is optional and validated elsewhere
// (ValidatePostcode).
absl::Status ValidateDemographics(const MatchQuery& query, absl::Time today);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_MATCHING_H_
