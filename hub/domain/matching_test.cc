#include "hub/domain/matching.h"

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"

namespace accord::domain {
namespace {

using Strings = std::vector<std::string>;

PersonRecord Rec(std::string subject_id, std::string given, std::string family, std::string birth_date,
                 std::string postcode = "", std::string nhs = "", std::string upn = "") {
  PersonRecord r;
  r.subject_id = std::move(subject_id);
  r.given_name = std::move(given);
  r.family_name = std::move(family);
  r.birth_date = std::move(birth_date);
  r.postcode = std::move(postcode);
  r.nhs_number = std::move(nhs);
  r.upn = std::move(upn);
  return r;
}

MatchQuery Query(std::string given, std::string family, std::string birth_date, std::string postcode = "",
                 std::string nhs = "", std::string upn = "") {
  return MatchQuery{std::move(nhs),    std::move(upn),        std::move(given),
                    std::move(family), std::move(birth_date), std::move(postcode)};
}

MatchQuery QueryFrom(const PersonRecord& r) {
  return MatchQuery{r.nhs_number, r.upn, r.given_name, r.family_name, r.birth_date, r.postcode};
}

PersonRecord RecordFrom(const MatchQuery& q, std::string subject_id) {
  return Rec(std::move(subject_id), q.given_name, q.family_name, q.birth_date, q.postcode, q.nhs_number, q.upn);
}

int Score(const MatchQuery& q, const PersonRecord& r) {
  std::optional<MatchCandidate> c = ScoreRecord(q, r);
  return c ? c->score : -1;
}

std::vector<std::string> Fields(const MatchQuery& q, const PersonRecord& r) {
  std::optional<MatchCandidate> c = ScoreRecord(q, r);
  return c ? c->matched_fields : std::vector<std::string>{"<conflict>"};
}

std::vector<std::string> Ids(const MatchResult& result) {
  std::vector<std::string> ids;
  for (const MatchCandidate& c : result.candidates) ids.push_back(c.subject_id);
  return ids;
}

MatchQuery Jack() { return Query("Jack", "Smith", "2015-03-02", "SW1A 1AA"); }

// ---------------------------------------------------------------------------------------------
// NormaliseName

TEST(NormaliseNameTest, LowerCasesAndCollapsesSpaces) {
  EXPECT_EQ(NormaliseName("  Mary   ANN  "), "mary ann");
  EXPECT_EQ(NormaliseName("Mary\tAnn"), "mary ann");
  EXPECT_EQ(NormaliseName(""), "");
  EXPECT_EQ(NormaliseName("   "), "");
}

TEST(NormaliseNameTest, DropsHyphenApostropheAndDot) {
  EXPECT_EQ(NormaliseName("O'Brien-Smith"), "obriensmith");
  EXPECT_EQ(NormaliseName("St. John"), "st john");
  EXPECT_EQ(NormaliseName("J."), "j");
  EXPECT_EQ(NormaliseName("O\xE2\x80\x99" "Brien"), "obrien");  // typographic apostrophe
  EXPECT_EQ(NormaliseName("Smith - Jones"), "smith jones");
}

TEST(NormaliseNameTest, OtherAsciiSeparatesWordsAndNonAsciiIsKept) {
  EXPECT_EQ(NormaliseName("Smith,Jones"), "smith jones");
  EXPECT_EQ(NormaliseName("Jack2"), "jack");
  EXPECT_EQ(NormaliseName("a\x01" "b"), "a b");
  EXPECT_EQ(NormaliseName("Zo\xC3\xAB"), "zo\xC3\xAB");
  EXPECT_EQ(NormaliseName("ZO\xC3\xAB"), "zo\xC3\xAB");
  EXPECT_EQ(NormaliseName("\xE6\x9D\x8E"), "\xE6\x9D\x8E");
}

TEST(NormaliseNameTest, IsIdempotent) {
  for (const char* name : {"  Mary   ANN  ", "O'Brien-Smith", "a\xE2\x80.\x99" "b", "\xE2\x80-\x98", "x\xE2 \x80\x99",
                           "Zo\xC3\xAB", "J. R. R.", "\x01\x02", "---"}) {
    std::string once = NormaliseName(name);
    EXPECT_EQ(NormaliseName(once), once) << name;
  }
  EXPECT_EQ(NormaliseName("a\xE2\x80.\x99" "b"), "ab");
}

// ---------------------------------------------------------------------------------------------
// Scoring, one rule at a time

TEST(ScoreRecordTest, EverythingAgreesScoresOneHundred) {
  PersonRecord r = Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA");
  EXPECT_EQ(Score(Jack(), r), 100);
  EXPECT_EQ(Fields(Jack(), r), Strings({"birth_date", "family_name", "given_name", "postcode"}));
  EXPECT_EQ(ScoreRecord(Jack(), r)->subject_id, "s1");
}

TEST(ScoreRecordTest, WeightsAddUpToOneHundred) {
  EXPECT_EQ(kBirthDateExactPoints + kFamilyNameExactPoints + kGivenNameExactPoints + kPostcodeFullPoints, 100);
  // Without an exact birth date nobody can reach the confident score.
  EXPECT_LT(kBirthDatePartialPoints + kFamilyNameExactPoints + kGivenNameExactPoints + kPostcodeFullPoints,
            kConfidentScore);
}

TEST(ScoreRecordTest, NamesCompareNormalisedAndSpaceInsensitive) {
  EXPECT_EQ(Score(Jack(), Rec("s", " JACK ", "smith", "2015-03-02", "SW1A 1AA")), 100);
  MatchQuery q = Query("Mary-Ann", "O'Brien", "2015-03-02");
  EXPECT_EQ(Score(q, Rec("s", "Mary Ann", "OBrien", "2015-03-02")), 90);
  EXPECT_EQ(Score(q, Rec("s", "maryann", "o brien", "2015-03-02")), 90);
}

TEST(ScoreRecordTest, BirthDateTransposedDayAndMonthIsPartial) {
  PersonRecord r = Rec("s", "Jack", "Smith", "2015-02-03", "SW1A 1AA");
  EXPECT_EQ(Score(Jack(), r), 80);
  EXPECT_EQ(Fields(Jack(), r), Strings({"birth_date_partial", "family_name", "given_name", "postcode"}));
}

TEST(ScoreRecordTest, BirthDateOneDigitTypoIsPartialTwoIsNothing) {
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2015-03-12", "SW1A 1AA")), 80);  // day
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2016-03-02", "SW1A 1AA")), 80);  // year
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2016-03-12", "SW1A 1AA")), 60);  // two digits
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2014-12-31", "SW1A 1AA")), 60);
  // Transposed in another year is not a transposition.
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2014-02-03", "SW1A 1AA")), 60);
}

TEST(ScoreRecordTest, MalformedOrMissingBirthDateNeverAgrees) {
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "", "SW1A 1AA")), 60);
  EXPECT_EQ(Score(Query("Jack", "Smith", "2015/03/02"), Rec("s", "Jack", "Smith", "2015/03/02")), 50);
  EXPECT_EQ(Score(Query("Jack", "Smith", ""), Rec("s", "Jack", "Smith", "")), 50);
}

TEST(ScoreRecordTest, FamilyNameFirstThreeLettersIsPartial) {
  PersonRecord r = Rec("s", "Jack", "Smithson", "2015-03-02", "SW1A 1AA");
  EXPECT_EQ(Score(Jack(), r), 85);
  EXPECT_EQ(Fields(Jack(), r), Strings({"birth_date", "family_name_prefix", "given_name", "postcode"}));
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smyth", "2015-03-02", "SW1A 1AA")), 75);
  // Two-letter names have no three-letter prefix to agree on.
  EXPECT_EQ(Score(Query("Jack", "Li", "2015-03-02"), Rec("s", "Jack", "Lim", "2015-03-02")), 65);
}

TEST(ScoreRecordTest, GivenNameInitialIsPartialSharedFirstLetterIsNot) {
  PersonRecord r = Rec("s", "J.", "Smith", "2015-03-02", "SW1A 1AA");
  EXPECT_EQ(Score(Jack(), r), 85);
  EXPECT_EQ(Fields(Jack(), r), Strings({"birth_date", "family_name", "given_name_initial", "postcode"}));
  EXPECT_EQ(Score(Jack(), Rec("s", "James", "Smith", "2015-03-02", "SW1A 1AA")), 75);
  EXPECT_EQ(Score(Jack(), Rec("s", "K", "Smith", "2015-03-02", "SW1A 1AA")), 75);
}

TEST(ScoreRecordTest, PostcodeOutwardCodeIsPartial) {
  PersonRecord r = Rec("s", "Jack", "Smith", "2015-03-02", "SW1A 2AA");
  EXPECT_EQ(Score(Jack(), r), 95);
  EXPECT_EQ(Fields(Jack(), r), Strings({"birth_date", "family_name", "given_name", "postcode_outward"}));
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2015-03-02", "SW1B 1AA")), 90);
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2015-03-02", "")), 90);
  // Spacing and case do not matter even if a caller forgot to normalise.
  EXPECT_EQ(Score(Jack(), Rec("s", "Jack", "Smith", "2015-03-02", "sw1a1aa")), 100);
}

TEST(ScoreRecordTest, EmptyFieldsNeverAgree) {
  EXPECT_EQ(Score(Query("", "", "", ""), Rec("s", "", "", "", "")), 0);
  EXPECT_TRUE(Fields(Query("", "", "", ""), Rec("s", "", "", "", "")).empty());
}

TEST(ScoreRecordTest, ConflictingNationalIdentifierIsNoCandidate) {
  MatchQuery q = Query("Jack", "Smith", "2015-03-02", "SW1A 1AA", "9434765919", "");
  EXPECT_FALSE(ScoreRecord(q, Rec("s", "Jack", "Smith", "2015-03-02", "SW1A 1AA", "9434765870")).has_value());
  q = Query("Jack", "Smith", "2015-03-02", "SW1A 1AA", "", "A801200000001");
  EXPECT_FALSE(ScoreRecord(q, Rec("s", "Jack", "Smith", "2015-03-02", "SW1A 1AA", "", "B801200000001")));
  // Present on one side only: no conflict. Agreeing: adds nothing (resolved before matching).
  EXPECT_EQ(Score(q, Rec("s", "Jack", "Smith", "2015-03-02", "SW1A 1AA", "9434765870", "")), 100);
  EXPECT_EQ(Score(q, Rec("s", "Jack", "Smith", "2015-03-02", "SW1A 1AA", "", "A801200000001")), 100);
  EXPECT_EQ(Score(q, Rec("s", "Kim", "Jones", "2001-01-01", "", "", "A801200000001")), 0);
}

TEST(ScoreRecordTest, SymmetricInQueryAndRecord) {
  PersonRecord a = Rec("a", "J", "Smithson", "2015-02-03", "SW1A 2AA");
  PersonRecord b = Rec("b", "Jack", "Smith", "2015-03-02", "SW1A 1AA");
  EXPECT_EQ(Score(QueryFrom(a), b), Score(QueryFrom(b), a));
  EXPECT_EQ(Fields(QueryFrom(a), b), Fields(QueryFrom(b), a));
}

// ---------------------------------------------------------------------------------------------
// Outcomes

TEST(MatchDemographicsTest, NoRecordsIsNone) {
  MatchResult r = MatchDemographics(Jack(), {});
  EXPECT_EQ(r.outcome, MatchOutcome::kNone);
  EXPECT_TRUE(r.subject_id.empty());
  EXPECT_TRUE(r.candidates.empty());
}

TEST(MatchDemographicsTest, FullAgreementIsConfident) {
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA"),
                                       Rec("s2", "Amelia", "Jones", "2014-07-09", "LS1 4AP")};
  MatchResult r = MatchDemographics(Jack(), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  EXPECT_EQ(r.subject_id, "s1");
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].score, 100);
}

TEST(MatchDemographicsTest, NamesAndBirthDateWithoutPostcodeAreConfident) {
  // The minimum demographics (ValidateDemographics) are enough when nobody else is close.
  MatchResult r = MatchDemographics(Query("Jack", "Smith", "2015-03-02"),
                                    std::vector<PersonRecord>{Rec("s1", "Jack", "Smith", "2015-03-02", "M1 1AE")});
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  EXPECT_EQ(r.candidates[0].score, 90);
}

TEST(MatchDemographicsTest, PartialBirthDateIsAmbiguousNeverConfident) {
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-02-03", "SW1A 1AA")};
  MatchResult r = MatchDemographics(Jack(), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kAmbiguous);
  EXPECT_TRUE(r.subject_id.empty());
  EXPECT_EQ(Ids(r), Strings({"s1"}));
  EXPECT_EQ(r.candidates[0].score, 80);
  // Without the postcode a transposed date with both names is still worth a human look.
  r = MatchDemographics(Query("Jack", "Smith", "2015-03-02"), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kAmbiguous);
  EXPECT_EQ(r.candidates[0].score, 70);
}

TEST(MatchDemographicsTest, PartialNamesAreAmbiguous) {
  EXPECT_EQ(MatchDemographics(Jack(), std::vector<PersonRecord>{Rec("s1", "Jack", "Smithson", "2015-03-02",
                                                                   "SW1A 1AA")}).outcome,
            MatchOutcome::kAmbiguous);
  EXPECT_EQ(MatchDemographics(Jack(), std::vector<PersonRecord>{Rec("s1", "J", "Smith", "2015-03-02", "SW1A 1AA")})
                .outcome,
            MatchOutcome::kAmbiguous);
  // A family name that changed entirely, everything else agreeing: a human decides.
  EXPECT_EQ(MatchDemographics(Jack(), std::vector<PersonRecord>{Rec("s1", "Jack", "Jones", "2015-03-02", "SW1A 1AA")})
                .outcome,
            MatchOutcome::kAmbiguous);
}

TEST(MatchDemographicsTest, NamesakesWithAnotherBirthDateAreNone) {
  // A parent and child with the same name at the same address; namesakes elsewhere.
  std::vector<PersonRecord> records = {Rec("dad", "Jack", "Smith", "1985-11-20", "SW1A 1AA"),
                                       Rec("other", "Jack", "Smith", "2012-06-30", "M1 1AE")};
  MatchResult r = MatchDemographics(Jack(), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kNone);
  EXPECT_TRUE(r.candidates.empty());
}

TEST(MatchDemographicsTest, SiblingsAreNone) {
  std::vector<PersonRecord> records = {Rec("sister", "Jessica", "Smith", "2013-09-14", "SW1A 1AA"),
                                       Rec("brother", "Jake", "Smith", "2017-01-05", "SW1A 1AA")};
  EXPECT_EQ(MatchDemographics(Jack(), records).outcome, MatchOutcome::kNone);
}

TEST(MatchDemographicsTest, SameSurnameAndBirthdayElsewhereIsNone) {
  std::vector<PersonRecord> records = {Rec("s1", "Amelia", "Smith", "2015-03-02", "LS1 4AP")};
  EXPECT_EQ(MatchDemographics(Jack(), records).outcome, MatchOutcome::kNone);
}

TEST(MatchDemographicsTest, TwinsAreNeverLinkedToEachOther) {
  const PersonRecord jack = Rec("twin-jack", "Jack", "Smith", "2015-03-02", "SW1A 1AA");
  const PersonRecord james = Rec("twin-james", "James", "Smith", "2015-03-02", "SW1A 1AA");

  // Only Jack is in the index; James arrives. Plausible, so a human decides: never linked.
  MatchResult r = MatchDemographics(QueryFrom(james), std::vector<PersonRecord>{jack});
  EXPECT_EQ(r.outcome, MatchOutcome::kAmbiguous);
  EXPECT_TRUE(r.subject_id.empty());
  EXPECT_EQ(Ids(r), Strings({"twin-jack"}));
  EXPECT_EQ(r.candidates[0].matched_fields, Strings({"birth_date", "family_name", "postcode"}));

  // With James's NHS number and Jack's on record, the twins are told apart: a new subject.
  MatchQuery with_nhs = QueryFrom(james);
  with_nhs.nhs_number = "9434765870";
  PersonRecord jack_nhs = jack;
  jack_nhs.nhs_number = "9434765919";
  EXPECT_EQ(MatchDemographics(with_nhs, std::vector<PersonRecord>{jack_nhs}).outcome, MatchOutcome::kNone);

  // Both in the index: each twin links to themself, never to the other.
  std::vector<PersonRecord> both = {jack, james};
  r = MatchDemographics(QueryFrom(jack), both);
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  EXPECT_EQ(r.subject_id, "twin-jack");
  EXPECT_EQ(Ids(r), Strings({"twin-jack", "twin-james"}));
  r = MatchDemographics(QueryFrom(james), both);
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  EXPECT_EQ(r.subject_id, "twin-james");

  // An initial cannot tell twins J. and J. apart.
  r = MatchDemographics(Query("J", "Smith", "2015-03-02", "SW1A 1AA"), both);
  EXPECT_EQ(r.outcome, MatchOutcome::kAmbiguous);
  EXPECT_EQ(Ids(r), Strings({"twin-jack", "twin-james"}));
}

TEST(MatchDemographicsTest, ConflictingIdentifierExcludesTheWholeSubject) {
  // s1's school record has no NHS number and matches perfectly, but its health record holds
  // another NHS number: s1 is a different person.
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA"),
                                       Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA", "9434765870")};
  MatchQuery q = Jack();
  q.nhs_number = "9434765919";
  MatchResult r = MatchDemographics(q, records);
  EXPECT_EQ(r.outcome, MatchOutcome::kNone);
  EXPECT_TRUE(r.candidates.empty());

  q = Jack();
  q.upn = "A801200000001";
  records[1].nhs_number.clear();
  records[1].upn = "B801200000001";
  EXPECT_EQ(MatchDemographics(q, records).outcome, MatchOutcome::kNone);
}

TEST(MatchDemographicsTest, ConflictingIdentifierLeavesOthersToWin) {
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA", "9434765870"),
                                       Rec("s2", "Jack", "Smith", "2015-03-02", "SW1A 1AA")};
  MatchQuery q = Jack();
  q.nhs_number = "9434765919";
  MatchResult r = MatchDemographics(q, records);
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  EXPECT_EQ(r.subject_id, "s2");
  EXPECT_EQ(Ids(r), Strings({"s2"}));
}

TEST(MatchDemographicsTest, SeveralRecordsPerSubjectScoreAsTheBest) {
  std::vector<PersonRecord> records = {Rec("s1", "J", "Smith", "2015-02-03", ""),           // 55
                                       Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 2AA"),  // 95
                                       Rec("s1", "Jack", "Smithe", "2015-03-02", "")};        // 75
  MatchResult r = MatchDemographics(Jack(), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].score, 95);
  EXPECT_EQ(r.candidates[0].matched_fields, Strings({"birth_date", "family_name", "given_name", "postcode_outward"}));
  std::reverse(records.begin(), records.end());
  MatchResult reversed = MatchDemographics(Jack(), records);
  EXPECT_EQ(reversed.candidates[0].matched_fields, r.candidates[0].matched_fields);
}

TEST(MatchDemographicsTest, EqualScoringRecordsOfOneSubjectPickTheSameFieldsInAnyOrder) {
  std::vector<PersonRecord> records = {Rec("s1", "Amelia", "Smith", "2015-03-02", "SW1A 2AA"),  // 70
                                       Rec("s1", "Jack", "Smith", "2015-02-03", "")};           // 70
  const Strings expected = {"birth_date", "family_name", "postcode_outward"};
  MatchResult r = MatchDemographics(Jack(), records);
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].score, 70);
  EXPECT_EQ(r.candidates[0].matched_fields, expected);
  std::reverse(records.begin(), records.end());
  r = MatchDemographics(Jack(), records);
  ASSERT_EQ(r.candidates.size(), 1u);
  EXPECT_EQ(r.candidates[0].matched_fields, expected);
}

TEST(MatchDemographicsTest, OneSubjectsRecordsNeverCompeteWithEachOther) {
  // Two partners' identical records of one subject do not make it ambiguous.
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA"),
                                       Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA")};
  EXPECT_EQ(MatchDemographics(Jack(), records).outcome, MatchOutcome::kConfident);
}

TEST(MatchDemographicsTest, RunnerUpWithinTheMarginMakesItAmbiguous) {
  // 100 against 90: the same name and birth date elsewhere could be the person who moved.
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA"),
                                       Rec("s2", "Jack", "Smith", "2015-03-02", "M1 1AE")};
  MatchResult r = MatchDemographics(Jack(), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kAmbiguous);
  EXPECT_TRUE(r.subject_id.empty());
  EXPECT_EQ(Ids(r), Strings({"s1", "s2"}));
  // 100 against 85 (exactly the margin): confident.
  records[1] = Rec("s2", "Jack", "Smithson", "2015-03-02", "SW1A 1AA");
  r = MatchDemographics(Jack(), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  EXPECT_EQ(r.subject_id, "s1");
  EXPECT_EQ(Ids(r), Strings({"s1", "s2"}));
}

TEST(MatchDemographicsTest, TiesAreAmbiguousAndOrderedBySubjectId) {
  std::vector<PersonRecord> records = {Rec("zeta", "Jack", "Smith", "2015-03-02", "SW1A 1AA"),
                                       Rec("alpha", "Jack", "Smith", "2015-03-02", "SW1A 1AA"),
                                       Rec("mid", "Jack", "Smith", "2015-02-03", "SW1A 1AA"),
                                       Rec("beta", "Jack", "Smith", "2015-03-02", "SW1A 1AA")};
  MatchResult r = MatchDemographics(Jack(), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kAmbiguous);
  EXPECT_EQ(Ids(r), Strings({"alpha", "beta", "zeta", "mid"}));
  EXPECT_EQ(r.candidates[0].score, 100);
  EXPECT_EQ(r.candidates[3].score, 80);
}

TEST(MatchDemographicsTest, CandidatesOnlyAtOrAbovePlausible) {
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-02-03", ""),      // 70
                                       Rec("s2", "Jack", "Smith", "2015-03-02", "M1 1AE"),  // 90
                                       Rec("s3", "Jack", "Smith", "2016-02-03", "")};     // 50
  MatchResult r = MatchDemographics(Query("Jack", "Smith", "2015-03-02"), records);
  EXPECT_EQ(r.outcome, MatchOutcome::kConfident);
  EXPECT_EQ(r.subject_id, "s2");
  EXPECT_EQ(Ids(r), Strings({"s2", "s1"}));
}

TEST(MatchDemographicsTest, IncompleteQueryCannotBeConfident) {
  std::vector<PersonRecord> records = {Rec("s1", "Jack", "Smith", "2015-03-02", "SW1A 1AA")};
  EXPECT_EQ(MatchDemographics(Query("Jack", "Smith", "", "SW1A 1AA"), records).outcome, MatchOutcome::kNone);
  EXPECT_EQ(MatchDemographics(Query("", "Smith", "2015-03-02", "SW1A 1AA"), records).outcome,
            MatchOutcome::kAmbiguous);
}

// ---------------------------------------------------------------------------------------------
// ValidateDemographics

absl::Time Day(int y, int m, int d) { return absl::FromCivil(absl::CivilDay(y, m, d), absl::UTCTimeZone()); }

std::string Message(const absl::Status& s) { return s.ok() ? "OK" : std::string(s.message()); }

TEST(ValidateDemographicsTest, AcceptsTheMinimum) {
  absl::Time today = Day(2024, 5, 1);
  EXPECT_TRUE(ValidateDemographics(Query("Jack", "Smith", "2015-03-02"), today).ok());
  EXPECT_TRUE(ValidateDemographics(Query("Zo\xC3\xAB", "O'Brien-Smith", "2024-05-01"), today).ok());
  EXPECT_TRUE(ValidateDemographics(Query("Jack", "Smith", "2016-02-29"), today).ok());
}

TEST(ValidateDemographicsTest, NamesTheMissingField) {
  absl::Time today = Day(2024, 5, 1);
  EXPECT_EQ(Message(ValidateDemographics(Query("", "Smith", "2015-03-02"), today)),
            "demographics.given_name: required for a demographic match");
  EXPECT_EQ(Message(ValidateDemographics(Query("Jack", "", "2015-03-02"), today)),
            "demographics.family_name: required for a demographic match");
  EXPECT_EQ(Message(ValidateDemographics(Query("Jack", "Smith", ""), today)),
            "demographics.birth_date: required for a demographic match");
  EXPECT_EQ(ValidateDemographics(Query("", "", ""), today).code(), absl::StatusCode::kInvalidArgument);
}

TEST(ValidateDemographicsTest, RefusesBadBirthDates) {
  absl::Time today = Day(2024, 5, 1);
  for (const char* bad : {"2015-02-30", "2015-2-3", "02/03/2015", "2015-13-01", "2015-03-02T00:00", "20150302"}) {
    absl::Status s = ValidateDemographics(Query("Jack", "Smith", bad), today);
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_TRUE(absl::StartsWith(s.message(), "demographics.birth_date: ")) << bad << " " << s;
  }
  EXPECT_EQ(Message(ValidateDemographics(Query("Jack", "Smith", "2024-05-02"), today)),
            "demographics.birth_date: must not be in the future");
}

TEST(ValidateDemographicsTest, RefusesLongNamesControlCharactersAndNoLetters) {
  absl::Time today = Day(2024, 5, 1);
  std::string hundred(100, 'a');
  EXPECT_TRUE(ValidateDemographics(Query(hundred, "Smith", "2015-03-02"), today).ok());
  std::string hundred_accented;
  for (int i = 0; i < 100; ++i) hundred_accented += "\xC3\xAB";  // 100 characters, 200 bytes
  EXPECT_TRUE(ValidateDemographics(Query("Jack", hundred_accented, "2015-03-02"), today).ok());
  EXPECT_EQ(Message(ValidateDemographics(Query(hundred + "a", "Smith", "2015-03-02"), today)),
            "demographics.given_name: at most 100 characters");
  EXPECT_EQ(Message(ValidateDemographics(Query("Jack", "Smi\nth", "2015-03-02"), today)),
            "demographics.family_name: control characters are not allowed");
  EXPECT_EQ(Message(ValidateDemographics(Query("Jack", "Smith\x7f", "2015-03-02"), today)),
            "demographics.family_name: control characters are not allowed");
  EXPECT_EQ(Message(ValidateDemographics(Query("--", "Smith", "2015-03-02"), today)),
            "demographics.given_name: must contain a letter");
}

// ---------------------------------------------------------------------------------------------
// Randomised invariants. Small pools so that agreements, partial agreements, ties, twins and
// conflicts are all frequent. Seeded: a failure reproduces.

struct Generator {
  std::mt19937 rng;
  explicit Generator(unsigned seed) : rng(seed) {}

  template <typename T>
  const T& Pick(const std::vector<T>& v) {
    return v[std::uniform_int_distribution<size_t>(0, v.size() - 1)(rng)];
  }
  bool Chance(int percent) { return std::uniform_int_distribution<int>(0, 99)(rng) < percent; }

  MatchQuery Person() {
    static const std::vector<std::string> kGiven = {"Jack", "James", "J", "Amelia", "A.", "Mary Ann", "mary-ann", ""};
    static const std::vector<std::string> kFamily = {"Smith", "Smithson", "Smyth", "O'Brien", "OBrien", "Li", ""};
    static const std::vector<std::string> kDates = {"2015-03-02", "2015-02-03", "2015-03-12", "2016-03-02",
                                                    "2014-12-31", "2015-03-03", "", "garbage"};
    static const std::vector<std::string> kPostcodes = {"SW1A 1AA", "SW1A 2AA", "M1 1AE", "LS1 4AP", "", "x"};
    static const std::vector<std::string> kNhs = {"", "", "9434765919", "9434765870"};
    static const std::vector<std::string> kUpn = {"", "", "A801200000001", "B801200000001"};
    return MatchQuery{Pick(kNhs), Pick(kUpn), Pick(kGiven), Pick(kFamily), Pick(kDates), Pick(kPostcodes)};
  }

  std::vector<PersonRecord> Records() {
    static const std::vector<std::string> kSubjects = {"s1", "s2", "s3", "s4", "s5", "s6"};
    std::vector<PersonRecord> out;
    int n = std::uniform_int_distribution<int>(0, 8)(rng);
    for (int i = 0; i < n; ++i) out.push_back(RecordFrom(Person(), Pick(kSubjects)));
    return out;
  }
};

bool SameResult(const MatchResult& a, const MatchResult& b) {
  if (a.outcome != b.outcome || a.subject_id != b.subject_id || a.candidates.size() != b.candidates.size()) {
    return false;
  }
  for (size_t i = 0; i < a.candidates.size(); ++i) {
    const MatchCandidate &x = a.candidates[i], &y = b.candidates[i];
    if (x.subject_id != y.subject_id || x.score != y.score || x.matched_fields != y.matched_fields) return false;
  }
  return true;
}

void CheckWellFormed(const MatchQuery& q, const std::vector<PersonRecord>& records, const MatchResult& r) {
  // Candidates: plausible, sorted, one per subject, each the best record of a non-conflicting subject.
  for (size_t i = 0; i < r.candidates.size(); ++i) {
    const MatchCandidate& c = r.candidates[i];
    ASSERT_GE(c.score, kPlausibleScore);
    ASSERT_LE(c.score, 100);
    if (i > 0) {
      const MatchCandidate& p = r.candidates[i - 1];
      ASSERT_TRUE(p.score > c.score || (p.score == c.score && p.subject_id < c.subject_id));
    }
    int best = -1;
    for (const PersonRecord& rec : records) {
      if (rec.subject_id != c.subject_id) continue;
      ASSERT_FALSE(!q.nhs_number.empty() && !rec.nhs_number.empty() && q.nhs_number != rec.nhs_number);
      ASSERT_FALSE(!q.upn.empty() && !rec.upn.empty() && q.upn != rec.upn);
      best = std::max(best, Score(q, rec));
    }
    ASSERT_EQ(c.score, best);
  }
  // Every plausible, non-conflicting subject is a candidate.
  for (const PersonRecord& rec : records) {
    bool conflicts = false;
    for (const PersonRecord& other : records) {
      conflicts = conflicts || (other.subject_id == rec.subject_id && !ScoreRecord(q, other));
    }
    bool listed = false;
    for (const MatchCandidate& c : r.candidates) listed = listed || c.subject_id == rec.subject_id;
    if (!conflicts && Score(q, rec) >= kPlausibleScore) {
      ASSERT_TRUE(listed);
    } else if (conflicts) {
      ASSERT_FALSE(listed);
    }
  }
  switch (r.outcome) {
    case MatchOutcome::kNone:
      ASSERT_TRUE(r.candidates.empty());
      ASSERT_TRUE(r.subject_id.empty());
      break;
    case MatchOutcome::kAmbiguous:
      ASSERT_FALSE(r.candidates.empty());
      ASSERT_TRUE(r.subject_id.empty());
      break;
    case MatchOutcome::kConfident: {
      ASSERT_FALSE(r.candidates.empty());
      const MatchCandidate& top = r.candidates[0];
      ASSERT_EQ(r.subject_id, top.subject_id);
      ASSERT_GE(top.score, kConfidentScore);
      ASSERT_EQ(top.matched_fields.front(), "birth_date");
      for (size_t i = 1; i < r.candidates.size(); ++i) {
        ASSERT_LE(r.candidates[i].score, top.score - kConfidentMargin);
      }
      break;
    }
  }
}

TEST(MatchDemographicsPropertyTest, InvariantsHoldOnRandomIndexes) {
  Generator gen(20240501);
  int confident = 0, ambiguous = 0, none = 0;
  for (int iteration = 0; iteration < 20000; ++iteration) {
    SCOPED_TRACE(absl::StrCat("iteration ", iteration));
    MatchQuery q = gen.Person();
    std::vector<PersonRecord> records = gen.Records();
    MatchResult r = MatchDemographics(q, records);
    CheckWellFormed(q, records, r);
    if (HasFatalFailure()) return;
    (r.outcome == MatchOutcome::kConfident ? confident : r.outcome == MatchOutcome::kAmbiguous ? ambiguous : none)++;

    // The order of the records never matters; neither does a duplicated record.
    std::vector<PersonRecord> shuffled = records;
    std::shuffle(shuffled.begin(), shuffled.end(), gen.rng);
    ASSERT_TRUE(SameResult(r, MatchDemographics(q, shuffled)));
    if (!records.empty()) {
      shuffled.push_back(gen.Pick(records));
      ASSERT_TRUE(SameResult(r, MatchDemographics(q, shuffled)));
    }

    // Scores are symmetric in query and record; names normalise idempotently.
    for (const PersonRecord& rec : records) {
      ASSERT_EQ(NormaliseName(NormaliseName(rec.given_name)), NormaliseName(rec.given_name));
      ASSERT_EQ(Score(q, rec), Score(QueryFrom(rec), RecordFrom(q, rec.subject_id)));
    }

    // A record of the query's own person under a new subject competes; a record of someone
    // unrelated under a new subject never changes a confident outcome.
    PersonRecord extra = RecordFrom(gen.Person(), "new-subject");
    std::vector<PersonRecord> more = records;
    more.push_back(extra);
    MatchResult with_extra = MatchDemographics(q, more);
    CheckWellFormed(q, more, with_extra);
    if (HasFatalFailure()) return;
    if (r.outcome == MatchOutcome::kConfident) {
      int extra_score = Score(q, extra);
      if (extra_score <= r.candidates[0].score - kConfidentMargin) {
        ASSERT_EQ(with_extra.outcome, MatchOutcome::kConfident);
        ASSERT_EQ(with_extra.subject_id, r.subject_id);
      }
      // Removing another subject never takes confidence away.
      for (const PersonRecord& other : records) {
        if (other.subject_id == r.subject_id) continue;
        std::vector<PersonRecord> fewer;
        for (const PersonRecord& rec : records) {
          if (rec.subject_id != other.subject_id) fewer.push_back(rec);
        }
        MatchResult without = MatchDemographics(q, fewer);
        ASSERT_EQ(without.outcome, MatchOutcome::kConfident);
        ASSERT_EQ(without.subject_id, r.subject_id);
        break;
      }
      // Giving the confident subject a conflicting NHS number removes it entirely.
      MatchQuery with_nhs = q;
      if (with_nhs.nhs_number.empty()) with_nhs.nhs_number = "9434765919";
      std::vector<PersonRecord> conflicting = records;
      for (PersonRecord& rec : conflicting) {
        if (rec.subject_id == r.subject_id) {
          rec.nhs_number = with_nhs.nhs_number == "9434765919" ? "9434765870" : "9434765919";
          break;
        }
      }
      MatchResult excluded = MatchDemographics(with_nhs, conflicting);
      for (const MatchCandidate& c : excluded.candidates) ASSERT_NE(c.subject_id, r.subject_id);
    }

    // The person themself, added under a fresh subject, is found (alone or tied with others).
    if (!q.birth_date.empty() && NormaliseName(q.given_name) != "" && NormaliseName(q.family_name) != "") {
      std::vector<PersonRecord> self = {RecordFrom(q, "self")};
      MatchResult found = MatchDemographics(q, self);
      if (q.birth_date != "garbage") {
        ASSERT_EQ(found.outcome, MatchOutcome::kConfident);
        ASSERT_EQ(found.subject_id, "self");
      }
    }
  }
  // The pools must exercise all three outcomes, or the test proves little.
  EXPECT_GT(confident, 100);
  EXPECT_GT(ambiguous, 100);
  EXPECT_GT(none, 100);
}

}  // namespace
}  // namespace accord::domain
