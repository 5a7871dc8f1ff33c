// The CTF parser on generated files, clean and messy, and the ctf_school plugin loaded through the
// real plugin ABI.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "gtest/gtest.h"
#include "hub/plugins/library.h"
#include "plugins/ctf_school/ctf_parser.h"

namespace accord::ctf_school {
namespace {

namespace fs = std::filesystem;
using plugins::Call;
using plugin::v1::Method;

// A valid UPN with the check letter computed from 12 characters (digits, or 11 digits and a letter).
std::string Upn(const std::string& rest) {
  static const std::string kAlphabet = "ABCDEFGHJKLMNPQRTUVWXYZ";
  int sum = 0;
  for (size_t i = 0; i < 12; ++i) {
    const char c = rest[i];
    const int value = (c >= '0' && c <= '9') ? c - '0' : static_cast<int>(kAlphabet.find(c));
    sum += value * static_cast<int>(i + 2);
  }
  return kAlphabet[sum % 23] + rest;
}

struct PupilSpec {
  std::string upn;
  std::string surname = "Price";
  std::string forename = "Jordan";
  std::string dob = "2013-04-02";
  std::string sex_element = "Sex";
  std::string sex = "M";
  std::string year = "7";
  bool sen = true;
  bool attendance = true;
  bool address = true;
};

std::string PupilXml(const PupilSpec& p) {
  std::string x = absl::StrCat("<Pupil><UPN>", p.upn, "</UPN><UniqueLearnerNumber/><UCI>X12345678</UCI>", "<Surname>",
                               p.surname, "</Surname><Forename>", p.forename, "</Forename>", "<DOB>", p.dob, "</DOB>");
  if (!p.sex_element.empty()) absl::StrAppend(&x, "<", p.sex_element, ">", p.sex, "</", p.sex_element, ">");
  absl::StrAppend(&x, "<BasicDetails><MiddleNames/><PreferredSurname>", p.surname, "</PreferredSurname><NCyearActual>",
                  p.year, "</NCyearActual><Ethnicity>WBRI</Ethnicity>", "</BasicDetails>");
  if (p.sen) {
    absl::StrAppend(&x, "<SENhistory><SEN><StartDate>2021-09-01</StartDate><SENprovision>K</SENprovision></SEN>",
                    "<SEN><StartDate>2023-01-10</StartDate><SENprovision>E</SENprovision></SEN>",
                    "<SENneeds><SENneed><SENtypeRank>2</SENtypeRank><SENtype>SLCN</SENtype></SENneed>",
                    "<SENneed><SENtypeRank>1</SENtypeRank><SENtype>SEMH</SENtype></SENneed></SENneeds></SENhistory>");
  }
  if (p.address) {
    absl::StrAppend(&x, "<Address><BS7666Address><PAON>14</PAON><Street>Mill Lane</Street><Town>Leeds</Town>",
                    "</BS7666Address><PostCode>LS6 2AB</PostCode></Address>");
  }
  if (p.attendance) {
    absl::StrAppend(&x, "<Attendance><YearData><Year>2024</Year><SessionsPossible>380</SessionsPossible>",
                    "<SessionsAuthorised>20</SessionsAuthorised><SessionsUnauthorised>12</SessionsUnauthorised>",
                    "<AttendanceStartDate>2024-09-04</AttendanceStartDate></YearData></Attendance>");
  }
  absl::StrAppend(&x, "<SchoolHistory><School><LEA>383</LEA><Estab>2001</Estab><SchoolName>Oakfield Primary",
                  "</SchoolName><EntryDate>2019-09-03</EntryDate></School></SchoolHistory></Pupil>");
  return x;
}

std::string Ctf(const std::string& pupils, const std::string& lea = "383",
                const std::string& date_time = "2025-07-10T10:00:00",
                const std::string& declaration = R"(<?xml version="1.0" encoding="UTF-8"?>)") {
  return absl::StrCat(declaration, "<CTfile><Header><DocumentName>Common Transfer File</DocumentName>",
                      "<CTFversion>25.0</CTFversion><DateTime>", date_time, "</DateTime>",
                      "<DocumentQualifier>full</DocumentQualifier><SupplierID>SIMS</SupplierID>", "<SourceSchool><LEA>",
                      lea, "</LEA><Estab>2001</Estab><URN>107000</URN>",
                      "<SchoolName>Oakfield Primary</SchoolName><AcademicYear>2024</AcademicYear></SourceSchool>",
                      "<DestSchool><LEA>383</LEA><Estab>4005</Estab></DestSchool></Header><CTFpupilData>", pupils,
                      "</CTFpupilData></CTfile>");
}

bool Mentions(const std::vector<std::string>& problems, const std::string& text) {
  for (const auto& p : problems) {
    if (p.find(text) != std::string::npos) return true;
  }
  return false;
}

const std::string kJordan = "B801200005001";  // published example UPN

TEST(CtfParserTest, ReadsEveryFieldOfAPupil) {
  CtfFile f = ParseCtf(Ctf(PupilXml({.upn = kJordan})), "export.xml");
  ASSERT_EQ(f.pupils.size(), 1u);
  EXPECT_TRUE(f.problems.empty()) << f.problems.front();
  const CtfPupil& p = f.pupils[0];
  EXPECT_EQ(p.identity.upn(), kJordan);
  EXPECT_EQ(p.identity.family_name(), "Price");
  EXPECT_EQ(p.identity.given_name(), "Jordan");
  EXPECT_EQ(p.identity.birth_date(), "2013-04-02");
  EXPECT_EQ(p.identity.gender(), "male");
  ASSERT_EQ(p.identity.address_lines_size(), 2);
  EXPECT_EQ(p.identity.address_lines(0), "14 Mill Lane");
  EXPECT_EQ(p.identity.postcode(), "LS6 2AB");
  EXPECT_EQ(p.education.school_id(), "3832001");
  EXPECT_EQ(p.education.school_name(), "Oakfield Primary");
  EXPECT_EQ(p.education.year_group(), "7");
  EXPECT_EQ(p.education.entry_date(), "2019-09-03");
  ASSERT_EQ(p.sen.size(), 2u);
  EXPECT_EQ(p.sen[1].provision(), "E");
  EXPECT_EQ(p.sen[1].start_date(), "2023-01-10");
  ASSERT_EQ(p.sen[1].needs_size(), 2);
  EXPECT_EQ(p.sen[1].needs(0), "SEMH");  // by rank
  ASSERT_EQ(p.attendance.size(), 1u);
  EXPECT_EQ(p.attendance[0].period(), "2024/25");
  EXPECT_EQ(p.attendance[0].sessions_possible(), 380);
  EXPECT_EQ(p.attendance[0].sessions_attended(), 348);
  EXPECT_EQ(p.attendance[0].sessions_unauthorised_absence(), 12);
}

TEST(CtfParserTest, OlderFilesSayGenderAndMissingSectionsAreEmpty) {
  CtfFile f = ParseCtf(
      Ctf(PupilXml(
          {.upn = kJordan, .sex_element = "Gender", .sex = "F", .sen = false, .attendance = false, .address = false})),
      "old.xml");
  ASSERT_EQ(f.pupils.size(), 1u);
  EXPECT_EQ(f.pupils[0].identity.gender(), "female");
  EXPECT_TRUE(f.pupils[0].sen.empty());
  EXPECT_TRUE(f.pupils[0].attendance.empty());
  EXPECT_EQ(f.pupils[0].identity.address_lines_size(), 0);
}

TEST(CtfParserTest, PlaceholderLeaGivesTheEstablishmentAloneAndSaysSo) {
  CtfFile f = ParseCtf(Ctf(PupilXml({.upn = kJordan}), "XXX"), "placeholder.xml");
  ASSERT_EQ(f.pupils.size(), 1u);
  EXPECT_EQ(f.pupils[0].education.school_id(), "2001");
  EXPECT_TRUE(Mentions(f.problems, "placeholder.xml: SourceSchool LEA \"XXX\"")) << f.problems.size();
}

TEST(CtfParserTest, BadPupilsAreReportedOneByOneAndTheRestServed) {
  const std::string second = Upn("801200005002");
  std::string pupils = PupilXml({.upn = kJordan}) + PupilXml({.upn = "A801200005001"}) +  // wrong check letter
                       PupilXml({.upn = ""}) + PupilXml({.upn = kJordan, .forename = "Copy"}) +
                       PupilXml({.upn = second, .surname = "Okafor", .dob = "31/02/2012"});
  CtfFile f = ParseCtf(Ctf(pupils), "mixed.xml");
  ASSERT_EQ(f.pupils.size(), 2u);
  EXPECT_EQ(f.pupils[0].identity.given_name(), "Jordan");
  EXPECT_EQ(f.pupils[1].identity.family_name(), "Okafor");
  EXPECT_EQ(f.pupils[1].identity.birth_date(), "");
  EXPECT_TRUE(Mentions(f.problems, "mixed.xml: pupil 2 (UPN A801200005001): UPN fails its check letter"));
  EXPECT_TRUE(Mentions(f.problems, "mixed.xml: pupil 3: no UPN"));
  EXPECT_TRUE(Mentions(f.problems, "pupil 4 (UPN B801200005001): the same UPN appears earlier"));
  EXPECT_TRUE(Mentions(f.problems, "DOB \"31/02/2012\" is not a date"));
}

TEST(CtfParserTest, InconsistentAttendanceAndUnknownSenCodesLeaveOutOnlyThatEntry) {
  std::string pupil = PupilXml({.upn = kJordan});
  pupil.replace(pupil.find("<SessionsAuthorised>20"), 22, "<SessionsAuthorised>900");
  pupil.replace(pupil.find("<SENprovision>K"), 15, "<SENprovision>Q");
  CtfFile f = ParseCtf(Ctf(pupil), "counts.xml");
  ASSERT_EQ(f.pupils.size(), 1u);
  EXPECT_TRUE(f.pupils[0].attendance.empty());
  EXPECT_EQ(f.pupils[0].sen.size(), 1u);
  EXPECT_TRUE(Mentions(f.problems, "inconsistent session counts"));
  EXPECT_TRUE(Mentions(f.problems, "SEN provision \"Q\" is not a DfE code"));
}

TEST(CtfParserTest, AWrongEncodingDeclarationDoesNotGarbleNames) {
  // Declared ISO-8859-1, written in UTF-8 (as some exports do): read as UTF-8.
  CtfFile a = ParseCtf(Ctf(PupilXml({.upn = kJordan, .forename = "Zoë"}), "383", "2025-07-10T10:00:00",
                           R"(<?xml version="1.0" encoding="ISO-8859-1"?>)"),
                       "declared-latin1.xml");
  ASSERT_EQ(a.pupils.size(), 1u);
  EXPECT_EQ(a.pupils[0].identity.given_name(), "Zoë");
  // Declared UTF-8, written in Windows-1252: read as Windows-1252, and reported.
  CtfFile b = ParseCtf(Ctf(PupilXml({.upn = kJordan, .forename = "Zo\xEB"})), "cp1252.xml");
  ASSERT_EQ(b.pupils.size(), 1u);
  EXPECT_EQ(b.pupils[0].identity.given_name(), "Zoë");
  EXPECT_TRUE(Mentions(b.problems, "cp1252.xml: not valid UTF-8"));
}

TEST(CtfParserTest, NotXmlOrNotACtfIsOneProblemAndNoPupils) {
  CtfFile a = ParseCtf("UPN,Surname\nB801200005001,Price\n", "pupils.csv.xml");
  EXPECT_TRUE(a.pupils.empty());
  EXPECT_TRUE(Mentions(a.problems, "pupils.csv.xml: not a readable XML document"));
  CtfFile b = ParseCtf(Ctf(PupilXml({.upn = kJordan})).substr(0, 600), "truncated.xml");
  EXPECT_TRUE(b.pupils.empty());
  EXPECT_EQ(b.problems.size(), 1u);
  CtfFile c = ParseCtf("<Other/>", "other.xml");
  EXPECT_TRUE(Mentions(c.problems, "no CTfile element"));
}

TEST(CtfParserTest, AHugeFileIsReadWhole) {
  std::string pupils;
  constexpr int kPupils = 20000;
  pupils.reserve(kPupils * 1400);
  for (int i = 0; i < kPupils; ++i) pupils += PupilXml({.upn = Upn(absl::StrFormat("38320%07d", i))});
  const std::string xml = Ctf(pupils);
  ASSERT_GT(xml.size(), 20u << 20);
  CtfFile f = ParseCtf(xml, "big.xml");
  EXPECT_EQ(f.pupils.size(), static_cast<size_t>(kPupils));
  EXPECT_TRUE(f.problems.empty());
}

// ---- the plugin, through the ABI

class CtfSchoolPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    folder_ = fs::temp_directory_path() / absl::StrCat("accord-ctf-", ::testing::UnitTest::GetInstance()->random_seed(),
                                                       "-", reinterpret_cast<uintptr_t>(this));
    fs::create_directories(folder_);
  }
  void TearDown() override { fs::remove_all(folder_); }

  void Write(const std::string& name, const std::string& content) { std::ofstream(folder_ / name) << content; }

  std::unique_ptr<plugins::LoadedAdapter> Load(std::string config = "") {
    if (config.empty()) config = absl::StrCat(R"({"ctfFolder": ")", folder_.string(), R"("})");
    auto library =
        plugins::PluginLibrary::Load(ACCORD_CTF_SCHOOL_PLUGIN, *plugins::FileSha256(ACCORD_CTF_SCHOOL_PLUGIN));
    EXPECT_TRUE(library.ok()) << library.status();
    if (!library.ok()) return nullptr;
    auto adapter = plugins::LoadedAdapter::Create(*library, config);
    EXPECT_TRUE(adapter.ok()) << adapter.status();
    return adapter.ok() ? std::move(*adapter) : nullptr;
  }


  fs::path folder_;
};

TEST_F(CtfSchoolPluginTest, DescribesItsCategories) {
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  EXPECT_EQ(adapter->description().name(), "ctf_school");
  EXPECT_EQ(adapter->description().data_categories_size(), 4);
  EXPECT_EQ(adapter->description().config_type(), "accord.ctf_school.v1.CtfSchoolConfig");
}

TEST_F(CtfSchoolPluginTest, RefusesAMissingFolderAndUnknownFields) {
  auto library = plugins::PluginLibrary::Load(ACCORD_CTF_SCHOOL_PLUGIN, *plugins::FileSha256(ACCORD_CTF_SCHOOL_PLUGIN));
  ASSERT_TRUE(library.ok());
  auto missing = plugins::LoadedAdapter::Create(*library, R"({"ctfFolder": "/nonexistent/ctf"})");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kInvalidArgument);
  auto unknown = plugins::LoadedAdapter::Create(*library, R"({"ctfFolder": "/tmp", "folder": "x"})");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(CtfSchoolPluginTest, FindsAPupilByUpnOrDemographics) {
  Write("oakfield.xml", Ctf(PupilXml({.upn = kJordan}) + PupilXml({.upn = Upn("801200005002"), .surname = "Okafor"})));
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  plugin::v1::LookupPersonRequest by_upn;
  by_upn.mutable_identifiers()->set_upn("b801200005001");
  auto found = Call<plugin::v1::LookupPersonResponse>(*adapter, plugin::v1::METHOD_LOOKUP_PERSON, by_upn);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->matches_size(), 1);
  EXPECT_EQ(found->matches(0).local_id(), kJordan);

  plugin::v1::LookupPersonRequest by_demo;
  by_demo.mutable_demographics()->set_family_name("OKAFOR");
  by_demo.mutable_demographics()->set_birth_date("2013-04-02");
  by_demo.mutable_demographics()->set_postcode("ls62ab");
  found = Call<plugin::v1::LookupPersonResponse>(*adapter, plugin::v1::METHOD_LOOKUP_PERSON, by_demo);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->matches_size(), 1);
  EXPECT_EQ(found->matches(0).demographics().family_name(), "Okafor");

  by_demo.mutable_demographics()->set_birth_date("2013-04-03");
  found = Call<plugin::v1::LookupPersonResponse>(*adapter, plugin::v1::METHOD_LOOKUP_PERSON, by_demo);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->matches_size(), 0);

  plugin::v1::LookupPersonRequest too_little;
  too_little.mutable_demographics()->set_family_name("Price");
  EXPECT_EQ(
      Call<plugin::v1::LookupPersonResponse>(*adapter, plugin::v1::METHOD_LOOKUP_PERSON, too_little).status().code(),
      absl::StatusCode::kInvalidArgument);
}

TEST_F(CtfSchoolPluginTest, ReturnsOnlyTheRequestedCategories) {
  Write("oakfield.xml", Ctf(PupilXml({.upn = kJordan})));
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  plugin::v1::FetchRecordsRequest request;
  request.set_local_id(kJordan);
  request.add_data_categories(accord::v1::DATA_CATEGORY_SEN);
  request.add_data_categories(accord::v1::DATA_CATEGORY_ATTENDANCE);
  request.add_data_categories(accord::v1::DATA_CATEGORY_HEALTH);  // not held by a school
  auto records = Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, request);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->records_size(), 3);
  for (const auto& r : records->records()) {
    EXPECT_TRUE(r.data_category() == accord::v1::DATA_CATEGORY_SEN ? r.has_sen() : r.has_attendance());
    EXPECT_NE(r.data_category(), accord::v1::DATA_CATEGORY_IDENTITY);
  }
  request.clear_data_categories();
  request.add_data_categories(accord::v1::DATA_CATEGORY_IDENTITY);
  request.add_data_categories(accord::v1::DATA_CATEGORY_EDUCATION);
  records = Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, request);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->records_size(), 2);
  EXPECT_EQ(records->records(0).identity().upn(), kJordan);
  EXPECT_EQ(records->records(1).education().year_group(), "7");

  request.set_local_id(Upn("999999999999"));
  EXPECT_EQ(Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, request).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(CtfSchoolPluginTest, ANewExportIsPickedUpAndTheNewestCopyOfAPupilWins) {
  Write("a-2024.xml", Ctf(PupilXml({.upn = kJordan, .year = "6"}), "383", "2024-07-10T10:00:00"));
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  plugin::v1::FetchRecordsRequest request;
  request.set_local_id(kJordan);
  request.add_data_categories(accord::v1::DATA_CATEGORY_EDUCATION);
  auto records = Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, request);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->records(0).education().year_group(), "6");
  Write("b-2025.xml", Ctf(PupilXml({.upn = kJordan, .year = "7"}), "383", "2025-07-10T10:00:00"));
  Write("broken.xml", "<CTfile><Header>");
  records = Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, request);
  ASSERT_TRUE(records.ok());
  EXPECT_EQ(records->records(0).education().year_group(), "7");

  auto health = Call<plugin::v1::HealthResponse>(*adapter, plugin::v1::METHOD_HEALTH, plugin::v1::HealthRequest());
  ASSERT_TRUE(health.ok());
  EXPECT_TRUE(health->serving());
  EXPECT_NE(health->detail().find("1 pupils; 2 problems"), std::string::npos) << health->detail();
}

TEST_F(CtfSchoolPluginTest, AFileOverTheLimitIsReportedNotRead) {
  Write("big.xml", Ctf(PupilXml({.upn = kJordan})));
  auto adapter = Load(absl::StrCat(R"({"ctfFolder": ")", folder_.string(), R"(", "maxFileBytes": 100})"));
  ASSERT_NE(adapter, nullptr);
  auto health = Call<plugin::v1::HealthResponse>(*adapter, plugin::v1::METHOD_HEALTH, plugin::v1::HealthRequest());
  ASSERT_TRUE(health.ok());
  EXPECT_NE(health->detail().find("is over max_file_bytes"), std::string::npos) << health->detail();
}

}  // namespace
}  // namespace accord::ctf_school
