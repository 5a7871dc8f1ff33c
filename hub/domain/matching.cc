#include "hub/domain/matching.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "hub/domain/validation.h"

namespace accord::domain {
namespace {

constexpr size_t kMaxNameCharacters = 100;

bool IsAsciiLetter(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// A name as compared: NormaliseName without the spaces, so "Mary Ann", "Mary-Ann" and "Maryann"
// agree.
std::string CompactName(absl::string_view name) {
  std::string out = NormaliseName(name);
  out.erase(std::remove(out.begin(), out.end(), ' '), out.end());
  return out;
}

// "YYYY-MM-DD" by shape only (the caller validated the calendar): its eight digits, or empty.
std::string DateDigits(absl::string_view date) {
  if (date.size() != 10 || date[4] != '-' || date[7] != '-') return "";
  std::string digits;
  for (size_t i = 0; i < date.size(); ++i) {
    if (i == 4 || i == 7) continue;
    if (!IsDigit(date[i])) return "";
    digits.push_back(date[i]);
  }
  return digits;
}

// Upper-case letters and digits only; the last three characters are the inward code.
std::string CompactPostcode(absl::string_view postcode) {
  std::string out;
  for (unsigned char c : postcode) {
    if (IsAsciiLetter(c)) out.push_back(static_cast<char>(c >= 'a' ? c - 'a' + 'A' : c));
    else if (IsDigit(static_cast<char>(c))) out.push_back(static_cast<char>(c));
  }
  return out.size() >= 5 && out.size() <= 7 ? out : "";
}

enum class Agreement { kNone, kPartial, kFull };

Agreement CompareBirthDates(absl::string_view a, absl::string_view b) {
  std::string x = DateDigits(a), y = DateDigits(b);
  if (x.empty() || y.empty()) return Agreement::kNone;
  if (x == y) return Agreement::kFull;
  // Digits: YYYY MM DD at [0,4) [4,6) [6,8). Day and month swapped, same year.
  if (x.compare(0, 4, y, 0, 4) == 0 && x.compare(4, 2, y, 6, 2) == 0 && x.compare(6, 2, y, 4, 2) == 0) {
    return Agreement::kPartial;
  }
  int differing = 0;
  for (size_t i = 0; i < x.size(); ++i) differing += x[i] != y[i];
  return differing == 1 ? Agreement::kPartial : Agreement::kNone;
}

Agreement CompareFamilyNames(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return Agreement::kNone;
  if (a == b) return Agreement::kFull;
  if (a.size() >= 3 && b.size() >= 3 && a.compare(0, 3, b, 0, 3) == 0) return Agreement::kPartial;
  return Agreement::kNone;
}

Agreement CompareGivenNames(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return Agreement::kNone;
  if (a == b) return Agreement::kFull;
  const std::string& shorter = a.size() < b.size() ? a : b;
  const std::string& longer = a.size() < b.size() ? b : a;
  if (shorter.size() == 1 && IsAsciiLetter(shorter[0]) && longer[0] == shorter[0]) return Agreement::kPartial;
  return Agreement::kNone;
}

Agreement ComparePostcodes(absl::string_view a, absl::string_view b) {
  std::string x = CompactPostcode(a), y = CompactPostcode(b);
  if (x.empty() || y.empty()) return Agreement::kNone;
  if (x == y) return Agreement::kFull;
  if (x.size() == y.size() && x.compare(0, x.size() - 3, y, 0, y.size() - 3) == 0) return Agreement::kPartial;
  return Agreement::kNone;
}

// Present on both sides and different.
bool Conflicts(const std::string& a, const std::string& b) { return !a.empty() && !b.empty() && a != b; }

bool ConflictsWithQuery(const MatchQuery& query, const PersonRecord& record) {
  return Conflicts(query.nhs_number, record.nhs_number) || Conflicts(query.upn, record.upn);
}

void Add(Agreement agreement, absl::string_view field, absl::string_view partial_suffix, int full_points,
         int partial_points, MatchCandidate& out) {
  if (agreement == Agreement::kFull) {
    out.score += full_points;
    out.matched_fields.emplace_back(field);
  } else if (agreement == Agreement::kPartial) {
    out.score += partial_points;
    out.matched_fields.push_back(absl::StrCat(field, partial_suffix));
  }
}

// Better record of one subject: higher score, then the smaller list of field names, so the choice
// never depends on the order records arrive in.
bool BetterRecord(const MatchCandidate& a, const MatchCandidate& b) {
  if (a.score != b.score) return a.score > b.score;
  return a.matched_fields < b.matched_fields;
}

size_t CountCodePoints(absl::string_view s) {
  size_t n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80;
  return n;
}

absl::Status ValidateName(absl::string_view name, absl::string_view field) {
  if (name.empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": required for a demographic match"));
  if (CountCodePoints(name) > kMaxNameCharacters) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": at most ", kMaxNameCharacters, " characters"));
  }
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return absl::InvalidArgumentError(absl::StrCat(field, ": control characters are not allowed"));
    }
  }
  if (NormaliseName(name).empty()) return absl::InvalidArgumentError(absl::StrCat(field, ": must contain a letter"));
  return absl::OkStatus();
}

}  // namespace

std::string NormaliseName(absl::string_view name) {
  // First drop the joining punctuation. Done as a stack so that a typographic apostrophe formed
  // only once a dot or hyphen between its bytes is gone ("\xE2\x80.\x99") goes too, which keeps
  // NormaliseName idempotent.
  std::string kept;
  kept.reserve(name.size());
  for (char c : name) {
    if (c == '-' || c == '\'' || c == '.') continue;
    kept.push_back(c);
    size_t n = kept.size();
    if (n >= 3 && kept[n - 3] == '\xE2' && kept[n - 2] == '\x80' && (kept[n - 1] == '\x98' || kept[n - 1] == '\x99')) {
      kept.resize(n - 3);  // U+2018 or U+2019
    }
  }
  // Then letters (and non-ASCII bytes) make words; anything else separates them.
  std::string out;
  out.reserve(kept.size());
  bool word_break = false;
  for (char c : kept) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x80 && !IsAsciiLetter(u)) {
      word_break = true;
      continue;
    }
    if (word_break && !out.empty()) out.push_back(' ');
    word_break = false;
    out.push_back(u >= 'A' && u <= 'Z' ? static_cast<char>(u - 'A' + 'a') : c);
  }
  return out;
}

std::optional<MatchCandidate> ScoreRecord(const MatchQuery& query, const PersonRecord& record) {
  if (ConflictsWithQuery(query, record)) return std::nullopt;
  MatchCandidate out;
  out.subject_id = record.subject_id;
  Add(CompareBirthDates(query.birth_date, record.birth_date), "birth_date", "_partial", kBirthDateExactPoints,
      kBirthDatePartialPoints, out);
  Add(CompareFamilyNames(CompactName(query.family_name), CompactName(record.family_name)), "family_name", "_prefix",
      kFamilyNameExactPoints, kFamilyNamePrefixPoints, out);
  Add(CompareGivenNames(CompactName(query.given_name), CompactName(record.given_name)), "given_name", "_initial",
      kGivenNameExactPoints, kGivenNameInitialPoints, out);
  Add(ComparePostcodes(query.postcode, record.postcode), "postcode", "_outward", kPostcodeFullPoints,
      kPostcodeOutwardPoints, out);
  return out;
}

MatchResult MatchDemographics(const MatchQuery& query, absl::Span<const PersonRecord> records) {
  std::set<std::string> excluded;
  std::map<std::string, MatchCandidate> best;  // by subject_id
  for (const PersonRecord& record : records) {
    std::optional<MatchCandidate> scored = ScoreRecord(query, record);
    if (!scored) {
      excluded.insert(record.subject_id);
      continue;
    }
    auto [it, inserted] = best.try_emplace(record.subject_id, *scored);
    if (!inserted && BetterRecord(*scored, it->second)) it->second = std::move(*scored);
  }

  std::vector<MatchCandidate> ranked;
  for (auto& [subject_id, candidate] : best) {
    if (!excluded.contains(subject_id)) ranked.push_back(std::move(candidate));
  }
  std::stable_sort(ranked.begin(), ranked.end(), [](const MatchCandidate& a, const MatchCandidate& b) {
    return a.score != b.score ? a.score > b.score : a.subject_id < b.subject_id;
  });

  MatchResult result;
  for (const MatchCandidate& c : ranked) {
    if (c.score < kPlausibleScore) break;
    result.candidates.push_back(c);
  }
  if (result.candidates.empty()) return result;  // kNone

  const MatchCandidate& top = result.candidates.front();
  const bool birth_date_exact =
      std::find(top.matched_fields.begin(), top.matched_fields.end(), "birth_date") != top.matched_fields.end();
  const int runner_up = ranked.size() > 1 ? ranked[1].score : 0;
  if (top.score >= kConfidentScore && birth_date_exact && top.score - runner_up >= kConfidentMargin) {
    result.outcome = MatchOutcome::kConfident;
    result.subject_id = top.subject_id;
  } else {
    result.outcome = MatchOutcome::kAmbiguous;
  }
  return result;
}

absl::Status ValidateDemographics(const MatchQuery& query, absl::Time today) {
  if (absl::Status s = ValidateName(query.given_name, "demographics.given_name"); !s.ok()) return s;
  if (absl::Status s = ValidateName(query.family_name, "demographics.family_name"); !s.ok()) return s;
  if (query.birth_date.empty()) {
    return absl::InvalidArgumentError("demographics.birth_date: required for a demographic match");
  }
  return ValidateBirthDate(query.birth_date, today, "demographics.birth_date");
}

}  // namespace accord::domain
