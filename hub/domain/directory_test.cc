// The service model's input rules, postcode-prefix and local-authority matching, and the directory
// search: eligibility per criterion with its reason, ranking and near misses.
#include "hub/domain/directory.h"

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace accord::domain {
namespace {

using ::accord::v1::LEVEL_OF_NEED_ADDITIONAL;
using ::accord::v1::LEVEL_OF_NEED_SPECIALIST;
using ::accord::v1::LEVEL_OF_NEED_TARGETED;
using ::accord::v1::LEVEL_OF_NEED_UNIVERSAL;
using ::accord::v1::LEVEL_OF_NEED_UNSPECIFIED;
using ::accord::v1::NEED_TYPE_ANXIETY;
using ::accord::v1::NEED_TYPE_AUTISM;
using ::accord::v1::NEED_TYPE_LOW_MOOD;
using ::accord::v1::NEED_TYPE_SCHOOL_ATTENDANCE;
using ::accord::v1::NEED_TYPE_SELF_HARM;
using ::accord::v1::NEED_TYPE_SLEEP;
using ::accord::v1::NEED_TYPE_UNSPECIFIED;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using ::testing::StartsWith;

// A counselling service in north-west Leeds for 11-18 year olds with anxiety or low mood, up to
// targeted level.
Service Counselling() {
  Service s;
  s.id = "counselling";
  s.provider_id = "mind-leeds";
  s.display_name = "Young People's Counselling";
  s.description = "Six to twelve weekly sessions with a qualified counsellor.";
  s.url = "https://example.org/counselling";
  s.email = "referrals@example.org";
  s.organization = Organization{"Leeds Mind", "A local mental health charity", "https://example.org", ""};
  s.eligibility.minimum_age = 11;
  s.eligibility.maximum_age = 18;
  s.eligibility.need_types = {NEED_TYPE_ANXIETY, NEED_TYPE_LOW_MOOD};
  s.eligibility.maximum_level = LEVEL_OF_NEED_TARGETED;
  ServiceArea area;
  area.description = "North and west Leeds";
  area.postcode_prefixes = {"ls6", "LS16 5", "ls 17"};
  s.areas = {area};
  s.contacts = {Contact{"Sam Lee", "Referrals coordinator", "sam@example.org", "+44 113 496 0000"}};
  s.availability = Availability{true, 3, absl::Hours(24 * 14), absl::Time()};
  return s;
}

Service Valid() {
  absl::StatusOr<Service> s = ValidateService(Counselling());
  EXPECT_TRUE(s.ok()) << s.status();
  return *s;
}

SearchQuery Query() {
  SearchQuery q;
  q.needs = {Need{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_ADDITIONAL}};
  q.age_years = 13;
  q.postcode = "ls6 2ab";
  return q;
}

const FitReason& ReasonFor(const ServiceMatch& m, Criterion c) {
  for (const FitReason& r : m.reasons) {
    if (r.criterion == c) return r;
  }
  ADD_FAILURE() << "no reason for " << CriterionName(c);
  static FitReason none;
  return none;
}

std::vector<std::string> Ids(const std::vector<ServiceMatch>& matches) {
  std::vector<std::string> ids;
  for (const ServiceMatch& m : matches) ids.push_back(m.service_id);
  return ids;
}

void ExpectInvalid(const absl::Status& status, absl::string_view path) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(absl::StrCat(path, ": "))) << status;
}

// ---- names and needs -------------------------------------------------------------------------

TEST(NeedNames, EveryKnownTypeHasItsOwnName) {
  std::set<std::string> names;
  for (int v = 1; ::accord::v1::NeedType_IsValid(v); ++v) {
    std::string name(NeedTypeName(static_cast<NeedType>(v)));
    EXPECT_NE(name, "UNKNOWN") << v;
    EXPECT_EQ("NEED_TYPE_" + name, ::accord::v1::NeedType_Name(static_cast<NeedType>(v)));
    EXPECT_TRUE(names.insert(name).second) << name;
  }
  EXPECT_EQ(NeedTypeName(static_cast<NeedType>(999)), "UNKNOWN");
  EXPECT_EQ(LevelOfNeedName(LEVEL_OF_NEED_TARGETED), "TARGETED");
  EXPECT_EQ(LevelOfNeedName(static_cast<LevelOfNeed>(9)), "UNKNOWN");
}

TEST(ValidateNeeds, AcceptsLevelsOneToFour) {
  EXPECT_TRUE(ValidateNeeds({{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_UNIVERSAL},
                             {NEED_TYPE_LOW_MOOD, LEVEL_OF_NEED_SPECIALIST}})
                  .ok());
}

TEST(ValidateNeeds, NamesTheOffendingNeed) {
  ExpectInvalid(ValidateNeeds({}), "needs");
  ExpectInvalid(ValidateNeeds({{NEED_TYPE_UNSPECIFIED, LEVEL_OF_NEED_UNIVERSAL}}), "needs[0].type");
  ExpectInvalid(ValidateNeeds({{static_cast<NeedType>(500), LEVEL_OF_NEED_UNIVERSAL}}), "needs[0].type");
  ExpectInvalid(ValidateNeeds({{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_UNIVERSAL},
                               {NEED_TYPE_LOW_MOOD, LEVEL_OF_NEED_UNSPECIFIED}}),
                "needs[1].level");
  ExpectInvalid(ValidateNeeds({{NEED_TYPE_ANXIETY, static_cast<LevelOfNeed>(5)}}), "needs[0].level");
  ExpectInvalid(ValidateNeeds({{NEED_TYPE_ANXIETY, static_cast<LevelOfNeed>(-1)}}), "needs[0].level");
  absl::Status repeated = ValidateNeeds({{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_UNIVERSAL},
                                         {NEED_TYPE_LOW_MOOD, LEVEL_OF_NEED_UNIVERSAL},
                                         {NEED_TYPE_ANXIETY, LEVEL_OF_NEED_TARGETED}},
                                        "referral.needs");
  ExpectInvalid(repeated, "referral.needs[2].type");
  EXPECT_THAT(std::string(repeated.message()), HasSubstr("ANXIETY"));
}

TEST(ServiceNames, RoundTripAndRefuseMalformed) {
  EXPECT_EQ(ServiceName("counselling"), "services/counselling");
  EXPECT_EQ(*ParseServiceName("services/ac148810-d857-441c-9679-408f346de14b"),
            "ac148810-d857-441c-9679-408f346de14b");
  for (const char* bad : {"", "services/", "service/x", "services/Upper", "services/-x", "services/x-",
                          "services/a_b", "services/x/y"}) {
    ExpectInvalid(ParseServiceName(bad, "referral.service").status(), "referral.service");
  }
  ExpectInvalid(ValidateServiceId(std::string(65, 'a')), "service_id");
  EXPECT_TRUE(ValidateServiceId(std::string(64, 'a')).ok());
}

// ---- postcode prefixes and local authorities ------------------------------------------------------

TEST(PostcodePrefix, NormalisesEachShape) {
  EXPECT_EQ(*NormalizePostcodePrefix("ls", "p"), "LS");
  EXPECT_EQ(*NormalizePostcodePrefix(" L ", "p"), "L");
  EXPECT_EQ(*NormalizePostcodePrefix("ls6", "p"), "LS6");
  EXPECT_EQ(*NormalizePostcodePrefix("l s 1 2", "p"), "LS12");  // no outward code before the space
  EXPECT_EQ(*NormalizePostcodePrefix("ls 17", "p"), "LS17");
  EXPECT_EQ(*NormalizePostcodePrefix("LS12", "p"), "LS12");
  EXPECT_EQ(*NormalizePostcodePrefix("w1a", "p"), "W1A");
  EXPECT_EQ(*NormalizePostcodePrefix("ls6  2", "p"), "LS6 2");
  EXPECT_EQ(*NormalizePostcodePrefix("ls62ab", "p"), "LS6 2AB");
  EXPECT_EQ(*NormalizePostcodePrefix("ls6 2ab", "p"), "LS6 2AB");
}

TEST(PostcodePrefix, RefusesOtherShapesNamingTheField) {
  for (const char* bad : {"", "   ", "LSX", "123", "LS6-2", "LS6 2A", "LS6 22", "LS6 2ABC", "L1 2 3", "ABC1"}) {
    ExpectInvalid(NormalizePostcodePrefix(bad, "service.service_areas[0].postcode_prefixes[1]").status(),
                  "service.service_areas[0].postcode_prefixes[1]");
  }
}

TEST(PostcodePrefix, MatchesOnUnitBoundaries) {
  EXPECT_TRUE(PostcodeInPrefix("LS6 2AB", "LS"));
  EXPECT_FALSE(PostcodeInPrefix("LS6 2AB", "L"));  // Liverpool is not Leeds
  EXPECT_TRUE(PostcodeInPrefix("L1 8JQ", "L"));
  EXPECT_TRUE(PostcodeInPrefix("LS6 2AB", "LS6"));
  EXPECT_FALSE(PostcodeInPrefix("LS16 5AB", "LS1"));  // district LS1 is not LS16
  EXPECT_FALSE(PostcodeInPrefix("LS1 5AB", "LS16"));
  EXPECT_TRUE(PostcodeInPrefix("W1A 1AA", "W1"));  // London sub-district
  EXPECT_FALSE(PostcodeInPrefix("W1 1AA", "W1A"));
  EXPECT_TRUE(PostcodeInPrefix("LS16 5AB", "LS16 5"));
  EXPECT_FALSE(PostcodeInPrefix("LS16 6AB", "LS16 5"));
  EXPECT_FALSE(PostcodeInPrefix("LS1 5AB", "LS16 5"));
  EXPECT_TRUE(PostcodeInPrefix("LS6 2AB", "LS6 2AB"));
  EXPECT_FALSE(PostcodeInPrefix("LS6 2AD", "LS6 2AB"));
  EXPECT_FALSE(PostcodeInPrefix("LS6 2AB", ""));
}

TEST(LocalAuthority, GssCodes) {
  EXPECT_EQ(*NormalizeLocalAuthority(" e08000035 ", "la"), "E08000035");
  EXPECT_EQ(*NormalizeLocalAuthority("W06000015", "la"), "W06000015");
  for (const char* bad : {"", "E0800003", "E080000355", "X08000035", "E0800003A", "Leeds"}) {
    ExpectInvalid(NormalizeLocalAuthority(bad, "local_authority").status(), "local_authority");
  }
}

// ---- ValidateService ----------------------------------------------------------------------------

TEST(ValidateService, AcceptsAndCanonicalisesAreas) {
  Service s = Valid();
  EXPECT_THAT(s.areas[0].postcode_prefixes, ElementsAre("LS6", "LS16 5", "LS17"));
  Service la = Counselling();
  la.areas[0].local_authorities = {"e08000035"};
  EXPECT_THAT(ValidateService(la)->areas[0].local_authorities, ElementsAre("E08000035"));
}

TEST(ValidateService, NationwideServesWithoutAreas) {
  Service s = Counselling();
  s.nationwide = true;
  ExpectInvalid(ValidateService(s).status(), "service.service_areas");
  s.areas.clear();
  EXPECT_TRUE(ValidateService(s).ok());
  s.nationwide = false;
  ExpectInvalid(ValidateService(s).status(), "service.service_areas");
}

TEST(ValidateService, NamesEachOffendingField) {
  struct Case {
    const char* path;
    std::function<void(Service&)> spoil;
  };
  const Case cases[] = {
      {"service.display_name", [](Service& s) { s.display_name.clear(); }},
      {"service.display_name", [](Service& s) { s.display_name = std::string(201, 'x'); }},
      {"service.display_name", [](Service& s) { s.display_name = "two\nlines"; }},
      {"service.description", [](Service& s) { s.description = "   "; }},
      {"service.url", [](Service& s) { s.url = "ftp://example.org"; }},
      {"service.url", [](Service& s) { s.url = "https://exa mple.org"; }},
      {"service.email", [](Service& s) { s.email = "not-an-address"; }},
      {"service.email", [](Service& s) { s.email = "a@b@example.org"; }},
      {"service.organization.url", [](Service& s) { s.organization.url = "example.org"; }},
      {"service.organization.email", [](Service& s) { s.organization.email = "x@localhost"; }},
      {"service.eligibility.minimum_age", [](Service& s) { s.eligibility.minimum_age = -1; }},
      {"service.eligibility.minimum_age", [](Service& s) { s.eligibility.minimum_age = 26; }},
      {"service.eligibility.maximum_age", [](Service& s) { s.eligibility.maximum_age.reset(); }},
      {"service.eligibility.maximum_age", [](Service& s) { s.eligibility.maximum_age = 26; }},
      {"service.eligibility.maximum_age", [](Service& s) { s.eligibility.maximum_age = 10; }},
      {"service.eligibility.need_types", [](Service& s) { s.eligibility.need_types.clear(); }},
      {"service.eligibility.need_types[1]", [](Service& s) { s.eligibility.need_types[1] = NEED_TYPE_UNSPECIFIED; }},
      {"service.eligibility.need_types[2]",
       [](Service& s) { s.eligibility.need_types.push_back(NEED_TYPE_ANXIETY); }},
      {"service.eligibility.maximum_level_of_need",
       [](Service& s) { s.eligibility.maximum_level = LEVEL_OF_NEED_UNSPECIFIED; }},
      {"service.eligibility.maximum_level_of_need",
       [](Service& s) { s.eligibility.maximum_level = static_cast<LevelOfNeed>(5); }},
      {"service.eligibility.minimum_level_of_need",
       [](Service& s) { s.eligibility.minimum_level = LEVEL_OF_NEED_SPECIALIST; }},
      {"service.eligibility.minimum_level_of_need",
       [](Service& s) { s.eligibility.minimum_level = static_cast<LevelOfNeed>(7); }},
      {"service.service_areas[0]",
       [](Service& s) {
         s.areas[0].postcode_prefixes.clear();
         s.areas[0].local_authorities.clear();
       }},
      {"service.service_areas[0].postcode_prefixes[2]",
       [](Service& s) { s.areas[0].postcode_prefixes[2] = "LS6/1"; }},
      {"service.service_areas[0].postcode_prefixes[3]",
       [](Service& s) { s.areas[0].postcode_prefixes.push_back(" l s 6"); }},
      {"service.service_areas[0].local_authorities[0]",
       [](Service& s) { s.areas[0].local_authorities = {"Leeds"}; }},
      {"service.service_areas[0].local_authorities[1]",
       [](Service& s) { s.areas[0].local_authorities = {"E08000035", "e08000035"}; }},
      {"service.service_areas[0].uri", [](Service& s) { s.areas[0].uri = "leeds"; }},
      {"service.contacts[0]",
       [](Service& s) {
         s.contacts[0].name.clear();
         s.contacts[0].title.clear();
       }},
      {"service.contacts[0].phone", [](Service& s) { s.contacts[0].phone = "call us"; }},
      {"service.contacts[0].phone", [](Service& s) { s.contacts[0].phone = "12345"; }},
      {"service.contacts[0].email", [](Service& s) { s.contacts[0].email = "sam"; }},
      {"service.contacts", [](Service& s) { s.contacts.resize(21, s.contacts[0]); }},
      {"service.availability.capacity", [](Service& s) { s.availability.capacity = -1; }},
      {"service.availability.waiting_time", [](Service& s) { s.availability.waiting_time = absl::Hours(-1); }},
      {"service.availability.waiting_time",
       [](Service& s) { s.availability.waiting_time = absl::Hours(24 * 731); }},
  };
  for (const Case& c : cases) {
    Service s = Counselling();
    c.spoil(s);
    SCOPED_TRACE(c.path);
    ExpectInvalid(ValidateService(s).status(), c.path);
  }
}

TEST(ValidateAvailability, Bounds) {
  EXPECT_TRUE(ValidateAvailability(Availability{false, 0, absl::ZeroDuration(), {}}).ok());
  EXPECT_TRUE(ValidateAvailability(Availability{true, 100000, absl::Hours(24 * 730), {}}).ok());
  ExpectInvalid(ValidateAvailability(Availability{true, 100001, absl::ZeroDuration(), {}}), "availability.capacity");
}

// ---- queries ----------------------------------------------------------------------------------------

TEST(ValidateSearchQuery, NormalisesAndNamesFields) {
  absl::StatusOr<SearchQuery> q = ValidateSearchQuery(Query());
  ASSERT_TRUE(q.ok()) << q.status();
  EXPECT_EQ(q->postcode, "LS6 2AB");

  SearchQuery no_age = Query();
  no_age.age_years.reset();
  ExpectInvalid(ValidateSearchQuery(no_age).status(), "age_years");
  SearchQuery old = Query();
  old.age_years = 26;
  ExpectInvalid(ValidateSearchQuery(old).status(), "age_years");
  SearchQuery nowhere = Query();
  nowhere.postcode.clear();
  ExpectInvalid(ValidateSearchQuery(nowhere).status(), "postcode");
  SearchQuery bad_postcode = Query();
  bad_postcode.postcode = "LS6 ZZZ";
  ExpectInvalid(ValidateSearchQuery(bad_postcode).status(), "postcode");
  SearchQuery bad_la = Query();
  bad_la.local_authority = "Leeds";
  ExpectInvalid(ValidateSearchQuery(bad_la).status(), "local_authority");
  SearchQuery bad_level = Query();
  bad_level.needs[0].level = static_cast<LevelOfNeed>(0);
  ExpectInvalid(ValidateSearchQuery(bad_level).status(), "needs[0].level");
  SearchQuery la_only = Query();
  la_only.postcode.clear();
  la_only.local_authority = "e08000035";
  EXPECT_EQ(ValidateSearchQuery(la_only)->local_authority, "E08000035");
}

// ---- judging one service --------------------------------------------------------------------------

TEST(JudgeService, AFitHasAMetReasonPerCriterionInOrder) {
  ServiceMatch m = JudgeService(*ValidateSearchQuery(Query()), Valid());
  EXPECT_TRUE(m.eligible);
  ASSERT_EQ(m.reasons.size(), 5u);
  EXPECT_EQ(m.reasons[0].code, FitCode::kAcceptingReferrals);
  EXPECT_EQ(m.reasons[1].code, FitCode::kAgeInRange);
  EXPECT_EQ(m.reasons[2].code, FitCode::kNeedsAddressed);
  EXPECT_EQ(m.reasons[3].code, FitCode::kLevelWithinThresholds);
  EXPECT_EQ(m.reasons[4].code, FitCode::kInAreaByPostcode);
  for (const FitReason& r : m.reasons) {
    EXPECT_TRUE(r.met) << r.text;
    EXPECT_THAT(r.text, ::testing::Not(HasSubstr("2AB"))) << "the postcode is personal data";
  }
  EXPECT_THAT(m.reasons[0].text, HasSubstr("3 places free"));
  EXPECT_THAT(m.reasons[4].text, HasSubstr("LS6"));
  EXPECT_THAT(m.needs_addressed, ElementsAre(NEED_TYPE_ANXIETY));
}

TEST(JudgeService, ClosedServiceDoesNotFit) {
  Service s = Valid();
  s.availability.accepting_referrals = false;
  ServiceMatch m = JudgeService(*ValidateSearchQuery(Query()), s);
  EXPECT_FALSE(m.eligible);
  EXPECT_EQ(ReasonFor(m, Criterion::kAcceptingReferrals).code, FitCode::kClosedToReferrals);
  EXPECT_EQ(m.unmet_count(), 1);
}

TEST(JudgeService, AgeBoundsAreInclusive) {
  Service s = Valid();
  for (int age : {11, 18}) {
    SearchQuery q = Query();
    q.age_years = age;
    EXPECT_EQ(ReasonFor(JudgeService(*ValidateSearchQuery(q), s), Criterion::kAge).code, FitCode::kAgeInRange) << age;
  }
  SearchQuery young = Query();
  young.age_years = 10;
  const FitReason young_reason = ReasonFor(JudgeService(*ValidateSearchQuery(young), s), Criterion::kAge);
  EXPECT_EQ(young_reason.code, FitCode::kBelowMinimumAge);
  EXPECT_FALSE(young_reason.met);
  EXPECT_THAT(young_reason.text, HasSubstr("11-18"));
  SearchQuery old = Query();
  old.age_years = 19;
  EXPECT_EQ(ReasonFor(JudgeService(*ValidateSearchQuery(old), s), Criterion::kAge).code, FitCode::kAboveMaximumAge);
}

TEST(JudgeService, NeedsAddressedAreListedInQueryOrder) {
  SearchQuery q = Query();
  q.needs = {{NEED_TYPE_SCHOOL_ATTENDANCE, LEVEL_OF_NEED_ADDITIONAL},
             {NEED_TYPE_LOW_MOOD, LEVEL_OF_NEED_ADDITIONAL},
             {NEED_TYPE_ANXIETY, LEVEL_OF_NEED_UNIVERSAL}};
  ServiceMatch m = JudgeService(*ValidateSearchQuery(q), Valid());
  EXPECT_THAT(m.needs_addressed, ElementsAre(NEED_TYPE_LOW_MOOD, NEED_TYPE_ANXIETY));
  const FitReason& r = ReasonFor(m, Criterion::kNeedType);
  EXPECT_TRUE(r.met);
  EXPECT_THAT(r.text, HasSubstr("2 of 3"));
  EXPECT_THAT(r.text, HasSubstr("not SCHOOL_ATTENDANCE"));

  q.needs = {{NEED_TYPE_AUTISM, LEVEL_OF_NEED_ADDITIONAL}};
  ServiceMatch none = JudgeService(*ValidateSearchQuery(q), Valid());
  EXPECT_EQ(ReasonFor(none, Criterion::kNeedType).code, FitCode::kNoNeedAddressed);
  EXPECT_THAT(none.needs_addressed, IsEmpty());
}

TEST(JudgeService, TheChildsHighestLevelMeetsTheThresholds) {
  Service s = Valid();  // levels 1-3
  SearchQuery q = Query();
  q.needs = {{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_ADDITIONAL}, {NEED_TYPE_SELF_HARM, LEVEL_OF_NEED_SPECIALIST}};
  const FitReason above = ReasonFor(JudgeService(*ValidateSearchQuery(q), s), Criterion::kLevelOfNeed);
  EXPECT_EQ(above.code, FitCode::kAboveThreshold);
  EXPECT_THAT(above.text, HasSubstr("4 (SPECIALIST)"));
  EXPECT_THAT(above.text, HasSubstr("maximum 3 (TARGETED)"));

  q.needs = {{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_TARGETED}};
  EXPECT_EQ(ReasonFor(JudgeService(*ValidateSearchQuery(q), s), Criterion::kLevelOfNeed).code,
            FitCode::kLevelWithinThresholds);

  s.eligibility.minimum_level = LEVEL_OF_NEED_TARGETED;  // a specialist-leaning service
  q.needs = {{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_ADDITIONAL}};
  const FitReason below = ReasonFor(JudgeService(*ValidateSearchQuery(q), s), Criterion::kLevelOfNeed);
  EXPECT_EQ(below.code, FitCode::kBelowThreshold);
  EXPECT_THAT(below.text, HasSubstr("minimum 3 (TARGETED)"));
}

TEST(JudgeService, AreaByPostcodeByLocalAuthorityOrNationwide) {
  Service s = Valid();
  s.areas.push_back(ServiceArea{"Bradford", {}, {"E08000032"}, ""});

  SearchQuery q = Query();
  q.postcode = "LS7 1AA";  // outside the prefixes
  const FitReason out = ReasonFor(JudgeService(*ValidateSearchQuery(q), s), Criterion::kArea);
  EXPECT_EQ(out.code, FitCode::kOutOfArea);
  EXPECT_FALSE(out.met);
  EXPECT_THAT(out.text, ::testing::Not(HasSubstr("LS7")));

  q.local_authority = "E08000032";  // either may match
  const FitReason by_la = ReasonFor(JudgeService(*ValidateSearchQuery(q), s), Criterion::kArea);
  EXPECT_EQ(by_la.code, FitCode::kInAreaByLocalAuthority);
  EXPECT_THAT(by_la.text, HasSubstr("E08000032"));

  q.postcode = "LS16 5XY";  // sector LS16 5; postcode preferred when both match
  EXPECT_EQ(ReasonFor(JudgeService(*ValidateSearchQuery(q), s), Criterion::kArea).code, FitCode::kInAreaByPostcode);

  Service online = s;
  online.areas.clear();
  online.nationwide = true;
  q.postcode = "TR1 1AA";
  q.local_authority.clear();
  EXPECT_EQ(ReasonFor(JudgeService(*ValidateSearchQuery(q), online), Criterion::kArea).code, FitCode::kNationwide);
}

TEST(FitCodes, HaveStableNames) {
  EXPECT_EQ(FitCodeName(FitCode::kAboveThreshold), "ABOVE_THRESHOLD");
  EXPECT_EQ(FitCodeName(FitCode::kOutOfArea), "OUT_OF_AREA");
  EXPECT_EQ(FitCodeName(FitCode::kInAreaByLocalAuthority), "IN_AREA_BY_LOCAL_AUTHORITY");
  EXPECT_EQ(CriterionName(Criterion::kLevelOfNeed), "LEVEL_OF_NEED");
}

// ---- the search ---------------------------------------------------------------------------------------

Service Variant(std::string id, int capacity, int wait_days, std::vector<NeedType> needs) {
  Service s = Valid();
  s.id = std::move(id);
  s.availability.capacity = capacity;
  s.availability.waiting_time = absl::Hours(24 * wait_days);
  s.eligibility.need_types = std::move(needs);
  return s;
}

TEST(SearchServices, RanksBestFitThenShortestWaitThenMostPlacesThenId) {
  SearchQuery q = Query();
  q.needs = {{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_ADDITIONAL}, {NEED_TYPE_LOW_MOOD, LEVEL_OF_NEED_ADDITIONAL}};
  std::vector<Service> services = {
      Variant("one-need-fast", 5, 1, {NEED_TYPE_ANXIETY}),
      Variant("both-slow", 5, 60, {NEED_TYPE_ANXIETY, NEED_TYPE_LOW_MOOD}),
      Variant("both-fast-full", 0, 7, {NEED_TYPE_ANXIETY, NEED_TYPE_LOW_MOOD}),
      Variant("both-fast-room", 4, 7, {NEED_TYPE_ANXIETY, NEED_TYPE_LOW_MOOD}),
      Variant("both-fast-room-b", 4, 7, {NEED_TYPE_LOW_MOOD, NEED_TYPE_ANXIETY}),
      Variant("unrelated", 9, 0, {NEED_TYPE_SLEEP}),
  };
  absl::StatusOr<SearchResult> r = SearchServices(q, services);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Ids(r->matches),
              ElementsAre("both-fast-room", "both-fast-room-b", "both-fast-full", "both-slow", "one-need-fast"));
  EXPECT_THAT(r->near_misses, IsEmpty());  // not asked for
  EXPECT_EQ(r->matches[0].candidate_index, 3u);
  for (const ServiceMatch& m : r->matches) EXPECT_TRUE(m.eligible);
}

TEST(SearchServices, NearMissesFailExactlyOneCriterionAndAddressANeed) {
  SearchQuery q = Query();
  q.include_near_misses = true;
  Service fits = Variant("fits", 2, 10, {NEED_TYPE_ANXIETY});
  Service closed = Variant("closed", 2, 10, {NEED_TYPE_ANXIETY});
  closed.availability.accepting_referrals = false;
  Service too_young = Variant("for-older", 2, 3, {NEED_TYPE_ANXIETY});
  too_young.eligibility.minimum_age = 14;
  Service elsewhere = Variant("elsewhere", 2, 3, {NEED_TYPE_ANXIETY});
  elsewhere.areas[0].postcode_prefixes = {"BD"};
  Service two_misses = Variant("two-misses", 2, 3, {NEED_TYPE_ANXIETY});
  two_misses.availability.accepting_referrals = false;
  two_misses.eligibility.minimum_age = 14;
  Service unrelated = Variant("unrelated", 2, 3, {NEED_TYPE_SLEEP});  // only the need type misses

  absl::StatusOr<SearchResult> r =
      SearchServices(q, std::vector<Service>{fits, closed, too_young, elsewhere, two_misses, unrelated});
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_THAT(Ids(r->matches), ElementsAre("fits"));
  // Ranked like fits: the shorter waits first, then id.
  EXPECT_THAT(Ids(r->near_misses), ElementsAre("elsewhere", "for-older", "closed"));
  for (const ServiceMatch& m : r->near_misses) {
    EXPECT_FALSE(m.eligible);
    EXPECT_EQ(m.unmet_count(), 1) << m.service_id;
    EXPECT_EQ(m.reasons.size(), 5u);
  }
  EXPECT_EQ(ReasonFor(r->near_misses[0], Criterion::kArea).code, FitCode::kOutOfArea);
  EXPECT_EQ(ReasonFor(r->near_misses[1], Criterion::kAge).code, FitCode::kBelowMinimumAge);
}

TEST(SearchServices, RefusesAnInvalidQueryBeforeLookingAtServices) {
  SearchQuery q = Query();
  q.needs[0].level = static_cast<LevelOfNeed>(7);
  ExpectInvalid(SearchServices(q, std::vector<Service>{Valid()}).status(), "needs[0].level");
}

TEST(SearchServices, NoCandidatesNoMatches) {
  absl::StatusOr<SearchResult> r = SearchServices(Query(), {});
  ASSERT_TRUE(r.ok());
  EXPECT_THAT(r->matches, IsEmpty());
}

}  // namespace
}  // namespace accord::domain
