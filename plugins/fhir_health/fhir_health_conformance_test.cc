// Conformance: the HL7 FHIR R4 specification examples in ../shared/samples/fhir, read by the
// fhir_health plugin through the plugin ABI. Without the samples folder this test fails.
#include <cstdlib>
#include <filesystem>

#include "gtest/gtest.h"
#include "hub/plugins/library.h"

namespace accord::fhir_health {
namespace {

namespace fs = std::filesystem;
using plugin::v1::Method;

fs::path Samples() {
  const char* source_dir = std::getenv("ACCORD_SOURCE_DIR");
  if (source_dir == nullptr || *source_dir == '\0') return {};
  return fs::path(source_dir) / ".." / "shared" / "samples" / "fhir";
}

class FhirHealthConformanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(Samples().empty()) << "ACCORD_SOURCE_DIR is not set (run through ctest)";
    ASSERT_TRUE(fs::exists(Samples() / "patient-example.json"))
        << "the samples folder " << Samples() << " is missing: this conformance test needs ../shared/samples";
    auto library =
        plugins::PluginLibrary::Load(ACCORD_FHIR_HEALTH_PLUGIN, *plugins::FileSha256(ACCORD_FHIR_HEALTH_PLUGIN));
    ASSERT_TRUE(library.ok()) << library.status();
    // The samples are only read: records and Task updates both come from the one folder.
    auto adapter =
        plugins::LoadedAdapter::Create(*library, "{\"recordsFolder\": \"" + Samples().string() +
                                                     "\", \"inboundFolder\": \"" + Samples().string() + "\"}");
    ASSERT_TRUE(adapter.ok()) << adapter.status();
    adapter_ = std::move(*adapter);
  }

  template <typename Response, typename Request>
  absl::StatusOr<Response> Call(Method method, const Request& request) {
    auto bytes = adapter_->Call(method, request.SerializeAsString());
    if (!bytes.ok()) return bytes.status();
    Response response;
    if (!response.ParseFromString(*bytes)) return absl::InternalError("unparseable response");
    return response;
  }

  std::unique_ptr<plugins::LoadedAdapter> adapter_;
};

TEST_F(FhirHealthConformanceTest, ThePatientExampleIsFoundAndItsRecordsServed) {
  plugin::v1::LookupPersonRequest lookup;
  lookup.mutable_demographics()->set_family_name("Chalmers");
  lookup.mutable_demographics()->set_birth_date("1974-12-25");
  auto found = Call<plugin::v1::LookupPersonResponse>(plugin::v1::METHOD_LOOKUP_PERSON, lookup);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->matches_size(), 1);
  EXPECT_EQ(found->matches(0).local_id(), "example");
  EXPECT_EQ(found->matches(0).identifiers().nhs_number(), "");  // an Australian MRN, not an NHS number

  plugin::v1::FetchRecordsRequest fetch;
  fetch.set_local_id("example");
  fetch.add_data_categories(accord::v1::DATA_CATEGORY_IDENTITY);
  fetch.add_data_categories(accord::v1::DATA_CATEGORY_HEALTH);
  auto records = Call<plugin::v1::FetchRecordsResponse>(plugin::v1::METHOD_FETCH_RECORDS, fetch);
  ASSERT_TRUE(records.ok()) << records.status();
  std::map<std::string, accord::v1::Record> by_id;
  for (const auto& r : records->records()) by_id[r.source_id()] = r;
  ASSERT_EQ(by_id.count("Patient/example"), 1u);
  EXPECT_EQ(by_id["Patient/example"].identity().given_name(), "Peter James");
  EXPECT_EQ(by_id["Patient/example"].identity().gender(), "male");
  ASSERT_EQ(by_id.count("Condition/example"), 1u);
  EXPECT_EQ(by_id["Condition/example"].clinical().display(), "Burnt Ear");
  EXPECT_EQ(by_id["Condition/example"].clinical().status(), "active");
  ASSERT_EQ(by_id.count("Observation/example"), 1u);
  EXPECT_EQ(by_id["Observation/example"].clinical().value(), "185");
  EXPECT_EQ(by_id["Observation/example"].clinical().unit(), "lbs");

  fetch.clear_data_categories();
  fetch.add_data_categories(accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  records = Call<plugin::v1::FetchRecordsResponse>(plugin::v1::METHOD_FETCH_RECORDS, fetch);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->records_size(), 0);  // a burn and a body weight are not mental health
}

TEST_F(FhirHealthConformanceTest, TheTaskExamplesBecomeStatusChanges) {
  auto changes = Call<plugin::v1::PollStatusChangesResponse>(plugin::v1::METHOD_POLL_STATUS_CHANGES,
                                                             plugin::v1::PollStatusChangesRequest());
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->changes_size(), 2);
  // task-example1: in-progress; task-example6: completed; both for ServiceRequest/lipid.
  EXPECT_EQ(changes->changes(0).referral(), "referrals/lipid");
  EXPECT_EQ(changes->changes(0).state(), accord::v1::REFERRAL_STATE_ACTIVE);
  EXPECT_EQ(changes->changes(0).reason(), "waiting for specimen");
  EXPECT_EQ(changes->changes(1).state(), accord::v1::REFERRAL_STATE_CLOSED);
  EXPECT_EQ(changes->changes(1).reason(), "test completed and posted");
  EXPECT_EQ(changes->next_cursor(), "task-example6.json");
}

}  // namespace
}  // namespace accord::fhir_health
