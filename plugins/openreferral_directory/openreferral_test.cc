// Open Referral import and export on generated documents, clean and messy; imported services
// checked against the directory's publishing rules and search.
#include "plugins/openreferral_directory/openreferral.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "plugins/openreferral_directory/directory_check.h"

namespace accord::openreferral {
namespace {

using json = nlohmann::json;

json OrukService(const std::string& id) {
  return {
      {"id", id},
      {"name", "Oakfield Young Carers"},
      {"description", "Breaks, groups and a listening ear for young carers."},
      {"url", "https://oakfield.example/carers"},
      {"email", "carers@oakfield.example"},
      {"status", "active"},
      {"organization", {{"name", "Oakfield Trust"}, {"url", "https://oakfield.example"}}},
      {"eligibilitys",
       json::array({{{"eligibility", "Young carers aged 8 to 18 in Leeds"}, {"minimum_age", 8}, {"maximum_age", 18}}})},
      {"service_taxonomys",
       json::array({{{"taxonomy", {{"id", "t1"}, {"name", "Young Carers"}, {"vocabulary", "esdNeeds"}}}},
                    {{"taxonomy", {{"id", "t2"}, {"name", "Social isolation"}, {"vocabulary", "esdNeeds"}}}},
                    {{"taxonomy", {{"id", "t3"}, {"name", "Short breaks"}, {"vocabulary", "esdServiceTypes"}}}}})},
      {"service_areas", json::array({{{"service_area", "Leeds north and west"},
                                      {"extent", "LS6, ls7 2, E08000035"},
                                      {"uri", "https://leeds.example/areas/nw"}}})},
      {"contacts", json::array({{{"name", "Sam Patel"},
                                 {"title", "Coordinator"},
                                 {"email", "sam@oakfield.example"},
                                 {"phones", json::array({{{"number", "0113 496 0000"}}})}}})}};
}

bool HasIssue(const ImportResult& r, const std::string& path, const std::string& text, bool left_out) {
  for (const auto& i : r.issues) {
    if (i.path == path && i.message.find(text) != std::string::npos && i.left_out == left_out) return true;
  }
  return false;
}

std::string Issues(const ImportResult& r) {
  std::string out;
  for (const auto& i : r.issues) absl::StrAppend(&out, i.path, ": ", i.message, i.left_out ? " [left out]" : "", "\n");
  return out;
}

TEST(OpenReferralImportTest, MapsAnOrukServiceFieldByField) {
  ImportResult r = ImportServices(json({{"content", json::array({OrukService("8B0C-youngcarers")})}}).dump());
  ASSERT_EQ(r.services.size(), 1u) << Issues(r);
  const accord::v1::Service& s = r.services[0].service;
  EXPECT_EQ(r.services[0].service_id, "8b0c-youngcarers");
  EXPECT_EQ(s.display_name(), "Oakfield Young Carers");
  EXPECT_EQ(s.organization().display_name(), "Oakfield Trust");
  EXPECT_EQ(s.organization().url(), "https://oakfield.example");
  EXPECT_TRUE(s.availability().accepting_referrals());
  EXPECT_EQ(s.eligibility().minimum_age(), 8);
  EXPECT_EQ(s.eligibility().maximum_age(), 18);
  EXPECT_EQ(s.eligibility().description(), "Young carers aged 8 to 18 in Leeds");
  ASSERT_EQ(s.eligibility().need_types_size(), 2);
  EXPECT_EQ(s.eligibility().need_types(0), accord::v1::NEED_TYPE_YOUNG_CARER);
  EXPECT_EQ(s.eligibility().need_types(1), accord::v1::NEED_TYPE_SOCIAL_ISOLATION);
  EXPECT_EQ(s.eligibility().maximum_level_of_need(), accord::v1::LEVEL_OF_NEED_TARGETED);
  ASSERT_EQ(s.service_areas_size(), 1);
  EXPECT_EQ(s.service_areas(0).description(), "Leeds north and west");
  EXPECT_EQ(s.service_areas(0).postcode_prefixes_size(), 2);
  EXPECT_EQ(s.service_areas(0).postcode_prefixes(1), "LS7 2");
  EXPECT_EQ(s.service_areas(0).local_authorities(0), "E08000035");
  ASSERT_EQ(s.contacts_size(), 1);
  EXPECT_EQ(s.contacts(0).phone(), "0113 496 0000");
  // The unknown term is reported, with where it is, not dropped silently.
  EXPECT_TRUE(
      HasIssue(r, "content[0].service_taxonomys[2].taxonomy", "taxonomy term esdServiceTypes:t3 (Short breaks)", false))
      << Issues(r);
  EXPECT_EQ(r.unknown_terms, (std::vector<std::string>{"esdServiceTypes:t3 (Short breaks)"}));
}

TEST(OpenReferralImportTest, ServicesThatCannotBePublishedAreLeftOutOneByOne) {
  json bad_id = OrukService("Not An Id!");
  json no_name = OrukService("no-name");
  no_name.erase("name");
  json no_area = OrukService("no-area");
  no_area["service_areas"] = json::array({{{"service_area", "Somewhere nice"}}});
  json adults = OrukService("adults");
  adults["eligibilitys"][0]["minimum_age"] = 30;
  adults["eligibilitys"][0]["maximum_age"] = 99;
  json no_need = OrukService("no-need");
  no_need.erase("service_taxonomys");
  no_need["description"] = "Gardening club.";
  no_need["eligibilitys"][0]["eligibility"] = "Anyone";
  json page = {{"contents", json::array({bad_id, no_name, no_area, adults, no_need, 42, OrukService("good")})}};
  ImportResult r = ImportServices(page.dump());
  ASSERT_EQ(r.services.size(), 1u) << Issues(r);
  EXPECT_EQ(r.services[0].service_id, "good");
  EXPECT_TRUE(HasIssue(r, "contents[0].id", "\"Not An Id!\" is not a usable service id", true)) << Issues(r);
  EXPECT_TRUE(HasIssue(r, "contents[1].name", "no name", true));
  EXPECT_TRUE(HasIssue(r, "contents[2].service_areas[0]", "names no postcode prefix or local authority", false));
  EXPECT_TRUE(HasIssue(r, "contents[2].service_areas", "no area with a postcode prefix", true));
  EXPECT_TRUE(HasIssue(r, "contents[3].minimum_age", "starts above age 25", true));
  EXPECT_TRUE(HasIssue(r, "contents[4].attributes", "names a need Accord knows", true));
  EXPECT_TRUE(HasIssue(r, "contents[5]", "not a JSON object", true));
}

TEST(OpenReferralImportTest, ADefaultAreaStandsInWhenGivenAndWordsAreReadWhenNoTermFits) {
  json vague = OrukService("vague");
  vague.erase("service_taxonomys");
  vague["description"] = "Support for children with anxiety or low mood, and for danger of exploitation.";
  vague["service_areas"] = json::array({{{"service_area", "Across the city"}}});
  vague["eligibilitys"][0]["eligibility"] = "Children in Leeds";
  ImportOptions options;
  accord::v1::ServiceArea leeds;
  leeds.set_description("Leeds");
  leeds.add_local_authorities("E08000035");
  options.default_area = leeds;
  size_t calls = 0;
  options.progress = [&](size_t done, size_t total) {
    ++calls;
    EXPECT_EQ(total, 1u);
    EXPECT_EQ(done, calls);
  };
  ImportResult r = ImportServices(vague.dump(), options);
  ASSERT_EQ(r.services.size(), 1u) << Issues(r);
  EXPECT_EQ(calls, 1u);
  const auto& s = r.services[0].service;
  EXPECT_EQ(s.service_areas(0).local_authorities(0), "E08000035");
  EXPECT_TRUE(HasIssue(r, "service.service_areas", "the default area is used", false)) << Issues(r);
  std::set<int> needs(s.eligibility().need_types().begin(), s.eligibility().need_types().end());
  EXPECT_EQ(needs, (std::set<int>{accord::v1::NEED_TYPE_ANXIETY, accord::v1::NEED_TYPE_LOW_MOOD,
                                  accord::v1::NEED_TYPE_EXPLOITATION}));  // not ANGER from "danger"
  EXPECT_TRUE(HasIssue(r, "service.description", "read from the service's words", false));
}

TEST(OpenReferralImportTest, AHugeFileIsImportedWithProgress) {
  json contents = json::array();
  constexpr size_t kServices = 5000;
  for (size_t i = 0; i < kServices; ++i) contents.push_back(OrukService("svc-" + std::to_string(i)));
  ImportOptions options;
  size_t last = 0, calls = 0;
  options.progress = [&](size_t done, size_t total) {
    EXPECT_EQ(total, kServices);
    EXPECT_EQ(done, last + 1);
    last = done;
    ++calls;
  };
  ImportResult r = ImportServices(json({{"contents", contents}}).dump(), options);
  EXPECT_EQ(r.services.size(), kServices);
  EXPECT_EQ(calls, kServices);
  EXPECT_EQ(r.unknown_terms.size(), 1u);  // the same unknown term, listed once
}

TEST(OpenReferralImportTest, NotJsonOrNoServicesIsOneIssue) {
  ImportResult a = ImportServices("{\"contents\": [");
  EXPECT_TRUE(a.services.empty());
  ASSERT_EQ(a.issues.size(), 1u);
  EXPECT_EQ(a.issues[0].message, "not JSON");
  ImportResult b = ImportServices("{\"hello\": 1}");
  ASSERT_EQ(b.issues.size(), 1u);
  EXPECT_EQ(b.issues[0].path, "$");
}

TEST(OpenReferralImportTest, AnExportImportsBackToTheSameServices) {
  ImportResult first = ImportServices(json::array({OrukService("a-1"), OrukService("b-2")}).dump());
  ASSERT_EQ(first.services.size(), 2u);
  first.services[1].service.mutable_eligibility()->set_maximum_level_of_need(accord::v1::LEVEL_OF_NEED_SPECIALIST);
  first.services[1].service.mutable_availability()->set_accepting_referrals(false);
  const std::string exported = ExportServices(first.services);
  json page = json::parse(exported);
  EXPECT_EQ(page["total_items"], 2);
  EXPECT_EQ(page["contents"][1]["status"], "inactive");
  ImportResult again = ImportServices(exported);
  ASSERT_EQ(again.services.size(), 2u) << Issues(again);
  EXPECT_TRUE(again.unknown_terms.empty());
  for (size_t k = 0; k < 2; ++k) {
    EXPECT_EQ(again.services[k].service_id, first.services[k].service_id);
    EXPECT_TRUE(
        google::protobuf::util::MessageDifferencer::Equals(again.services[k].service, first.services[k].service))
        << again.services[k].service.DebugString() << "\nvs\n"
        << first.services[k].service.DebugString();
  }
}

TEST(OpenReferralImportTest, ImportedServicesPassThePublishingRulesAndAreFoundBySearch) {
  ImportResult r = ImportServices(json::array({OrukService("carers")}).dump());
  ASSERT_EQ(r.services.size(), 1u);
  domain::Service service = ToDomain(r.services[0].service_id, r.services[0].service);
  auto valid = domain::ValidateService(service);
  ASSERT_TRUE(valid.ok()) << valid.status();
  domain::SearchQuery query;
  query.needs = {{accord::v1::NEED_TYPE_YOUNG_CARER, accord::v1::LEVEL_OF_NEED_ADDITIONAL}};
  query.age_years = 12;
  query.postcode = "LS6 2AB";
  std::vector<domain::Service> candidates = {*valid};
  auto found = domain::SearchServices(query, candidates);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->matches.size(), 1u);
  EXPECT_EQ(found->matches[0].service_id, "carers");
  query.postcode = "BD1 1AA";  // Bradford: out of area
  found = domain::SearchServices(query, candidates);
  ASSERT_TRUE(found.ok());
  EXPECT_TRUE(found->matches.empty());
}

}  // namespace
}  // namespace accord::openreferral
