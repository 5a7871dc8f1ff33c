// Builds a query and a few PersonRecords from the input bytes and checks MatchDemographics'
// invariants (docs/MATCHING.md):
//  - candidates are plausible, best first, ties by subject_id, one per subject, each scoring as the
//    best record of its subject, never a subject with a conflicting NHS number or UPN;
//  - the outcome agrees with the candidates (confident: one subject at or above the confident
//    score, exact birth date, nobody within the margin);
//  - the result does not depend on the order of the records, nor on a duplicated record;
//  - a record of an unrelated new subject never changes a confident outcome;
//  - ScoreRecord is symmetric; NormaliseName is idempotent and well formed;
//  - ValidateDemographics never crashes and accepts only complete demographics.
// Fields are drawn either from small pools (so that agreements, twins and conflicts are common)
// or as raw bytes (so that odd encodings are tried too).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "hub/domain/matching.h"

namespace {

using namespace ::accord::domain;  // NOLINT: a test driver over one header

#define FUZZ_CHECK(cond)                                                          \
  do {                                                                            \
    if (!(cond)) {                                                                \
      std::fprintf(stderr, "%s:%d: property violated: %s\n", __FILE__, __LINE__, #cond); \
      std::abort();                                                               \
    }                                                                             \
  } while (0)

std::string Field(FuzzedDataProvider& in, const std::vector<const char*>& pool) {
  if (in.ConsumeIntegralInRange<int>(0, 3) == 0) return in.ConsumeRandomLengthString(24);
  return pool[in.ConsumeIntegralInRange<size_t>(0, pool.size() - 1)];
}

MatchQuery Person(FuzzedDataProvider& in) {
  static const std::vector<const char*> kNhs = {"", "", "9434765919", "9434765870"};
  static const std::vector<const char*> kUpn = {"", "", "A801200000001", "B801200000001"};
  static const std::vector<const char*> kGiven = {"Jack", "James", "J", "J.", "Amelia", "Mary-Ann", "mary ann", ""};
  static const std::vector<const char*> kFamily = {"Smith", "Smithson", "SMITH", "O'Brien", "Li", "Lim", ""};
  static const std::vector<const char*> kDates = {"2015-03-02", "2015-02-03", "2015-03-12", "2016-03-02",
                                                  "2015-03-03", "1985-11-20", ""};
  static const std::vector<const char*> kPostcodes = {"SW1A 1AA", "SW1A 2AA", "sw1a1aa", "M1 1AE", "GIR 0AA", ""};
  MatchQuery q;
  q.nhs_number = Field(in, kNhs);
  q.upn = Field(in, kUpn);
  q.given_name = Field(in, kGiven);
  q.family_name = Field(in, kFamily);
  q.birth_date = Field(in, kDates);
  q.postcode = Field(in, kPostcodes);
  return q;
}

PersonRecord RecordOf(const MatchQuery& q, std::string subject_id) {
  return PersonRecord{std::move(subject_id), q.nhs_number, q.upn,     q.given_name,
                      q.family_name,         q.birth_date, q.postcode};
}

MatchQuery QueryOf(const PersonRecord& r) {
  return MatchQuery{r.nhs_number, r.upn, r.given_name, r.family_name, r.birth_date, r.postcode};
}

int Score(const MatchQuery& q, const PersonRecord& r) {
  std::optional<MatchCandidate> c = ScoreRecord(q, r);
  return c ? c->score : -1;
}

bool Same(const MatchResult& a, const MatchResult& b) {
  if (a.outcome != b.outcome || a.subject_id != b.subject_id || a.candidates.size() != b.candidates.size()) {
    return false;
  }
  for (size_t i = 0; i < a.candidates.size(); ++i) {
    if (a.candidates[i].subject_id != b.candidates[i].subject_id || a.candidates[i].score != b.candidates[i].score ||
        a.candidates[i].matched_fields != b.candidates[i].matched_fields) {
      return false;
    }
  }
  return true;
}

void CheckName(const std::string& name) {
  std::string once = NormaliseName(name);
  FUZZ_CHECK(NormaliseName(once) == once);
  FUZZ_CHECK(once.empty() || (once.front() != ' ' && once.back() != ' '));
  FUZZ_CHECK(once.find("  ") == std::string::npos);
  for (char c : once) {
    unsigned char u = static_cast<unsigned char>(c);
    FUZZ_CHECK(u >= 0x80 || u == ' ' || (u >= 'a' && u <= 'z'));
  }
}

void CheckResult(const MatchQuery& q, const std::vector<PersonRecord>& records, const MatchResult& r) {
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    const MatchCandidate& c = r.candidates[i];
    FUZZ_CHECK(c.score >= kPlausibleScore && c.score <= 100);
    if (i > 0) {
      const MatchCandidate& p = r.candidates[i - 1];
      FUZZ_CHECK(p.score > c.score || (p.score == c.score && p.subject_id < c.subject_id));
    }
    int best = -1;
    for (const PersonRecord& rec : records) {
      if (rec.subject_id != c.subject_id) continue;
      int s = Score(q, rec);
      FUZZ_CHECK(s >= 0);  // no record of a candidate conflicts
      best = std::max(best, s);
    }
    FUZZ_CHECK(c.score == best);
  }
  for (const PersonRecord& rec : records) {
    bool conflicts = false, listed = false;
    for (const PersonRecord& other : records) {
      conflicts = conflicts || (other.subject_id == rec.subject_id && Score(q, other) < 0);
    }
    for (const MatchCandidate& c : r.candidates) listed = listed || c.subject_id == rec.subject_id;
    if (conflicts) FUZZ_CHECK(!listed);
    if (!conflicts && Score(q, rec) >= kPlausibleScore) FUZZ_CHECK(listed);
  }
  switch (r.outcome) {
    case MatchOutcome::kNone:
      FUZZ_CHECK(r.candidates.empty() && r.subject_id.empty());
      break;
    case MatchOutcome::kAmbiguous:
      FUZZ_CHECK(!r.candidates.empty() && r.subject_id.empty());
      break;
    case MatchOutcome::kConfident:
      FUZZ_CHECK(!r.candidates.empty());
      FUZZ_CHECK(r.subject_id == r.candidates[0].subject_id);
      FUZZ_CHECK(r.candidates[0].score >= kConfidentScore);
      FUZZ_CHECK(r.candidates[0].matched_fields.front() == "birth_date");
      FUZZ_CHECK(q.birth_date.size() == 10);
      for (size_t i = 1; i < r.candidates.size(); ++i) {
        FUZZ_CHECK(r.candidates[i].score <= r.candidates[0].score - kConfidentMargin);
      }
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  static const std::vector<const char*> kSubjects = {"a", "b", "c", "d"};
  MatchQuery q = Person(in);
  std::vector<PersonRecord> records;
  int n = in.ConsumeIntegralInRange<int>(0, 6);
  for (int i = 0; i < n; ++i) {
    records.push_back(RecordOf(Person(in), kSubjects[in.ConsumeIntegralInRange<size_t>(0, kSubjects.size() - 1)]));
  }

  CheckName(q.given_name);
  CheckName(q.family_name);
  absl::Time today = absl::FromCivil(absl::CivilDay(2024, 5, 1), absl::UTCTimeZone());
  if (ValidateDemographics(q, today).ok()) {
    FUZZ_CHECK(!NormaliseName(q.given_name).empty() && !NormaliseName(q.family_name).empty());
    FUZZ_CHECK(q.birth_date.size() == 10 && q.birth_date <= "2024-05-01");
  }

  MatchResult r = MatchDemographics(q, records);
  CheckResult(q, records, r);

  for (const PersonRecord& rec : records) {
    FUZZ_CHECK(Score(q, rec) == Score(QueryOf(rec), RecordOf(q, rec.subject_id)));
  }

  std::vector<PersonRecord> reordered(records.rbegin(), records.rend());
  FUZZ_CHECK(Same(r, MatchDemographics(q, reordered)));
  if (!records.empty()) {
    std::rotate(reordered.begin(), reordered.begin() + 1, reordered.end());
    reordered.push_back(records.front());
    FUZZ_CHECK(Same(r, MatchDemographics(q, reordered)));
  }

  // One more person under a new subject: an unrelated one leaves a confident outcome alone.
  PersonRecord extra = RecordOf(Person(in), "new");
  std::vector<PersonRecord> more = records;
  more.push_back(extra);
  MatchResult with_extra = MatchDemographics(q, more);
  CheckResult(q, more, with_extra);
  if (r.outcome == MatchOutcome::kConfident && Score(q, extra) <= r.candidates[0].score - kConfidentMargin) {
    FUZZ_CHECK(with_extra.outcome == MatchOutcome::kConfident && with_extra.subject_id == r.subject_id);
  }
  return 0;
}
