// `accordctl directory import|export` against a real hub over mTLS: the Open Referral HSDS 3.0
// examples in ../shared/samples/openreferral are published as a provider's services and found by
// a referrer's search; a dry run publishes nothing; a bad file is refused; importing again
// republishes the same services; an export imports back to the same services. Needs the shared
// samples folder (conformance) and fails when it is absent.
#include <cstdlib>
#include <filesystem>
#include <fstream>

#include <grpcpp/grpcpp.h>

#include "accord/v1/directory.grpc.pb.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "tests/support/hub_process.h"
#include "tests/support/temp_dir.h"

namespace accord {
namespace {

using testsupport::AccordctlBinary;
using testsupport::HubProcess;
using testsupport::RunProgram;
using testsupport::TempDir;

constexpr const char* kServiceName = "services/ac148810-d857-441c-9679-408f346de14b";

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

// The path of a shared Open Referral sample; empty (and the test failed) when it is missing.
std::string Sample(const std::string& name) {
  const char* source_dir = std::getenv("ACCORD_SOURCE_DIR");
  if (source_dir == nullptr || *source_dir == '\0') {
    ADD_FAILURE() << "ACCORD_SOURCE_DIR is not set: run this test through ctest (accord_test sets it)";
    return "";
  }
  auto path = (std::filesystem::path(source_dir) / ".." / "shared" / "samples" / "openreferral" / name)
                  .lexically_normal();
  if (!std::filesystem::exists(path)) {
    ADD_FAILURE() << "the conformance sample " << path
                  << " is missing: the shared samples folder must sit beside the checkout (../shared/samples/)";
    return "";
  }
  return path.string();
}

class DirectoryImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    school_ = hub_.Enrol("oakfield", "Oakfield High School", "SCHOOL", "REFERRER");
    provider_ = hub_.Enrol("counselling", "Community Counselling", "VOLUNTARY", "PROVIDER");
    other_provider_ = hub_.Enrol("mentoring", "Northside Mentoring", "VOLUNTARY", "PROVIDER");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    directory_ = v1::DirectoryService::NewStub(hub_.Channel(school_));
  }

  int Accordctl(std::vector<std::string> args, std::string* out) {
    args.insert(args.begin(), AccordctlBinary());
    return RunProgram(args, out);
  }

  int Import(const std::string& file, const std::filesystem::path& bundle, std::string* out,
             std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"directory", "import", file, "--bundle", bundle.string(), "--address",
                                      hub_.address()};
    args.insert(args.end(), extra.begin(), extra.end());
    return Accordctl(args, out);
  }

  // Services fitting a 14-year-old with anxiety at level 2 in `postcode`, by name.
  std::vector<std::string> Search(const std::string& postcode) {
    v1::SearchServicesRequest req;
    v1::Need* need = req.add_needs();
    need->set_type(v1::NEED_TYPE_ANXIETY);
    need->set_level(v1::LEVEL_OF_NEED_ADDITIONAL);
    req.set_age_years(14);
    req.set_postcode(postcode);
    v1::SearchServicesResponse resp;
    grpc::Status s = directory_->SearchServices(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    std::vector<std::string> names;
    for (const v1::ServiceMatch& m : resp.matches()) names.push_back(m.service().name());
    return names;
  }

  grpc::Status Get(v1::Service* service) {
    v1::GetServiceRequest req;
    req.set_name(kServiceName);
    v1::GetServiceResponse resp;
    grpc::Status s = directory_->GetService(Ctx().get(), req, &resp);
    *service = resp.service();
    return s;
  }

  HubProcess hub_;
  TempDir scratch_;
  std::filesystem::path school_, provider_, other_provider_;
  std::unique_ptr<v1::DirectoryService::Stub> directory_;
};

TEST_F(DirectoryImportTest, TheSamplesArePublishedAndFoundBySearch) {
  const std::string full = Sample("hsds3-service_full.json");
  const std::string list = Sample("hsds3-service_list.json");
  ASSERT_FALSE(full.empty() || list.empty());

  std::string out;
  ASSERT_EQ(Import(full, provider_, &out), 0) << out;
  // Every mapping issue is printed with its JSON path, then the summary.
  EXPECT_NE(out.find("service.maximum_age: "), std::string::npos) << out;
  EXPECT_NE(out.find("service.attributes[0].taxonomy_term: "), std::string::npos) << out;
  EXPECT_NE(out.find("Published 1 services, 0 refused by the hub, 0 left out by the mapping"), std::string::npos)
      << out;
  EXPECT_EQ(Search("AB2 4XY"), std::vector<std::string>{kServiceName});
  v1::Service service;
  ASSERT_TRUE(Get(&service).ok());
  EXPECT_EQ(service.display_name(), "Community Counselling");
  EXPECT_EQ(service.provider(), "partners/counselling");

  // The page of services lists the same service in brief, without areas: left out unless a
  // default area is given.
  ASSERT_EQ(Import(list, provider_, &out), 0) << out;
  EXPECT_NE(out.find("contents[0].service_areas: "), std::string::npos) << out;
  EXPECT_NE(out.find("Published 0 services, 0 refused by the hub, 1 left out by the mapping"), std::string::npos)
      << out;
  ASSERT_EQ(Import(list, provider_, &out, {"--default-area", "AB1"}), 0) << out;
  EXPECT_NE(out.find("Published 1 services"), std::string::npos) << out;
  // Republished in place: one service, now with the default area only.
  EXPECT_EQ(Search("AB1 2CD"), std::vector<std::string>{kServiceName});
  EXPECT_TRUE(Search("AB2 4XY").empty());
}

TEST_F(DirectoryImportTest, ADryRunPublishesNothing) {
  const std::string full = Sample("hsds3-service_full.json");
  ASSERT_FALSE(full.empty());
  std::string out;
  ASSERT_EQ(Import(full, provider_, &out, {"--dry-run"}), 0) << out;
  EXPECT_NE(out.find(std::string("would publish ") + kServiceName), std::string::npos) << out;
  EXPECT_NE(out.find("nothing was sent to the hub"), std::string::npos) << out;
  EXPECT_TRUE(Search("AB2 4XY").empty());
  v1::Service service;
  EXPECT_EQ(Get(&service).error_code(), grpc::StatusCode::NOT_FOUND);
  // No hub needed for a dry run, and the flag may come before the file.
  ASSERT_EQ(Accordctl({"directory", "import", "--dry-run", full}, &out), 0) << out;
}

TEST_F(DirectoryImportTest, ABadFileOrBadUsageExitsTwo) {
  std::string out;
  const std::string missing = (scratch_.path() / "missing.json").string();
  EXPECT_EQ(Import(missing, provider_, &out), 2) << out;
  EXPECT_NE(out.find("cannot read " + missing), std::string::npos) << out;

  const std::string garbage = (scratch_.path() / "garbage.json").string();
  std::ofstream(garbage) << "this is not JSON {";
  EXPECT_EQ(Import(garbage, provider_, &out), 2) << out;
  EXPECT_NE(out.find(garbage + ": "), std::string::npos) << out;
  EXPECT_EQ(Search("AB2 4XY"), std::vector<std::string>{});

  const std::string full = Sample("hsds3-service_full.json");
  ASSERT_FALSE(full.empty());
  EXPECT_EQ(Accordctl({"directory", "import", full}, &out), 2) << out;
  EXPECT_NE(out.find("--bundle is required"), std::string::npos) << out;
  EXPECT_EQ(Import(full, provider_, &out, {"--max-level", "7"}), 2) << out;
  EXPECT_EQ(Accordctl({"directory", "export", "--bundle", provider_.string(), "--address", hub_.address()}, &out), 2)
      << out;
}

TEST_F(DirectoryImportTest, ImportingAgainRepublishesWithoutDuplicates) {
  const std::string full = Sample("hsds3-service_full.json");
  ASSERT_FALSE(full.empty());
  std::string out;
  ASSERT_EQ(Import(full, provider_, &out), 0) << out;
  v1::Service first;
  ASSERT_TRUE(Get(&first).ok());
  ASSERT_EQ(Import(full, provider_, &out, {"--max-level", "SPECIALIST"}), 0) << out;
  EXPECT_NE(out.find("Published 1 services"), std::string::npos) << out;
  EXPECT_EQ(Search("AB2 4XY"), std::vector<std::string>{kServiceName});
  v1::Service second;
  ASSERT_TRUE(Get(&second).ok());
  EXPECT_EQ(second.create_time().seconds(), first.create_time().seconds());
  EXPECT_EQ(second.eligibility().maximum_level_of_need(), v1::LEVEL_OF_NEED_SPECIALIST);

  // Another provider cannot take the service over: the hub refuses, with its error, exit 1.
  ASSERT_EQ(Import(full, other_provider_, &out), 1) << out;
  EXPECT_NE(out.find(std::string("refused ") + kServiceName + ": ALREADY_EXISTS"), std::string::npos) << out;
  EXPECT_NE(out.find("Published 0 services, 1 refused by the hub"), std::string::npos) << out;
  ASSERT_TRUE(Get(&second).ok());
  EXPECT_EQ(second.provider(), "partners/counselling");
}

TEST_F(DirectoryImportTest, AnExportImportsBackToTheSameServices) {
  const std::string full = Sample("hsds3-service_full.json");
  ASSERT_FALSE(full.empty());
  std::string out;
  ASSERT_EQ(Import(full, provider_, &out), 0) << out;
  v1::Service before;
  ASSERT_TRUE(Get(&before).ok());

  const std::string exported = (scratch_.path() / "export.json").string();
  ASSERT_EQ(Accordctl({"directory", "export", "--bundle", school_.string(), "--address", hub_.address(), "--out",
                       exported, "--postcode", "AB2 4XY"},
                      &out),
            0)
      << out;
  EXPECT_NE(out.find("Exported 1 services"), std::string::npos) << out;

  ASSERT_EQ(Import(exported, provider_, &out), 0) << out;
  EXPECT_NE(out.find("Published 1 services, 0 refused by the hub, 0 left out by the mapping"), std::string::npos)
      << out;
  EXPECT_EQ(Search("AB2 4XY"), std::vector<std::string>{kServiceName});
  v1::Service after;
  ASSERT_TRUE(Get(&after).ok());
  // The same description; only the times it was written differ.
  for (v1::Service* s : {&before, &after}) {
    s->clear_update_time();
    s->mutable_availability()->clear_update_time();
  }
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(before, after))
      << before.DebugString() << "\n---\n" << after.DebugString();
}

}  // namespace
}  // namespace accord
