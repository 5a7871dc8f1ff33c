// FHIR resources read from generated documents (clean and messy), referrals written as FHIR and
// Task updates read back, and the fhir_health plugin loaded through the real plugin ABI.
#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "hub/plugins/library.h"
#include "nlohmann/json.hpp"
#include "plugins/fhir_health/fhir_resources.h"

namespace accord::fhir_health {
namespace {

namespace fs = std::filesystem;
using plugins::Call;
using json = nlohmann::json;
using plugin::v1::Method;

json Patient(const std::string& id, const std::string& nhs, const std::string& family = "Price",
             const std::string& birth = "2013-04-02") {
  return {{"resourceType", "Patient"},
          {"id", id},
          {"identifier", json::array({{{"system", "https://fhir.nhs.uk/Id/nhs-number"}, {"value", nhs}}})},
          {"name", json::array({{{"use", "usual"}, {"given", {"Jo"}}},
                                {{"use", "official"}, {"family", family}, {"given", {"Jordan", "Lee"}}}})},
          {"gender", "male"},
          {"birthDate", birth},
          {"address",
           json::array({{{"use", "home"}, {"line", {"14 Mill Lane"}}, {"city", "Leeds"}, {"postalCode", "LS6 2AB"}}})}};
}

json Condition(const std::string& id, const std::string& patient, const std::string& system, const std::string& code,
               const std::string& display, json category = nullptr) {
  json c = {{"resourceType", "Condition"},
            {"id", id},
            {"clinicalStatus", {{"coding", json::array({{{"code", "active"}}})}}},
            {"code", {{"coding", json::array({{{"system", system}, {"code", code}, {"display", display}}})}}},
            {"subject", {{"reference", "Patient/" + patient}}},
            {"recordedDate", "2025-03-01"}};
  if (!category.is_null()) c["category"] = category;
  return c;
}

json Bundle(std::vector<json> resources) {
  json entries = json::array();
  for (auto& r : resources) entries.push_back({{"resource", r}});
  return {{"resourceType", "Bundle"}, {"type", "collection"}, {"entry", entries}};
}

const std::set<std::string> kNoExtra;

TEST(FhirResourcesTest, NhsNumbersAreCheckedByModulus11) {
  EXPECT_TRUE(IsValidNhsNumber("9434765919"));
  EXPECT_TRUE(IsValidNhsNumber("943 476 5919"));
  EXPECT_FALSE(IsValidNhsNumber("9434765918"));
  EXPECT_FALSE(IsValidNhsNumber("1234567890"));  // check digit would be 10
  EXPECT_FALSE(IsValidNhsNumber("943476591"));
  EXPECT_FALSE(IsValidNhsNumber("94347659l9"));
}

TEST(FhirResourcesTest, ReadsAPatientAndSortsConditionsIntoHealthAndMentalHealth) {
  FhirData data;
  json bundle =
      Bundle({Patient("p1", "943 476 5919"),
              Condition("c1", "p1", "http://hl7.org/fhir/sid/icd-10", "F32.1", "Moderate depressive episode"),
              Condition("c2", "p1", "http://snomed.info/sct", "197480006", "Anxiety disorder"),
              Condition("c3", "p1", "http://snomed.info/sct", "195967001", "Asthma"),
              Condition("c4", "p1", "http://snomed.info/sct", "1234", "Something",
                        json::array({{{"text", "Mental health problem list"}}})),
              {{"resourceType", "Observation"},
               {"id", "o1"},
               {"status", "final"},
               {"code",
                {{"coding",
                  json::array({{{"system", "http://loinc.org"}, {"code", "29463-7"}, {"display", "Body weight"}}})}}},
               {"subject", {{"reference", "Patient/p1"}}},
               {"effectiveDateTime", "2025-02-01T10:00:00Z"},
               {"valueQuantity", {{"value", 41.5}, {"unit", "kg"}}}}});
  ReadFhirDocument(bundle.dump(), "bundle.json", kNoExtra, &data);
  EXPECT_TRUE(data.problems.empty()) << data.problems.front();
  ASSERT_EQ(data.patients.count("p1"), 1u);
  const FhirPatient& p = data.patients["p1"];
  EXPECT_EQ(p.nhs_number, "9434765919");
  EXPECT_EQ(p.identity.family_name(), "Price");
  EXPECT_EQ(p.identity.given_name(), "Jordan Lee");  // the official name, not the usual one
  EXPECT_EQ(p.identity.postcode(), "LS6 2AB");
  std::map<std::string, accord::v1::DataCategory> category;
  for (const auto& [patient, r] : data.clinical) category[r.source_id()] = r.data_category();
  EXPECT_EQ(category["Condition/c1"], accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  EXPECT_EQ(category["Condition/c2"], accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  EXPECT_EQ(category["Condition/c3"], accord::v1::DATA_CATEGORY_HEALTH);
  EXPECT_EQ(category["Condition/c4"], accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  EXPECT_EQ(category["Observation/o1"], accord::v1::DATA_CATEGORY_HEALTH);
  for (const auto& [patient, r] : data.clinical) {
    if (r.source_id() == "Observation/o1") {
      EXPECT_EQ(r.clinical().value(), "41.5");
      EXPECT_EQ(r.clinical().unit(), "kg");
      EXPECT_EQ(r.clinical().kind(), accord::v1::ClinicalRecord::KIND_OBSERVATION);
    }
  }
}

TEST(FhirResourcesTest, MentalHealthQuestionnaireScoresAreMentalHealth) {
  FhirData data;
  json phq9 = {{"resourceType", "Observation"},
               {"id", "o-phq9"},
               {"status", "final"},
               {"code", {{"coding", json::array({{{"system", "http://loinc.org"}, {"code", "44261-6"}}})}}},
               {"subject", {{"reference", "Patient/p1"}}},
               {"valueInteger", 14}};
  json weight = phq9;
  weight["id"] = "o-weight";
  weight["code"]["coding"][0]["code"] = "29463-7";
  ReadFhirDocument(Bundle({phq9, weight}).dump(), "obs.json", kNoExtra, &data);
  std::map<std::string, accord::v1::Record> by_id;
  for (const auto& [patient, r] : data.clinical) by_id[r.source_id()] = r;
  EXPECT_EQ(by_id["Observation/o-phq9"].data_category(), accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  EXPECT_EQ(by_id["Observation/o-phq9"].clinical().value(), "14");
  EXPECT_EQ(by_id["Observation/o-weight"].data_category(), accord::v1::DATA_CATEGORY_HEALTH);
}

TEST(FhirResourcesTest, ConfiguredSnomedCodesCountAsMentalHealth) {
  FhirData data;
  ReadFhirDocument(Condition("c", "p", "http://snomed.info/sct", "1234", "Local code").dump(), "c.json", {"1234"},
                   &data);
  ASSERT_EQ(data.clinical.size(), 1u);
  EXPECT_EQ(data.clinical.begin()->second.data_category(), accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
}

TEST(FhirResourcesTest, BadResourcesAreReportedOneByOneAndTheRestKept) {
  FhirData data;
  json no_id = Patient("", "9434765919");
  json bad_subject = Condition("c9", "x", "http://snomed.info/sct", "195967001", "Asthma");
  bad_subject["subject"] = {{"reference", "Group/12"}};
  json bundle = Bundle({Patient("p1", "9434765918"), no_id, bad_subject, Patient("p1", "9434765919"), json(42),
                        Condition("c1", "p1", "http://snomed.info/sct", "195967001", "Asthma")});
  bundle["entry"].push_back({{"fullUrl", "nothing"}});
  ReadFhirDocument(bundle.dump(), "messy.json", kNoExtra, &data);
  ReadFhirDocument("{\"resourceType\": \"Patient\", ", "truncated.json", kNoExtra, &data);
  ASSERT_EQ(data.patients.size(), 1u);
  EXPECT_EQ(data.patients["p1"].nhs_number, "");  // invalid: dropped, patient kept
  EXPECT_EQ(data.clinical.size(), 1u);
  auto mentions = [&](const std::string& text) {
    for (const auto& p : data.problems) {
      if (p.find(text) != std::string::npos) return true;
    }
    return false;
  };
  EXPECT_TRUE(mentions("messy.json: Patient/p1: NHS number \"9434765918\" fails its check digit"));
  EXPECT_TRUE(mentions("messy.json: Patient/: no id"));
  EXPECT_TRUE(mentions("messy.json: Condition/c9: subject is not a Patient reference"));
  EXPECT_TRUE(mentions("messy.json: Patient/p1: a Patient with this id was read before"));
  EXPECT_TRUE(mentions("messy.json: an entry is not a JSON object"));
  EXPECT_TRUE(mentions("truncated.json: not JSON"));
}

TEST(FhirResourcesTest, OnlyABlanketActiveDenyConsentIsDissent) {
  FhirData data;
  json deny = {{"resourceType", "Consent"},
               {"id", "k1"},
               {"status", "active"},
               {"patient", {{"reference", "Patient/p1"}}},
               {"provision", {{"type", "deny"}}}};
  json narrow = deny;
  narrow["id"] = "k2";
  narrow["patient"]["reference"] = "Patient/p2";
  narrow["provision"]["data"] = json::array({{{"meaning", "related"}, {"reference", {{"reference", "Condition/c1"}}}}});
  json inactive = deny;
  inactive["id"] = "k3";
  inactive["status"] = "inactive";
  inactive["patient"]["reference"] = "Patient/p3";
  ReadFhirDocument(Bundle({deny, narrow, inactive}).dump(), "consents.json", kNoExtra, &data);
  EXPECT_EQ(data.dissent.size(), 1u);
  EXPECT_EQ(data.dissent["p1"], "Consent/k1");
}

TEST(FhirResourcesTest, AHugeBundleIsReadWhole) {
  std::vector<json> resources;
  constexpr int kPatients = 20000;
  for (int i = 0; i < kPatients; ++i) {
    const std::string id = "p" + std::to_string(i);
    resources.push_back(Patient(id, "9434765919"));
    resources.push_back(Condition("c" + std::to_string(i), id, "http://snomed.info/sct", "195967001", "Asthma"));
  }
  const std::string text = Bundle(std::move(resources)).dump();
  ASSERT_GT(text.size(), 10u << 20);
  FhirData data;
  ReadFhirDocument(text, "big.json", kNoExtra, &data);
  EXPECT_EQ(data.patients.size(), static_cast<size_t>(kPatients));
  EXPECT_EQ(data.clinical.size(), static_cast<size_t>(kPatients));
  EXPECT_TRUE(data.problems.empty());
}

accord::v1::Referral SampleReferral(const std::string& id) {
  accord::v1::Referral r;
  r.set_name("referrals/" + id);
  r.set_service("services/oakfield-counselling");
  r.set_referrer("partners/oakfield-primary");
  r.set_subject("subjects/s-1");
  auto* need = r.add_needs();
  need->set_type(accord::v1::NEED_TYPE_ANXIETY);
  need->set_level(accord::v1::LEVEL_OF_NEED_TARGETED);
  r.set_background("Worried, \"not sleeping\", since the move.");
  r.set_urgency(accord::v1::URGENCY_PRIORITY);
  r.set_consent("consents/c-1");
  r.add_data_categories(accord::v1::DATA_CATEGORY_IDENTITY);
  r.add_data_categories(accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  return r;
}

TEST(FhirResourcesTest, AReferralIsAServiceRequestAndATaskThatPointsAtIt) {
  json bundle = json::parse(ReferralBundle(SampleReferral("r-1")));
  EXPECT_EQ(bundle["type"], "transaction");
  ASSERT_EQ(bundle["entry"].size(), 2u);
  const json& sr = bundle["entry"][0]["resource"];
  const json& task = bundle["entry"][1]["resource"];
  EXPECT_EQ(sr["resourceType"], "ServiceRequest");
  EXPECT_EQ(sr["id"], "r-1");
  EXPECT_EQ(sr["priority"], "urgent");
  EXPECT_EQ(sr["reasonCode"][0]["coding"][0]["code"], "ANXIETY");
  EXPECT_EQ(sr["note"][0]["text"], "Worried, \"not sleeping\", since the move.");
  EXPECT_EQ(bundle["entry"][0]["request"]["method"], "PUT");
  EXPECT_EQ(task["resourceType"], "Task");
  EXPECT_EQ(task["status"], "requested");
  EXPECT_EQ(task["focus"]["reference"], "ServiceRequest/r-1");
}

TEST(FhirResourcesTest, TaskStatusesBecomeReferralStates) {
  auto task = [](const std::string& id, const std::string& status, const std::string& focus) {
    return json{{"resourceType", "Task"},
                {"id", id},
                {"status", status},
                {"intent", "order"},
                {"focus", {{"reference", focus}}},
                {"statusReason", {{"text", "because " + status}}},
                {"lastModified", "2025-05-01T09:00:00+01:00"}};
  };
  std::vector<std::string> problems;
  auto changes = ReadTaskUpdates(
      Bundle({task("t1", "accepted", "ServiceRequest/r-1"), task("t2", "rejected", "ServiceRequest/r-2"),
              task("t3", "in-progress", "https://ehr.example/fhir/ServiceRequest/r-3/_history/2"),
              task("t4", "completed", "ServiceRequest/r-4"), task("t5", "on-hold", "ServiceRequest/r-5"),
              task("t6", "accepted", "Patient/p1"), Patient("p1", "9434765919")})
          .dump(),
      "updates.json", &problems);
  ASSERT_EQ(changes.size(), 4u);
  EXPECT_EQ(changes[0].referral(), "referrals/r-1");
  EXPECT_EQ(changes[0].state(), accord::v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(changes[0].reason(), "because accepted");
  EXPECT_EQ(changes[0].time().seconds(), 1746086400);
  EXPECT_EQ(changes[1].state(), accord::v1::REFERRAL_STATE_DECLINED);
  EXPECT_EQ(changes[2].referral(), "referrals/r-3");
  EXPECT_EQ(changes[2].state(), accord::v1::REFERRAL_STATE_ACTIVE);
  EXPECT_EQ(changes[3].state(), accord::v1::REFERRAL_STATE_CLOSED);
  ASSERT_EQ(problems.size(), 3u);
  EXPECT_NE(problems[0].find("Task/t5: status \"on-hold\" has no referral state"), std::string::npos) << problems[0];
  EXPECT_NE(problems[1].find("Task/t6: names no ServiceRequest"), std::string::npos) << problems[1];
  EXPECT_NE(problems[2].find("a Patient is not a Task update"), std::string::npos) << problems[2];
}

// ---- the plugin, through the ABI

class FhirHealthPluginTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::temp_directory_path() / absl::StrCat("accord-fhir-", getpid(), "-", reinterpret_cast<uintptr_t>(this));
    for (const char* d : {"records", "out", "in"}) fs::create_directories(root_ / d);
  }
  void TearDown() override { fs::remove_all(root_); }
  void Write(const std::string& path, const std::string& content) { std::ofstream(root_ / path) << content; }

  std::unique_ptr<plugins::LoadedAdapter> Load() {
    auto library =
        plugins::PluginLibrary::Load(ACCORD_FHIR_HEALTH_PLUGIN, *plugins::FileSha256(ACCORD_FHIR_HEALTH_PLUGIN));
    EXPECT_TRUE(library.ok()) << library.status();
    if (!library.ok()) return nullptr;
    const std::string config = json{
        {"recordsFolder", (root_ / "records").string()},
        {"outboundFolder", (root_ / "out").string()},
        {"inboundFolder",
         (root_ / "in").string()}}.dump();
    auto adapter = plugins::LoadedAdapter::Create(*library, config);
    EXPECT_TRUE(adapter.ok()) << adapter.status();
    return adapter.ok() ? std::move(*adapter) : nullptr;
  }


  fs::path root_;
};

TEST_F(FhirHealthPluginTest, FindsAPatientAndReturnsOnlyTheRequestedCategories) {
  Write("records/gp-export.json",
        Bundle({Patient("p1", "9434765919"), Patient("p2", "9434765870", "Okafor"),
                Condition("c1", "p1", "http://hl7.org/fhir/sid/icd-10", "F41.1", "Generalised anxiety disorder"),
                Condition("c2", "p1", "http://snomed.info/sct", "195967001", "Asthma")})
            .dump());
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  EXPECT_EQ(adapter->description().name(), "fhir_health");
  EXPECT_EQ(adapter->description().capabilities_size(), 4);

  plugin::v1::LookupPersonRequest lookup;
  lookup.mutable_identifiers()->set_nhs_number("943 476 5919");
  auto found = Call<plugin::v1::LookupPersonResponse>(*adapter, plugin::v1::METHOD_LOOKUP_PERSON, lookup);
  ASSERT_TRUE(found.ok()) << found.status();
  ASSERT_EQ(found->matches_size(), 1);
  EXPECT_EQ(found->matches(0).local_id(), "p1");
  lookup.Clear();
  lookup.mutable_demographics()->set_family_name("okafor");
  lookup.mutable_demographics()->set_birth_date("2013-04-02");
  found = Call<plugin::v1::LookupPersonResponse>(*adapter, plugin::v1::METHOD_LOOKUP_PERSON, lookup);
  ASSERT_TRUE(found.ok());
  ASSERT_EQ(found->matches_size(), 1);
  EXPECT_EQ(found->matches(0).local_id(), "p2");

  plugin::v1::FetchRecordsRequest fetch;
  fetch.set_local_id("p1");
  fetch.add_data_categories(accord::v1::DATA_CATEGORY_HEALTH);
  auto records = Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, fetch);
  ASSERT_TRUE(records.ok()) << records.status();
  ASSERT_EQ(records->records_size(), 1);
  EXPECT_EQ(records->records(0).clinical().display(), "Asthma");
  fetch.clear_data_categories();
  fetch.add_data_categories(accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  fetch.add_data_categories(accord::v1::DATA_CATEGORY_IDENTITY);
  records = Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, fetch);
  ASSERT_TRUE(records.ok());
  ASSERT_EQ(records->records_size(), 2);
  EXPECT_EQ(records->records(0).data_category(), accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
  EXPECT_EQ(records->records(0).clinical().code(), "F41.1");
  EXPECT_EQ(records->records(1).identity().nhs_number(), "9434765919");
  fetch.set_local_id("nobody");
  EXPECT_EQ(Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, fetch).status().code(),
            absl::StatusCode::kNotFound);
}

TEST_F(FhirHealthPluginTest, RecordedDissentWithholdsThePatientsRecords) {
  Write("records/a.json", Patient("p1", "9434765919").dump());
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  plugin::v1::FetchRecordsRequest fetch;
  fetch.set_local_id("p1");
  fetch.add_data_categories(accord::v1::DATA_CATEGORY_IDENTITY);
  ASSERT_TRUE(Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, fetch).ok());
  Write("records/b.json", json{{"resourceType", "Consent"},
                               {"id", "k1"},
                               {"status", "active"},
                               {"patient", {{"reference", "Patient/p1"}}},
                               {"provision", {{"type", "deny"}}}}
                              .dump());
  auto refused = Call<plugin::v1::FetchRecordsResponse>(*adapter, plugin::v1::METHOD_FETCH_RECORDS, fetch);
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(refused.status().message().find("Consent/k1"), std::string::npos);
}

TEST_F(FhirHealthPluginTest, DeliversAReferralOnceAndReadsItsTaskBack) {
  auto adapter = Load();
  ASSERT_NE(adapter, nullptr);
  plugin::v1::DeliverReferralRequest deliver;
  *deliver.mutable_referral() = SampleReferral("r-7");
  auto first = Call<plugin::v1::DeliverReferralResponse>(*adapter, plugin::v1::METHOD_DELIVER_REFERRAL, deliver);
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_EQ(first->external_id(), "ServiceRequest/r-7");
  const fs::path file = root_ / "out" / "referral-r-7.json";
  ASSERT_TRUE(fs::exists(file));
  const auto written = fs::last_write_time(file);
  deliver.mutable_referral()->set_background("changed on a retry");
  auto again = Call<plugin::v1::DeliverReferralResponse>(*adapter, plugin::v1::METHOD_DELIVER_REFERRAL, deliver);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->external_id(), first->external_id());
  EXPECT_EQ(fs::last_write_time(file), written);
  EXPECT_EQ(std::distance(fs::directory_iterator(root_ / "out"), fs::directory_iterator()), 1);  // no temp files

  deliver.mutable_referral()->set_name("referrals/../../etc");
  EXPECT_EQ(
      Call<plugin::v1::DeliverReferralResponse>(*adapter, plugin::v1::METHOD_DELIVER_REFERRAL, deliver).status().code(),
      absl::StatusCode::kInvalidArgument);

  // The health system takes the Task from our bundle and accepts it.
  std::ifstream in(file);
  json task = json::parse(in)["entry"][1]["resource"];
  task["status"] = "accepted";
  task["statusReason"] = {{"text", "Seen at triage"}};
  Write("in/0001-task.json", task.dump());
  Write("in/0002-garbage.json", "{not json");
  plugin::v1::PollStatusChangesRequest poll;
  auto changes = Call<plugin::v1::PollStatusChangesResponse>(*adapter, plugin::v1::METHOD_POLL_STATUS_CHANGES, poll);
  ASSERT_TRUE(changes.ok()) << changes.status();
  ASSERT_EQ(changes->changes_size(), 1);
  EXPECT_EQ(changes->changes(0).referral(), "referrals/r-7");
  EXPECT_EQ(changes->changes(0).state(), accord::v1::REFERRAL_STATE_ACCEPTED);
  EXPECT_EQ(changes->changes(0).reason(), "Seen at triage");
  EXPECT_EQ(changes->next_cursor(), "0002-garbage.json");

  task["status"] = "in-progress";
  Write("in/0003-task.json", task.dump());
  poll.set_cursor(changes->next_cursor());
  changes = Call<plugin::v1::PollStatusChangesResponse>(*adapter, plugin::v1::METHOD_POLL_STATUS_CHANGES, poll);
  ASSERT_TRUE(changes.ok());
  ASSERT_EQ(changes->changes_size(), 1);
  EXPECT_EQ(changes->changes(0).state(), accord::v1::REFERRAL_STATE_ACTIVE);
  EXPECT_EQ(changes->next_cursor(), "0003-task.json");

  auto health = Call<plugin::v1::HealthResponse>(*adapter, plugin::v1::METHOD_HEALTH, plugin::v1::HealthRequest());
  ASSERT_TRUE(health.ok());
  EXPECT_NE(health->detail().find("0002-garbage.json: not JSON"), std::string::npos) << health->detail();
}

}  // namespace
}  // namespace accord::fhir_health
