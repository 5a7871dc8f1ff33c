// The shipped adapters behind a real hub: a school whose MIS exports Common Transfer Files
// (plugins/ctf_school) and a GP practice whose record system exports FHIR (plugins/fhir_health),
// each in its own accord-plugin-host process. An early help team's RequestRecords gets exactly the
// categories the sharing decision allows from each, and nothing else the systems hold.
#include <grpcpp/grpcpp.h>

#include <chrono>
#include <fstream>
#include <map>
#include <set>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "accord/sdk/client.h"
#include "accord/v1/consent.grpc.pb.h"
#include "accord/v1/partner_admin.grpc.pb.h"
#include "accord/v1/record.grpc.pb.h"
#include "accord/v1/subject.grpc.pb.h"
#include "gtest/gtest.h"
#include "hub/plugins/library.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

namespace fs = std::filesystem;
using testsupport::HubProcess;

constexpr const char* kUpn = "B801200005001";
constexpr const char* kNhs = "9434765919";

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 20) {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return ctx;
}

// The partners' own systems' exports, written before the hub starts.
fs::path MakeExports() {
  const fs::path root = fs::temp_directory_path() / absl::StrCat("accord-shipped-", getpid());
  fs::create_directories(root / "ctf");
  fs::create_directories(root / "fhir");
  std::ofstream(root / "ctf" / "oakfield-2025.xml") << absl::StrCat(
      R"(<?xml version="1.0" encoding="UTF-8"?><CTfile><Header><DocumentName>Common Transfer File</DocumentName>)",
      R"(<CTFversion>25.0</CTFversion><DateTime>2025-07-10T10:00:00</DateTime><SourceSchool><LEA>383</LEA>)",
      R"(<Estab>2001</Estab><SchoolName>Oakfield Primary</SchoolName></SourceSchool></Header><CTFpupilData>)",
      R"(<Pupil><UPN>)", kUpn, R"(</UPN><Surname>Price</Surname><Forename>Jordan</Forename><DOB>2013-04-02</DOB>)",
      R"(<Sex>M</Sex><BasicDetails><NCyearActual>7</NCyearActual></BasicDetails><SENhistory><SEN>)",
      R"(<StartDate>2023-01-10</StartDate><SENprovision>K</SENprovision></SEN><SENneeds><SENneed>)",
      R"(<SENtypeRank>1</SENtypeRank><SENtype>SEMH</SENtype></SENneed></SENneeds></SENhistory>)",
      R"(<Attendance><YearData><Year>2024</Year><SessionsPossible>380</SessionsPossible>)",
      R"(<SessionsAuthorised>20</SessionsAuthorised><SessionsUnauthorised>30</SessionsUnauthorised></YearData>)",
      R"(</Attendance></Pupil></CTFpupilData></CTfile>)");
  std::ofstream(root / "fhir" / "gp-export.json") << absl::StrCat(
      R"({"resourceType": "Bundle", "type": "collection", "entry": [)",
      R"({"resource": {"resourceType": "Patient", "id": "p1", "identifier": [{"system": "https://fhir.nhs.uk/Id/nhs-number", "value": ")",
      kNhs, R"("}], "name": [{"family": "Price", "given": ["Jordan"]}], "birthDate": "2013-04-02"}},)",
      R"({"resource": {"resourceType": "Condition", "id": "c1", "subject": {"reference": "Patient/p1"}, "code": {"coding": [)",
      R"({"system": "http://hl7.org/fhir/sid/icd-10", "code": "F41.1", "display": "Generalised anxiety disorder"}]}}},)",
      R"({"resource": {"resourceType": "Condition", "id": "c2", "subject": {"reference": "Patient/p1"}, "code": {"coding": [)",
      R"({"system": "http://snomed.info/sct", "code": "195967001", "display": "Asthma"}]}}}]})");
  return root;
}

std::string PluginsConfig(const fs::path& exports) {
  auto entry = [](const std::string& partner, const std::string& library, const std::string& config) {
    return absl::StrCat(R"({"partner": ")", partner, R"(", "library": ")", library, R"(", "sha256": ")",
                        *plugins::FileSha256(library), R"(", "callTimeoutMs": 5000, "config": )", config, "}");
  };
  return absl::StrCat(R"("plugins": [)",
                      entry("oakfield", ACCORD_CTF_SCHOOL_PLUGIN,
                            absl::StrCat(R"({"ctfFolder": ")", (exports / "ctf").string(), R"("})")),
                      ", ",
                      entry("mill-lane-gp", ACCORD_FHIR_HEALTH_PLUGIN,
                            absl::StrCat(R"({"recordsFolder": ")", (exports / "fhir").string(), R"("})")),
                      "]");
}

class ShippedAdaptersTest : public ::testing::Test {
 protected:
  ShippedAdaptersTest() : exports_(MakeExports()), hub_(PluginsConfig(exports_)) {}
  ~ShippedAdaptersTest() override { fs::remove_all(exports_); }

  void SetUp() override {
    school_ = hub_.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    gp_ = hub_.Enrol("mill-lane-gp", "Mill Lane Surgery", "HEALTH", "PROVIDER");
    early_help_ = hub_.Enrol("early-help", "Early Help Team", "EARLY_HELP", "PROVIDER");
    admin_ = hub_.Enrol("ops", "Operations", "LOCAL_AUTHORITY", "ADMIN");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();

    subject_ = Resolve(early_help_, "EH-1", "");
    ASSERT_EQ(Resolve(school_, kUpn, kUpn), subject_);
    ASSERT_EQ(Resolve(gp_, "p1", ""), subject_);

    // Schools may share identity, SEN and attendance with early help; health identity and mental
    // health. Neither education (school) nor other health data.
    Agree(v1::SECTOR_SCHOOL, {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_SEN, v1::DATA_CATEGORY_ATTENDANCE});
    Agree(v1::SECTOR_HEALTH, {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_MENTAL_HEALTH});
    for (const char* partner : {"oakfield", "mill-lane-gp"}) WaitForPlugin(partner);
  }

  std::string Resolve(const fs::path& bundle, const std::string& local_id, const std::string& upn) {
    v1::ResolveSubjectRequest req;
    req.mutable_identifiers()->set_nhs_number(kNhs);
    req.mutable_identifiers()->set_local_id(local_id);
    if (!upn.empty()) req.mutable_identifiers()->set_upn(upn);
    v1::ResolveSubjectResponse resp;
    grpc::Status s = v1::SubjectService::NewStub(hub_.Channel(bundle))->ResolveSubject(Ctx().get(), req, &resp);
    EXPECT_TRUE(s.ok()) << s.error_message();
    return resp.subject().name();
  }

  void Agree(v1::Sector discloser, std::vector<v1::DataCategory> categories) {
    v1::CreateSharingAgreementRequest agree;
    v1::SharingAgreement* a = agree.mutable_sharing_agreement();
    a->mutable_discloser()->set_sector(discloser);
    a->mutable_recipient()->set_sector(v1::SECTOR_EARLY_HELP);
    a->add_purposes(v1::PURPOSE_ASSESSMENT);
    for (auto c : categories) a->add_data_categories(c);
    a->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 365)));
    v1::CreateSharingAgreementResponse agreed;
    grpc::Status s =
        v1::PartnerAdmin::NewStub(hub_.Channel(admin_))->CreateSharingAgreement(Ctx().get(), agree, &agreed);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  void WaitForPlugin(const std::string& partner) {
    auto serving = [&] {
      absl::StatusOr<bool> s = sdk::CheckHealth(hub_.Channel(early_help_), "accord.plugins/" + partner);
      return s.ok() && *s;
    };
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!serving() && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ASSERT_TRUE(serving()) << partner << "\n" << hub_.Log();
  }

  // The family agrees to early help receiving everything below for an assessment.
  void Consent() {
    v1::RecordConsentRequest req;
    v1::Consent* c = req.mutable_consent();
    c->set_subject(subject_);
    c->set_given_by(v1::CONSENT_GIVER_PARENT_CARER);
    c->add_purposes(v1::PURPOSE_ASSESSMENT);
    for (auto cat : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_SEN,
                     v1::DATA_CATEGORY_ATTENDANCE, v1::DATA_CATEGORY_HEALTH, v1::DATA_CATEGORY_MENTAL_HEALTH}) {
      c->add_data_categories(cat);
    }
    c->add_recipients()->set_partner("partners/early-help");
    c->mutable_valid_until()->set_seconds(absl::ToUnixSeconds(absl::Now() + absl::Hours(24 * 30)));
    c->set_evidence("Signed at the family meeting");
    v1::RecordConsentResponse resp;
    grpc::Status s = v1::ConsentService::NewStub(hub_.Channel(early_help_))->RecordConsent(Ctx().get(), req, &resp);
    ASSERT_TRUE(s.ok()) << s.error_message();
  }

  static std::map<int, const v1::CategoryOutcome*> Outcomes(const v1::HolderRecords& h) {
    std::map<int, const v1::CategoryOutcome*> out;
    for (const auto& o : h.outcomes()) out[o.data_category()] = &o;
    return out;
  }

  fs::path exports_;
  HubProcess hub_;
  fs::path school_, gp_, early_help_, admin_;
  std::string subject_;
};

TEST_F(ShippedAdaptersTest, RequestRecordsReturnsExactlyTheAllowedCategoriesFromTheCtfAndFhirAdapters) {
  Consent();
  v1::RequestRecordsRequest req;
  req.set_subject(subject_);
  req.set_purpose(v1::PURPOSE_ASSESSMENT);
  for (auto c : {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_EDUCATION, v1::DATA_CATEGORY_SEN,
                 v1::DATA_CATEGORY_ATTENDANCE, v1::DATA_CATEGORY_HEALTH, v1::DATA_CATEGORY_MENTAL_HEALTH}) {
    req.add_data_categories(c);
  }
  v1::RequestRecordsResponse resp;
  grpc::Status s = v1::RecordService::NewStub(hub_.Channel(early_help_))->RequestRecords(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message() << "\n" << hub_.Log();
  std::map<std::string, const v1::HolderRecords*> holders;
  for (const auto& h : resp.holders()) holders[h.holder()] = &h;
  ASSERT_EQ(holders.size(), 2u) << resp.DebugString();

  const std::map<std::string, std::set<int>> allowed = {
      {"partners/oakfield", {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_SEN, v1::DATA_CATEGORY_ATTENDANCE}},
      {"partners/mill-lane-gp", {v1::DATA_CATEGORY_IDENTITY, v1::DATA_CATEGORY_MENTAL_HEALTH}}};
  for (const auto& [holder, categories] : allowed) {
    ASSERT_TRUE(holders.count(holder)) << holder;
    const v1::HolderRecords& h = *holders[holder];
    auto outcomes = Outcomes(h);
    ASSERT_EQ(outcomes.size(), 6u) << holder;
    for (const auto& [category, outcome] : outcomes) {
      const bool allow = categories.count(category) > 0;
      EXPECT_EQ(outcome->status(), allow ? v1::CATEGORY_STATUS_RETURNED : v1::CATEGORY_STATUS_REFUSED)
          << holder << " " << v1::DataCategory_Name(static_cast<v1::DataCategory>(category)) << ": "
          << outcome->reason();
    }
    std::set<int> returned;
    for (const auto& r : h.records()) returned.insert(r.data_category());
    EXPECT_EQ(returned, categories) << holder << "\n" << h.DebugString();
  }

  // The school's records come from its CTF, the GP's from its FHIR export, minimised: the asthma
  // (HEALTH) and the year group (EDUCATION) stay where they are.
  std::map<int, const v1::Record*> school, gp;
  for (const auto& r : holders["partners/oakfield"]->records()) school[r.data_category()] = &r;
  for (const auto& r : holders["partners/mill-lane-gp"]->records()) gp[r.data_category()] = &r;
  EXPECT_EQ(school[v1::DATA_CATEGORY_IDENTITY]->identity().upn(), kUpn);
  EXPECT_EQ(school[v1::DATA_CATEGORY_SEN]->sen().needs(0), "SEMH");
  EXPECT_EQ(school[v1::DATA_CATEGORY_ATTENDANCE]->attendance().sessions_attended(), 330);
  EXPECT_EQ(gp[v1::DATA_CATEGORY_IDENTITY]->identity().nhs_number(), kNhs);
  EXPECT_EQ(gp[v1::DATA_CATEGORY_MENTAL_HEALTH]->clinical().code(), "F41.1");
  EXPECT_EQ(holders["partners/mill-lane-gp"]->records_size(), 2);
}

TEST_F(ShippedAdaptersTest, APatientsRecordedDissentMakesOnlyTheGpsPartUnavailable) {
  Consent();
  // The GP's system records the patient's dissent from sharing; the adapter picks it up.
  std::ofstream(exports_ / "fhir" / "dissent.json")
      << R"({"resourceType": "Consent", "id": "k1", "status": "active", "patient": {"reference": "Patient/p1"},)"
      << R"( "provision": {"type": "deny"}})";
  v1::RequestRecordsRequest req;
  req.set_subject(subject_);
  req.set_purpose(v1::PURPOSE_ASSESSMENT);
  req.add_data_categories(v1::DATA_CATEGORY_IDENTITY);
  req.add_data_categories(v1::DATA_CATEGORY_MENTAL_HEALTH);
  v1::RequestRecordsResponse resp;
  grpc::Status s = v1::RecordService::NewStub(hub_.Channel(early_help_))->RequestRecords(Ctx().get(), req, &resp);
  ASSERT_TRUE(s.ok()) << s.error_message();
  for (const auto& h : resp.holders()) {
    auto outcomes = Outcomes(h);
    if (h.holder() == "partners/mill-lane-gp") {
      EXPECT_EQ(h.records_size(), 0);
      const v1::CategoryOutcome& o = *outcomes[v1::DATA_CATEGORY_MENTAL_HEALTH];
      EXPECT_EQ(o.status(), v1::CATEGORY_STATUS_UNAVAILABLE);
      EXPECT_EQ(o.reason_code(), "PLUGIN_PERMISSION_DENIED");
      EXPECT_NE(o.reason().find("recorded dissent from sharing (Consent/k1)"), std::string::npos) << o.reason();
    } else {
      EXPECT_EQ(outcomes[v1::DATA_CATEGORY_IDENTITY]->status(), v1::CATEGORY_STATUS_RETURNED) << h.holder();
      EXPECT_EQ(h.records_size(), 1) << h.holder();
    }
  }
}

}  // namespace
}  // namespace accord
