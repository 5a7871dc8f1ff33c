// RFC 4180 reading and writing, status files with bad rows, and the csv_dropfolder plugin loaded
// through the real plugin ABI.
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hub/plugins/library.h"
#include "plugins/csv_dropfolder/csv_format.h"

namespace accord::csv_dropfolder {
namespace {

namespace fs = std::filesystem;
using plugins::Call;
using plugin::v1::Method;

TEST(CsvFormatTest, ReadsQuotedFieldsAcrossLinesAndCountsLines) {
  CsvTable t = ParseCsv(
      "\xEF\xBB\xBF"
      "a,b,c\r\n\"x, y\",\"say \"\"hi\"\"\",\"two\nlines\"\r\n\r\nlast,,\n");
  EXPECT_TRUE(t.errors.empty());
  ASSERT_EQ(t.records.size(), 3u);
  EXPECT_EQ(t.records[0].fields, (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(t.records[1].fields, (std::vector<std::string>{"x, y", "say \"hi\"", "two\nlines"}));
  EXPECT_EQ(t.records[1].line, 2);
  EXPECT_EQ(t.records[2].line, 5);
  EXPECT_EQ(t.records[2].fields, (std::vector<std::string>{"last", "", ""}));
}

TEST(CsvFormatTest, AMalformedRecordIsAnErrorAtItsLineAndReadingGoesOn) {
  CsvTable t = ParseCsv("id,status\nr1,acc\"epted\nr2,\"declined\"x\nr3,accepted\nr4,\"never closed\nr5,x\n");
  ASSERT_EQ(t.records.size(), 2u);
  EXPECT_EQ(t.records[1].fields[0], "r3");
  ASSERT_EQ(t.errors.size(), 3u);
  EXPECT_EQ(t.errors[0].line, 2);
  EXPECT_EQ(t.errors[0].raw, "r1,acc\"epted");
  EXPECT_NE(t.errors[0].message.find("a quote inside an unquoted field"), std::string::npos);
  EXPECT_EQ(t.errors[1].line, 3);
  EXPECT_NE(t.errors[1].message.find("text after a closing quote"), std::string::npos);
  EXPECT_EQ(t.errors[2].line, 5);
  EXPECT_NE(t.errors[2].message.find("not closed"), std::string::npos);
}

TEST(CsvFormatTest, WritingQuotesWhatNeedsItAndDisarmsFormulas) {
  EXPECT_EQ(CsvLine({"plain", "a,b", "say \"hi\"", "two\nlines", "=HYPERLINK(\"x\")", ""}),
            "plain,\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\",\"'=HYPERLINK(\"\"x\"\")\",\r\n");
}

TEST(CsvFormatTest, WhatIsWrittenReadsBackTheSame) {
  std::mt19937 rng(8);
  const std::string alphabet = "ab ,\"\r\n\xC3\xA9;x";
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> fields(1 + rng() % 5);
    for (auto& f : fields) {
      const size_t len = rng() % 8;
      for (size_t k = 0; k < len; ++k) f.push_back(alphabet[rng() % alphabet.size()]);
    }
    CsvTable t = ParseCsv(CsvLine(fields));
    ASSERT_TRUE(t.errors.empty()) << CsvLine(fields);
    if (fields.size() == 1 && fields[0].empty()) {
      EXPECT_TRUE(t.records.empty());
      continue;
    }
    ASSERT_EQ(t.records.size(), 1u) << CsvLine(fields);
    EXPECT_EQ(t.records[0].fields, fields);
  }
}

TEST(CsvFormatTest, StatusRowsAreUsedWholeOrRejectedWithTheirLineNumbers) {
  StatusFile f = ReadStatusCsv(
      "Status,Referral_ID,Reason,changed_at\r\n"
      "Accepted,r-1,\"Starts Monday, 10am\",2025-05-01\r\n"
      "declined,referrals/r-2,Out of area,\r\n"
      "maybe,r-3,,\r\n"
      "accepted,,,\r\n"
      "accepted,r-5,too,many,fields\r\n"
      "closed,r-6,,yesterday\r\n"
      "accepted,../etc,,\r\n"
      "waitlisted,r-8,\"cut sh");
  ASSERT_EQ(f.changes.size(), 2u);
  EXPECT_EQ(f.changes[0].referral(), "referrals/r-1");
  EXPECT_EQ(f.changes[0].state(), accord::v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(f.changes[0].reason(), "Starts Monday, 10am");
  EXPECT_EQ(f.changes[0].time().seconds(), 1746057600);
  EXPECT_EQ(f.changes[1].referral(), "referrals/r-2");
  EXPECT_EQ(f.changes[1].state(), accord::v1::REFERRAL_STATE_DECLINED);
  ASSERT_EQ(f.rejected.size(), 6u);
  EXPECT_EQ(f.rejected[0].line, 4);
  EXPECT_NE(f.rejected[0].message.find("status \"maybe\""), std::string::npos);
  EXPECT_EQ(f.rejected[1].line, 5);
  EXPECT_NE(f.rejected[1].message.find("referral_id \"\""), std::string::npos);
  EXPECT_EQ(f.rejected[2].line, 6);
  EXPECT_NE(f.rejected[2].message.find("has 5 fields; the header has 4"), std::string::npos);
  EXPECT_EQ(f.rejected[3].line, 7);
  EXPECT_NE(f.rejected[3].message.find("changed_at \"yesterday\""), std::string::npos);
  EXPECT_EQ(f.rejected[4].line, 8);
  EXPECT_EQ(f.rejected[5].line, 9);
  EXPECT_NE(f.rejected[5].message.find("not closed"), std::string::npos);
}

TEST(CsvFormatTest, ALastRowWithoutALineBreakIsNotTrusted) {
  StatusFile f = ReadStatusCsv("referral_id,status,reason\nr-1,accepted,ok\nr-2,declined,Out of ar");
  ASSERT_EQ(f.changes.size(), 1u);
  ASSERT_EQ(f.rejected.size(), 1u);
  EXPECT_EQ(f.rejected[0].line, 3);
  EXPECT_NE(f.rejected[0].message.find("cut short"), std::string::npos);
}

TEST(CsvFormatTest, AFileWithoutTheHeaderIsRejectedRowByRow) {
  StatusFile f = ReadStatusCsv("r-1,accepted,ok\nr-2,declined,no\n");
  EXPECT_TRUE(f.changes.empty());
  ASSERT_EQ(f.rejected.size(), 2u);
  EXPECT_NE(f.rejected[0].message.find("the header must name the columns referral_id and status"), std::string::npos);
  EXPECT_EQ(f.rejected[1].line, 2);
}

TEST(CsvFormatTest, AHugeStatusFileIsReadWholeWithItsBadRowsNamed) {
  std::string text = "referral_id,status,reason\r\n";
  constexpr int kRows = 200000;
  for (int i = 0; i < kRows; ++i) {
    absl::StrAppend(&text, "r-", i, ",", i % 1000 == 999 ? "unsure" : "accepted", ",\"Row ", i, ", fine\"\r\n");
  }
  StatusFile f = ReadStatusCsv(text);
  EXPECT_EQ(f.changes.size(), static_cast<size_t>(kRows - kRows / 1000));
  ASSERT_EQ(f.rejected.size(), static_cast<size_t>(kRows / 1000));
  EXPECT_EQ(f.rejected[0].line, 1001);  // r-999, after the header
  EXPECT_EQ(f.rejected.back().line, kRows + 1);
}

accord::v1::Referral SampleReferral(const std::string& id) {
  accord::v1::Referral r;
  r.set_name("referrals/" + id);
  r.set_service("services/mentoring-plus");
  r.set_referrer("partners/oakfield-primary");
  r.set_subject("subjects/s-1");
  auto* need = r.add_needs();
  need->set_type(accord::v1::NEED_TYPE_SOCIAL_ISOLATION);
  need->set_level(accord::v1::LEVEL_OF_NEED_ADDITIONAL);
  need = r.add_needs();
  need->set_type(accord::v1::NEED_TYPE_LOW_MOOD);
  need->set_level(accord::v1::LEVEL_OF_NEED_ADDITIONAL);
  r.set_background("Quiet since the move, \"no friends yet\".\nMum asks for a mentor.");
  r.set_urgency(accord::v1::URGENCY_ROUTINE);
  r.set_consent("consents/c-9");
  r.add_data_categories(accord::v1::DATA_CATEGORY_IDENTITY);
  return r;
}

TEST(CsvFormatTest, AReferralIsAHeaderAndOneRowOfItsOwnFields) {
  CsvTable t = ParseCsv(ReferralCsv(SampleReferral("r-42")));
  ASSERT_TRUE(t.errors.empty());
  ASSERT_EQ(t.records.size(), 2u);
  std::map<std::string, std::string> row;
  for (size_t k = 0; k < t.records[0].fields.size(); ++k) row[t.records[0].fields[k]] = t.records[1].fields[k];
  EXPECT_EQ(row["referral_id"], "r-42");
  EXPECT_EQ(row["needs"], "SOCIAL_ISOLATION:2;LOW_MOOD:2");
  EXPECT_EQ(row["background"], "Quiet since the move, \"no friends yet\".\nMum asks for a mentor.");
  EXPECT_EQ(row["urgency"], "ROUTINE");
  EXPECT_EQ(row["data_categories"], "IDENTITY");
  EXPECT_EQ(row["lawful_basis"], "");
  EXPECT_EQ(row["given_name"], "");  // who the child is travels only with IDENTITY

  accord::v1::Demographics child;
  child.set_given_name("Sam");
  child.set_family_name("O'Neill, Jr");
  accord::v1::SubjectIdentifiers ids;
  ids.set_upn("B801200005001");
  t = ParseCsv(ReferralCsv(SampleReferral("r-43"), child, ids));
  ASSERT_TRUE(t.errors.empty());
  row.clear();
  for (size_t k = 0; k < t.records[0].fields.size(); ++k) row[t.records[0].fields[k]] = t.records[1].fields[k];
  EXPECT_EQ(row["family_name"], "O'Neill, Jr");
  EXPECT_EQ(row["upn"], "B801200005001");
}

// ---- the plugin, through the ABI

class CsvDropfolderPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / absl::StrCat("accord-csv-", getpid(), "-", reinterpret_cast<uintptr_t>(this));
    fs::create_directories(root_ / "out");
    fs::create_directories(root_ / "in");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& path, const std::string& content) {
    std::ofstream(root_ / path, std::ios::binary) << content;
  }
  std::string Read(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

  std::unique_ptr<plugins::LoadedAdapter> Load(const std::string& extra = "") {
    auto library =
        plugins::PluginLibrary::Load(ACCORD_CSV_DROPFOLDER_PLUGIN, *plugins::FileSha256(ACCORD_CSV_DROPFOLDER_PLUGIN));
    EXPECT_TRUE(library.ok()) << library.status();
    if (!library.ok()) return nullptr;
    auto adapter = plugins::LoadedAdapter::Create(
        *library, absl::StrCat(R"({"outboundFolder": ")", (root_ / "out").string(), R"(", "inboundFolder": ")",
                               (root_ / "in").string(), "\"", extra, "}"));
    EXPECT_TRUE(adapter.ok()) << adapter.status();
    return adapter.ok() ? std::move(*adapter) : nullptr;
  }


  fs::path root_;
};

TEST_F(CsvDropfolderPluginTest, DeliversEachReferralOnceAsAWholeFile) {
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  EXPECT_EQ(adapter->description().capabilities_size(), 2);
  plugin::v1::DeliverReferralRequest deliver;
  *deliver.mutable_referral() = SampleReferral("r-42");
  auto first = Call<plugin::v1::DeliverReferralResponse>(*adapter, plugin::v1::METHOD_DELIVER_REFERRAL, deliver);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->external_id(), "referral-r-42.csv");
  const fs::path file = root_ / "out" / "referral-r-42.csv";
  const std::string written = Read(file);
  EXPECT_EQ(written, ReferralCsv(SampleReferral("r-42")));
  deliver.mutable_referral()->set_background("a retry with other words");
  auto again = Call<plugin::v1::DeliverReferralResponse>(*adapter, plugin::v1::METHOD_DELIVER_REFERRAL, deliver);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->external_id(), first->external_id());
  EXPECT_EQ(Read(file), written);
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "out"), fs::directory_iterator()), 1);  // no temp files
  deliver.mutable_referral()->set_name("r-42");
  EXPECT_EQ(
      Call<plugin::v1::DeliverReferralResponse>(*adapter, plugin::v1::METHOD_DELIVER_REFERRAL, deliver).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(CsvDropfolderPluginTest, CanStartFilesWithAByteOrderMarkForSpreadsheets) {
  auto adapter = Load(R"(, "utf8Bom": true)");
  ASSERT_NE(adapter, nullptr);
  plugin::v1::DeliverReferralRequest deliver;
  *deliver.mutable_referral() = SampleReferral("r-43");
  ASSERT_TRUE(Call<plugin::v1::DeliverReferralResponse>(*adapter, plugin::v1::METHOD_DELIVER_REFERRAL, deliver).ok());
  EXPECT_EQ(Read(root_ / "out" / "referral-r-43.csv").substr(0, 3), "\xEF\xBB\xBF");
}

TEST_F(CsvDropfolderPluginTest, DecisionsComeBackAndBadRowsAreQuarantinedWithLineNumbers) {
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  Write("in/2025-05-01.csv",
        "referral_id,status,reason\r\nr-42,accepted,Mentor found\r\nr-43,maybe,\r\n"
        "r-44,\"declined\"!,x\r\nr-45,declined,No capacity\r\n");
  Write("in/.2025-05-02.csv", "referral_id,status\r\nr-46,accepted\r\n");  // still being written
  plugin::v1::PollStatusChangesRequest poll;
  auto changes = Call<plugin::v1::PollStatusChangesResponse>(*adapter, plugin::v1::METHOD_POLL_STATUS_CHANGES, poll);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->changes_size(), 2);
  EXPECT_EQ(changes->changes(0).referral(), "referrals/r-42");
  EXPECT_EQ(changes->changes(0).state(), accord::v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(changes->changes(0).reason(), "Mentor found");
  EXPECT_EQ(changes->changes(1).referral(), "referrals/r-45");
  EXPECT_EQ(changes->next_cursor(), "2025-05-01.csv");

  CsvTable quarantined = ParseCsv(Read(root_ / "in" / "quarantine" / "2025-05-01.csv.rejected.csv"));
  ASSERT_EQ(quarantined.records.size(), 3u);
  EXPECT_EQ(quarantined.records[1].fields[0], "3");
  EXPECT_EQ(quarantined.records[1].fields[2], "r-43,maybe,");
  EXPECT_EQ(quarantined.records[2].fields[0], "4");
  EXPECT_EQ(quarantined.records[2].fields[2], "r-44,\"declined\"!,x");

  auto health = Call<plugin::v1::HealthResponse>(*adapter, plugin::v1::METHOD_HEALTH, plugin::v1::HealthRequest());
  ASSERT_TRUE(health.ok());
  EXPECT_NE(health->detail().find("2025-05-01.csv:4: text after a closing quote"), std::string::npos)
      << health->detail();

  // The cursor moves on: nothing again until a new file lands.
  poll.set_cursor(changes->next_cursor());
  changes = Call<plugin::v1::PollStatusChangesResponse>(*adapter, plugin::v1::METHOD_POLL_STATUS_CHANGES, poll);
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->changes_size(), 0);
  fs::rename(root_ / "in" / ".2025-05-02.csv", root_ / "in" / "2025-05-02.csv");
  changes = Call<plugin::v1::PollStatusChangesResponse>(*adapter, plugin::v1::METHOD_POLL_STATUS_CHANGES, poll);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->changes_size(), 1);
  EXPECT_EQ(changes->changes(0).referral(), "referrals/r-46");
  EXPECT_EQ(changes->next_cursor(), "2025-05-02.csv");
}

TEST_F(CsvDropfolderPluginTest, AnOversizedFileIsSetAsideUnread) {
  auto adapter = Load(R"(, "maxFileBytes": 40)");
  ASSERT_NE(adapter, nullptr);
  Write("in/big.csv", "referral_id,status,reason\r\nr-1,accepted,a long enough reason\r\n");
  auto changes = Call<plugin::v1::PollStatusChangesResponse>(*adapter, plugin::v1::METHOD_POLL_STATUS_CHANGES,
                                                             plugin::v1::PollStatusChangesRequest());
  ASSERT_TRUE(changes.ok());
  EXPECT_EQ(changes->changes_size(), 0);
  EXPECT_EQ(changes->next_cursor(), "big.csv");
  EXPECT_NE(Read(root_ / "in" / "quarantine" / "big.csv.rejected.csv").find("over max_file_bytes"), std::string::npos);
}

}  // namespace
}  // namespace accord::csv_dropfolder
