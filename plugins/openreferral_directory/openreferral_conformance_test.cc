// Conformance: the Open Referral HSDS 3.0 examples in ../shared/samples/openreferral imported,
// checked against the directory's publishing rules and search, and exported back. Without the
// samples folder this test fails.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "plugins/openreferral_directory/directory_check.h"
#include "plugins/openreferral_directory/openreferral.h"

namespace accord::openreferral {
namespace {

std::string Sample(const std::string& name) {
  const char* source_dir = std::getenv("ACCORD_SOURCE_DIR");
  EXPECT_TRUE(source_dir != nullptr && *source_dir != '\0') << "ACCORD_SOURCE_DIR is not set (run through ctest)";
  if (source_dir == nullptr) return "";
  const auto path = std::filesystem::path(source_dir) / ".." / "shared" / "samples" / "openreferral" / name;
  std::ifstream in(path);
  EXPECT_TRUE(in) << "the samples file " << path << " is missing: this conformance test needs ../shared/samples";
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool HasIssue(const ImportResult& r, const std::string& path, const std::string& text) {
  for (const auto& i : r.issues) {
    if (i.path == path && i.message.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(OpenReferralConformanceTest, TheFullServiceExampleImportsWithItsGapsReported) {
  const std::string text = Sample("hsds3-service_full.json");
  ASSERT_FALSE(text.empty());
  ImportResult r = ImportServices(text);
  ASSERT_EQ(r.services.size(), 1u);
  const accord::v1::Service& s = r.services[0].service;
  EXPECT_EQ(r.services[0].service_id, "ac148810-d857-441c-9679-408f346de14b");
  EXPECT_EQ(s.display_name(), "Community Counselling");
  EXPECT_EQ(s.organization().display_name(), "Example Organization Inc.");
  EXPECT_EQ(s.organization().url(), "http://example.com");
  EXPECT_TRUE(s.availability().accepting_referrals());
  EXPECT_EQ(s.eligibility().minimum_age(), 12);
  EXPECT_EQ(s.eligibility().maximum_age(), 25);
  EXPECT_TRUE(HasIssue(r, "service.maximum_age", "maximum age 100 is above Accord's 25"));
  // Its one taxonomy term is a placeholder: reported, and the needs read from its words instead.
  EXPECT_EQ(r.unknown_terms, (std::vector<std::string>{"taxonomy:code (name)"}));
  EXPECT_TRUE(HasIssue(r, "service.attributes[0].taxonomy_term", "names no need Accord knows"));
  std::set<int> needs(s.eligibility().need_types().begin(), s.eligibility().need_types().end());
  EXPECT_EQ(needs, (std::set<int>{accord::v1::NEED_TYPE_ANXIETY, accord::v1::NEED_TYPE_LOW_MOOD,
                                  accord::v1::NEED_TYPE_EATING_DIFFICULTIES}));
  ASSERT_EQ(s.service_areas_size(), 1);
  EXPECT_EQ(std::vector<std::string>(s.service_areas(0).postcode_prefixes().begin(),
                                     s.service_areas(0).postcode_prefixes().end()),
            (std::vector<std::string>{"AB1", "AB2", "AB3"}));
  EXPECT_EQ(s.service_areas(0).uri(), "http://example.com");
  ASSERT_EQ(s.contacts_size(), 1);  // the same person at the service and its location, once
  EXPECT_EQ(s.contacts(0).name(), "Ann Persona");
  EXPECT_EQ(s.contacts(0).phone(), "+44 1234 234567");

  auto valid = domain::ValidateService(ToDomain(r.services[0].service_id, s));
  ASSERT_TRUE(valid.ok()) << valid.status();
  domain::SearchQuery query;
  query.needs = {{accord::v1::NEED_TYPE_ANXIETY, accord::v1::LEVEL_OF_NEED_ADDITIONAL}};
  query.age_years = 14;
  query.postcode = "AB2 4XY";
  std::vector<domain::Service> candidates = {*valid};
  auto found = domain::SearchServices(query, candidates);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->matches.size(), 1u);
}

TEST(OpenReferralConformanceTest, ThePageOfServicesImportsAndExportsBack) {
  const std::string text = Sample("hsds3-service_list.json");
  ASSERT_FALSE(text.empty());
  // A page lists services in brief (no areas, no taxonomy): without a default area it cannot be
  // published, and says why.
  ImportResult brief = ImportServices(text);
  EXPECT_TRUE(brief.services.empty());
  EXPECT_TRUE(HasIssue(brief, "contents[0].service_areas", "no area with a postcode prefix"));
  ImportOptions options;
  accord::v1::ServiceArea mycity;
  mycity.set_description("MyCity");
  mycity.add_postcode_prefixes("AB1");
  options.default_area = mycity;
  ImportResult r = ImportServices(text, options);
  ASSERT_EQ(r.services.size(), 1u);
  EXPECT_EQ(r.services[0].service.display_name(), "Community Counselling");
  EXPECT_TRUE(HasIssue(r, "contents[0].service_areas", "the default area is used"));
  EXPECT_TRUE(HasIssue(r, "contents[0].description", "read from the service's words"));
  ImportResult again = ImportServices(ExportServices(r.services));
  ASSERT_EQ(again.services.size(), 1u);
  EXPECT_TRUE(again.unknown_terms.empty());
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(again.services[0].service, r.services[0].service));
}

}  // namespace
}  // namespace accord::openreferral
