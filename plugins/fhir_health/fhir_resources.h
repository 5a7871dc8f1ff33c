// Reading FHIR R4 JSON (UK Core) into Accord's typed records, and writing referrals as FHIR.
//
// Records. ReadFhirDocument takes one JSON document, a single resource or a Bundle, and adds what
// it holds to `FhirData`: Patients (identity, NHS number from the identifier with system
// https://fhir.nhs.uk/Id/nhs-number), Conditions and Observations (each a HEALTH or MENTAL_HEALTH
// record of the Patient in its `subject`), and Consents that record a patient's dissent. A
// resource it cannot use is left out with a line in `problems` naming it; the rest is kept. An
// NHS number that fails its check digit is dropped from the patient (reported); the patient stays.
//
// Mental health. A Condition or Observation is MENTAL_HEALTH when any of its codes is
//  - ICD-10 chapter V (mental and behavioural disorders): a code starting "F" in a system whose
//    URI contains "icd-10";
//  - one of the SNOMED CT concepts in MentalHealthSnomedCodes() or LOINC codes (questionnaires
//    such as PHQ-9 and GAD-7) in MentalHealthLoincCodes(), or a code added by configuration;
//  - or its category is coded or worded "mental health" / "mental-health".
// Everything else is HEALTH. The rule is deliberately inclusive: a mental health record wrongly
// called HEALTH would be shared under the weaker category.
//
// Dissent. A Consent with status "active", provision.type "deny", and no narrowing (no
// provision.data, actor, class, code or nested provision) withholds every record of that patient.
//
// Referrals. ReferralBundle writes a referral as a transaction Bundle holding a ServiceRequest
// (id: the referral id) and a Task (id "task-{referral id}", status "requested") that points at it
// with focus and basedOn: the FHIR workflow "request + task" pattern. PUT entries make a resend
// idempotent on a FHIR server. ReadTaskUpdates reads Task resources (alone or in a Bundle) back:
// the referral is the one in focus (or basedOn) "ServiceRequest/{id}"; the status maps to
//   received -> DELIVERED, accepted -> ACCEPTED, rejected -> DECLINED, in-progress -> ACTIVE,
//   completed -> CLOSED;
// any other status is reported as a problem and not applied. All functions are thread-safe.
#ifndef ACCORD_PLUGINS_FHIR_HEALTH_FHIR_RESOURCES_H_
#define ACCORD_PLUGINS_FHIR_HEALTH_FHIR_RESOURCES_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "accord/plugin/v1/adapter.pb.h"
#include "accord/v1/record.pb.h"
#include "accord/v1/referral.pb.h"

namespace accord::fhir_health {

inline constexpr absl::string_view kNhsNumberSystem = "https://fhir.nhs.uk/Id/nhs-number";

// Depressive, anxiety, psychotic, bipolar, obsessive-compulsive, post-traumatic stress and eating
// disorders, ADHD, autism, self-harm, mental disorder (SNOMED CT concept ids).
inline const std::set<std::string>& MentalHealthSnomedCodes() {
  static const auto* codes = new std::set<std::string>{"35489007",  "197480006", "48694002", "69322001",  "13746004",
                                                       "191736004", "47505003",  "72366004", "56882008",  "78004001",
                                                       "406506008", "408856003", "35919005", "248062006", "74732009"};
  return *codes;
}

// PHQ-9 and PHQ-2 depression and GAD-7 anxiety questionnaires, panels and total scores (LOINC).
inline const std::set<std::string>& MentalHealthLoincCodes() {
  static const auto* codes =
      new std::set<std::string>{"44249-1", "44261-6", "55757-9", "55758-7", "69737-5", "70274-6"};
  return *codes;
}

struct FhirPatient {
  std::string id;
  // Validated, digits only; empty when absent or invalid.
  std::string nhs_number;
  accord::v1::IdentityRecord identity;
};

struct FhirData {
  // By Patient.id.
  std::map<std::string, FhirPatient> patients;
  // Patient.id -> its HEALTH and MENTAL_HEALTH records.
  std::multimap<std::string, accord::v1::Record> clinical;
  // Patient.id -> the Consent recording dissent.
  std::map<std::string, std::string> dissent;
  std::vector<std::string> problems;
};

// Adds the resources of one document to `data`. `source` names it in problems.
// `extra_mental_health_codes`: SNOMED CT or LOINC codes counted as mental health besides the
// built-in ones.
void ReadFhirDocument(absl::string_view json, absl::string_view source,
                      const std::set<std::string>& extra_mental_health_codes, FhirData* data);

// 10 digits (spaces allowed) with a valid modulus-11 check digit.
bool IsValidNhsNumber(absl::string_view nhs_number);

// The referral (its name "referrals/{id}") as a FHIR transaction Bundle, pretty-printed JSON.
std::string ReferralBundle(const accord::v1::Referral& referral);

// The status changes in one document of Task updates; problems for Tasks that cannot be used.
std::vector<plugin::v1::StatusChange> ReadTaskUpdates(absl::string_view json, absl::string_view source,
                                                      std::vector<std::string>* problems);

}  // namespace accord::fhir_health

#endif  // ACCORD_PLUGINS_FHIR_HEALTH_FHIR_RESOURCES_H_
