// Feeds arbitrary bytes to the FHIR readers (plugins/fhir_health) as a record document and as Task
// updates, and checks that nothing crashes, leaks or hits undefined behaviour, and that: a kept NHS
// number is valid; every clinical record is HEALTH or MENTAL_HEALTH and names its resource; every
// status change names a referral and a state.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/match.h"
#include "plugins/fhir_health/fhir_resources.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::string_view input(reinterpret_cast<const char*>(data), size);
  accord::fhir_health::FhirData records;
  accord::fhir_health::ReadFhirDocument(input, "fuzz.json", {"1234"}, &records);
  for (const auto& [id, patient] : records.patients) {
    FUZZ_CHECK(!id.empty());
    FUZZ_CHECK(patient.nhs_number.empty() || accord::fhir_health::IsValidNhsNumber(patient.nhs_number));
  }
  for (const auto& [patient, record] : records.clinical) {
    FUZZ_CHECK(!patient.empty());
    FUZZ_CHECK(record.data_category() == accord::v1::DATA_CATEGORY_HEALTH ||
               record.data_category() == accord::v1::DATA_CATEGORY_MENTAL_HEALTH);
    FUZZ_CHECK(record.has_clinical());
    FUZZ_CHECK(absl::StartsWith(record.source_id(), "Condition/") ||
               absl::StartsWith(record.source_id(), "Observation/"));
  }
  std::vector<std::string> problems;
  for (const auto& change : accord::fhir_health::ReadTaskUpdates(input, "fuzz.json", &problems)) {
    FUZZ_CHECK(absl::StartsWith(change.referral(), "referrals/") && change.referral().size() > 10);
    FUZZ_CHECK(change.state() != accord::v1::REFERRAL_STATE_UNSPECIFIED);
  }
  return 0;
}
