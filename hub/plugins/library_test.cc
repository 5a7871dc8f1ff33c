// Loading real plugin libraries in this process: pins, ABI versions, configuration, calls, and a
// plugin that throws.
#include "hub/plugins/library.h"

#include <fstream>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "google/protobuf/util/json_util.h"

namespace accord::plugins {
namespace {

const std::filesystem::path kFixture = ACCORD_FIXTURE_PLUGIN;
const std::filesystem::path kWrongAbi = ACCORD_WRONG_ABI_PLUGIN;
const std::filesystem::path kNotAPlugin = ACCORD_NOT_A_PLUGIN;

constexpr const char* kConfig = R"({
  "people": [{
    "localId": "P-1", "nhsNumber": "9434765919", "givenName": "Jordan", "familyName": "Price",
    "birthDate": "2013-04-02",
    "records": [
      {"dataCategory": "DATA_CATEGORY_IDENTITY", "identity": {"givenName": "Jordan", "familyName": "Price"}},
      {"dataCategory": "DATA_CATEGORY_ATTENDANCE", "attendance": {"period": "2025/26 autumn", "sessionsPossible": 140, "sessionsAttended": 121}}
    ]
  }]
})";

std::string Sha(const std::filesystem::path& file) { return *FileSha256(file); }

std::unique_ptr<LoadedAdapter> Load(const std::string& config) {
  auto library = PluginLibrary::Load(kFixture, Sha(kFixture));
  EXPECT_TRUE(library.ok()) << library.status();
  auto adapter = LoadedAdapter::Create(*library, config);
  EXPECT_TRUE(adapter.ok()) << adapter.status();
  return adapter.ok() ? std::move(*adapter) : nullptr;
}

TEST(PluginLibraryTest, Sha256OfAFile) {
  std::filesystem::path file = std::filesystem::temp_directory_path() / "accord-sha-test.txt";
  std::ofstream(file) << "abc";
  EXPECT_EQ(*FileSha256(file), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  std::filesystem::remove(file);
  EXPECT_EQ(FileSha256(file).status().code(), absl::StatusCode::kNotFound);
}

TEST(PluginLibraryTest, RefusesAFileThatDoesNotMatchItsPin) {
  std::string wrong(64, '0');
  auto library = PluginLibrary::Load(kFixture, wrong);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(library.status().message().find("the configuration pins " + wrong), std::string::npos)
      << library.status();
}

TEST(PluginLibraryTest, RefusesAnotherAbiVersionBeforeCallingAnythingElse) {
  // The plugin's accord_plugin_api aborts: reaching it would kill this test.
  auto library = PluginLibrary::Load(kWrongAbi, Sha(kWrongAbi));
  ASSERT_EQ(library.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(library.status().message().find("plugin ABI version 42, this hub speaks 1"), std::string::npos)
      << library.status();
}

TEST(PluginLibraryTest, RefusesALibraryThatIsNotAPlugin) {
  auto library = PluginLibrary::Load(kNotAPlugin, Sha(kNotAPlugin));
  ASSERT_EQ(library.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(library.status().message().find("not an Accord plugin"), std::string::npos) << library.status();
}

TEST(PluginLibraryTest, RefusesAFileThatDoesNotLoad) {
  std::filesystem::path file = std::filesystem::temp_directory_path() / "accord-not-elf.so";
  std::ofstream(file) << "not a shared library";
  auto library = PluginLibrary::Load(file, Sha(file));
  std::filesystem::remove(file);
  ASSERT_EQ(library.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(library.status().message().find("does not load"), std::string::npos) << library.status();
}

TEST(PluginLibraryTest, ConfigurationIsParsedIntoTheDeclaredMessageStrictly) {
  auto library = PluginLibrary::Load(kFixture, Sha(kFixture));
  ASSERT_TRUE(library.ok());
  auto adapter = LoadedAdapter::Create(*library, R"({"people": [], "colour": "blue"})");
  ASSERT_EQ(adapter.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(adapter.status().message().find("accord.test.v1.FixtureConfig"), std::string::npos) << adapter.status();
  EXPECT_NE(adapter.status().message().find("colour"), std::string::npos) << adapter.status();
  // The plugin's own check, reported with its status code.
  adapter = LoadedAdapter::Create(*library, R"({"people": [{"givenName": "No id"}]})");
  EXPECT_EQ(adapter.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(adapter.status().message().find("people.local_id is required"), std::string::npos) << adapter.status();
}

TEST(PluginLibraryTest, DescribesItselfAndServesTypedCalls) {
  std::unique_ptr<LoadedAdapter> adapter = Load(kConfig);
  ASSERT_TRUE(adapter);
  EXPECT_EQ(adapter->description().name(), "fixture");
  EXPECT_EQ(adapter->description().config_type(), "accord.test.v1.FixtureConfig");
  EXPECT_EQ(adapter->description().data_categories_size(), 2);

  plugin::v1::FetchRecordsRequest req;
  req.set_local_id("P-1");
  req.add_data_categories(v1::DATA_CATEGORY_ATTENDANCE);
  auto bytes = adapter->Call(plugin::v1::METHOD_FETCH_RECORDS, req.SerializeAsString());
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  plugin::v1::FetchRecordsResponse resp;
  ASSERT_TRUE(resp.ParseFromString(*bytes));
  ASSERT_EQ(resp.records_size(), 1);
  EXPECT_EQ(resp.records(0).attendance().sessions_attended(), 121);

  req.set_local_id("P-404");
  EXPECT_EQ(adapter->Call(plugin::v1::METHOD_FETCH_RECORDS, req.SerializeAsString()).status().code(),
            absl::StatusCode::kNotFound);
  EXPECT_EQ(adapter->Call(plugin::v1::METHOD_FETCH_RECORDS, "\xff\xff\xff").status().code(),
            absl::StatusCode::kInvalidArgument);
  // Not offered by this adapter, and not a method at all.
  EXPECT_EQ(adapter->Call(plugin::v1::METHOD_DELIVER_REFERRAL, "").status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_EQ(adapter->Call(static_cast<plugin::v1::Method>(77), "").status().code(), absl::StatusCode::kUnimplemented);
}

TEST(PluginLibraryTest, AnExceptionInsideThePluginBecomesInternal) {
  std::unique_ptr<LoadedAdapter> adapter = Load(R"({"fault": "FAULT_THROW_ON_FETCH", "people": [{"localId": "P-1"}]})");
  ASSERT_TRUE(adapter);
  plugin::v1::FetchRecordsRequest req;
  req.set_local_id("P-1");
  auto bytes = adapter->Call(plugin::v1::METHOD_FETCH_RECORDS, req.SerializeAsString());
  ASSERT_EQ(bytes.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(bytes.status().message().find("the plugin threw: the MIS database connection was reset"),
            std::string::npos)
      << bytes.status();
}

TEST(PluginLibraryTest, TheTemplatePluginTakesEachReferralOnce) {
  const std::filesystem::path plugin = ACCORD_TEMPLATE_PLUGIN;
  auto library = PluginLibrary::Load(plugin, Sha(plugin));
  ASSERT_TRUE(library.ok()) << library.status();
  EXPECT_EQ(LoadedAdapter::Create(*library, R"({"inboxFolder": "/no/such/folder"})").status().code(),
            absl::StatusCode::kInvalidArgument);

  std::filesystem::path inbox = std::filesystem::temp_directory_path() / "accord-template-inbox";
  std::filesystem::remove_all(inbox);
  std::filesystem::create_directories(inbox);
  auto adapter = LoadedAdapter::Create(*library, absl::StrCat(R"({"inboxFolder": ")", inbox.string(), R"("})"));
  ASSERT_TRUE(adapter.ok()) << adapter.status();
  EXPECT_EQ((*adapter)->description().name(), "template_folder_inbox");

  plugin::v1::DeliverReferralRequest req;
  req.mutable_referral()->set_name("referrals/r-17");
  req.mutable_referral()->set_background("Anxious about school; mum asked for help");
  for (int attempt = 0; attempt < 2; ++attempt) {
    auto bytes = (*adapter)->Call(plugin::v1::METHOD_DELIVER_REFERRAL, req.SerializeAsString());
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    plugin::v1::DeliverReferralResponse resp;
    ASSERT_TRUE(resp.ParseFromString(*bytes));
    EXPECT_EQ(resp.external_id(), "r-17");
  }
  int files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(inbox)) {
    ++files;
    EXPECT_EQ(entry.path().filename(), "r-17.json");
  }
  EXPECT_EQ(files, 1);
  req.mutable_referral()->set_name("referrals/../../etc");
  EXPECT_EQ((*adapter)->Call(plugin::v1::METHOD_DELIVER_REFERRAL, req.SerializeAsString()).status().code(),
            absl::StatusCode::kInvalidArgument);
  std::filesystem::remove_all(inbox);
}

}  // namespace
}  // namespace accord::plugins
