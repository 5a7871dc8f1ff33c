#include "plugins/fhir_health/fhir_resources.h"

#include <exception>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "google/protobuf/util/time_util.h"
#include "nlohmann/json.hpp"

namespace accord::fhir_health {
namespace {

using json = nlohmann::json;
using accord::v1::DataCategory;

constexpr absl::string_view kAccordSystem = "https://accord.example/fhir/";

const json& Field(const json& j, const char* key) {
  static const json* null = new json();
  if (!j.is_object()) return *null;
  auto it = j.find(key);
  return it == j.end() ? *null : *it;
}

std::string Str(const json& j, const char* key) {
  const json& v = Field(j, key);
  return v.is_string() ? v.get<std::string>() : "";
}

// The id after "Type/" in a reference such as "Patient/123" (or a full URL ending in it).
std::string ReferenceId(const json& reference, absl::string_view type) {
  const std::string ref = Str(reference, "reference");
  const std::string marker = absl::StrCat(type, "/");
  size_t at = ref.rfind(marker);
  if (at == std::string::npos || (at != 0 && ref[at - 1] != '/')) return "";
  std::string id = ref.substr(at + marker.size());
  if (size_t h = id.find("/_history"); h != std::string::npos) id.resize(h);
  return id.find('/') == std::string::npos ? id : "";
}

// Every coding of a CodeableConcept.
std::vector<const json*> Codings(const json& codeable) {
  std::vector<const json*> out;
  const json& codings = Field(codeable, "coding");
  if (codings.is_array()) {
    for (const json& c : codings) {
      if (c.is_object()) out.push_back(&c);
    }
  }
  return out;
}

bool IsMentalHealthConcept(const json& codeable, const std::set<std::string>& extra) {
  for (const json* c : Codings(codeable)) {
    const std::string system = absl::AsciiStrToLower(Str(*c, "system"));
    const std::string code = Str(*c, "code");
    if (absl::StrContains(system, "icd-10") && !code.empty() && absl::ascii_toupper(code[0]) == 'F') return true;
    if (system == "http://snomed.info/sct" && (MentalHealthSnomedCodes().count(code) || extra.count(code))) return true;
    if (system == "http://loinc.org" && (MentalHealthLoincCodes().count(code) || extra.count(code))) return true;
  }
  return false;
}

bool IsMentalHealthCategory(const json& categories) {
  auto says = [](const std::string& s) {
    const std::string l = absl::AsciiStrToLower(s);
    return absl::StrContains(l, "mental health") || absl::StrContains(l, "mental-health");
  };
  const json& list = categories.is_array() ? categories : json::array({categories});
  for (const json& category : list) {
    if (says(Str(category, "text"))) return true;
    for (const json* c : Codings(category)) {
      if (says(Str(*c, "code")) || says(Str(*c, "display"))) return true;
    }
  }
  return false;
}

void SetTime(const std::string& when, google::protobuf::Timestamp* out) {
  if (when.empty()) return;
  std::string t = when;
  if (t.size() == 10) t += "T00:00:00Z";
  google::protobuf::Timestamp ts;
  if (google::protobuf::util::TimeUtil::FromString(t, &ts)) *out = ts;
}

std::string NumberText(const json& v) {
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  if (v.is_number_unsigned()) return std::to_string(v.get<uint64_t>());
  if (v.is_number_float()) return v.dump();
  return "";
}

void ReadPatient(const json& r, const std::string& id, absl::string_view where, FhirData* data) {
  FhirPatient p;
  p.id = id;
  accord::v1::IdentityRecord& identity = p.identity;
  const json& identifiers = Field(r, "identifier");
  if (identifiers.is_array()) {
    for (const json& i : identifiers) {
      if (Str(i, "system") != kNhsNumberSystem) continue;
      const std::string value = Str(i, "value");
      if (IsValidNhsNumber(value)) {
        for (char c : value) {
          if (c != ' ') p.nhs_number.push_back(c);
        }
      } else {
        data->problems.push_back(
            absl::StrCat(where, ": NHS number \"", value, "\" fails its check digit; the patient is kept without it"));
      }
    }
  }
  identity.set_nhs_number(p.nhs_number);
  const json& names = Field(r, "name");
  const json* chosen = nullptr;
  if (names.is_array()) {
    for (const json& n : names) {
      if (!n.is_object()) continue;
      if (chosen == nullptr || Str(n, "use") == "official") chosen = &n;
      if (Str(n, "use") == "official") break;
    }
  }
  if (chosen != nullptr) {
    identity.set_family_name(Str(*chosen, "family"));
    const json& given = Field(*chosen, "given");
    std::vector<std::string> parts;
    if (given.is_array()) {
      for (const json& g : given) {
        if (g.is_string()) parts.push_back(g.get<std::string>());
      }
    }
    identity.set_given_name(absl::StrJoin(parts, " "));
  }
  identity.set_birth_date(Str(r, "birthDate").substr(0, 10));
  identity.set_gender(Str(r, "gender"));
  const json& addresses = Field(r, "address");
  if (addresses.is_array()) {
    for (const json& a : addresses) {
      if (!a.is_object() || Str(a, "use") == "old") continue;
      const json& lines = Field(a, "line");
      if (lines.is_array()) {
        for (const json& l : lines) {
          if (l.is_string()) identity.add_address_lines(l.get<std::string>());
        }
      }
      for (const char* key : {"city", "district"}) {
        if (std::string v = Str(a, key); !v.empty()) identity.add_address_lines(v);
      }
      identity.set_postcode(absl::AsciiStrToUpper(Str(a, "postalCode")));
      break;
    }
  }
  if (!data->patients.emplace(id, std::move(p)).second) {
    data->problems.push_back(absl::StrCat(where, ": a Patient with this id was read before; this copy left out"));
  }
}

void ReadClinical(const json& r, const std::string& type, const std::string& id, absl::string_view where,
                  const std::set<std::string>& extra, FhirData* data) {
  const std::string patient = ReferenceId(Field(r, "subject"), "Patient");
  if (patient.empty()) {
    data->problems.push_back(absl::StrCat(where, ": subject is not a Patient reference; left out"));
    return;
  }
  accord::v1::Record record;
  record.set_source_id(absl::StrCat(type, "/", id));
  const bool mental = IsMentalHealthConcept(Field(r, "code"), extra) || IsMentalHealthCategory(Field(r, "category"));
  record.set_data_category(mental ? accord::v1::DATA_CATEGORY_MENTAL_HEALTH : accord::v1::DATA_CATEGORY_HEALTH);
  accord::v1::ClinicalRecord* c = record.mutable_clinical();
  const json& code = Field(r, "code");
  auto codings = Codings(code);
  if (!codings.empty()) {
    c->set_system(Str(*codings.front(), "system"));
    c->set_code(Str(*codings.front(), "code"));
    c->set_display(Str(*codings.front(), "display"));
  }
  if (std::string text = Str(code, "text"); !text.empty()) c->set_display(text);
  if (c->code().empty() && c->display().empty()) {
    data->problems.push_back(absl::StrCat(where, ": no code; left out"));
    return;
  }
  if (type == "Condition") {
    c->set_kind(accord::v1::ClinicalRecord::KIND_CONDITION);
    auto status = Codings(Field(r, "clinicalStatus"));
    if (!status.empty()) c->set_status(Str(*status.front(), "code"));
    SetTime(Str(r, "recordedDate").empty() ? Str(r, "onsetDateTime") : Str(r, "recordedDate"),
            record.mutable_record_time());
  } else {
    c->set_kind(accord::v1::ClinicalRecord::KIND_OBSERVATION);
    c->set_status(Str(r, "status"));
    if (const json& q = Field(r, "valueQuantity"); q.is_object()) {
      c->set_value(NumberText(Field(q, "value")));
      c->set_unit(Str(q, "unit").empty() ? Str(q, "code") : Str(q, "unit"));
    } else if (std::string s = Str(r, "valueString"); !s.empty()) {
      c->set_value(s);
    } else if (const json& i = Field(r, "valueInteger"); i.is_number()) {
      c->set_value(NumberText(i));
    } else if (const json& cc = Field(r, "valueCodeableConcept"); cc.is_object()) {
      auto vc = Codings(cc);
      c->set_value(!Str(cc, "text").empty() ? Str(cc, "text") : vc.empty() ? "" : Str(*vc.front(), "display"));
    }
    SetTime(Str(r, "effectiveDateTime").empty() ? Str(r, "issued") : Str(r, "effectiveDateTime"),
            record.mutable_record_time());
  }
  data->clinical.emplace(patient, std::move(record));
}

void ReadConsent(const json& r, const std::string& id, FhirData* data) {
  if (Str(r, "status") != "active") return;
  const json& provision = Field(r, "provision");
  if (Str(provision, "type") != "deny") return;
  for (const char* narrowing : {"data", "actor", "class", "code", "provision", "action", "securityLabel", "purpose"}) {
    if (!Field(provision, narrowing).is_null()) return;  // a narrower dissent: not modelled, not blanket
  }
  const std::string patient = ReferenceId(Field(r, "patient"), "Patient");
  if (!patient.empty()) data->dissent.emplace(patient, absl::StrCat("Consent/", id));
}

void ReadResource(const json& r, absl::string_view source, const std::set<std::string>& extra, FhirData* data,
                  int depth) {
  if (!r.is_object()) {
    data->problems.push_back(absl::StrCat(source, ": an entry is not a JSON object; left out"));
    return;
  }
  const std::string type = Str(r, "resourceType");
  const std::string id = Str(r, "id");
  if (type == "Bundle") {
    if (depth > 0) {
      data->problems.push_back(absl::StrCat(source, ": a Bundle inside a Bundle; left out"));
      return;
    }
    const json& entries = Field(r, "entry");
    if (!entries.is_array()) return;
    for (const json& e : entries) ReadResource(Field(e, "resource"), source, extra, data, depth + 1);
    return;
  }
  const std::string where = absl::StrCat(source, ": ", type.empty() ? "a resource" : type, "/", id);
  if (id.empty()) {
    data->problems.push_back(absl::StrCat(where, ": no id; left out"));
    return;
  }
  if (type == "Patient") {
    ReadPatient(r, id, where, data);
  } else if (type == "Condition" || type == "Observation") {
    ReadClinical(r, type, id, where, extra, data);
  } else if (type == "Consent") {
    ReadConsent(r, id, data);
  }  // other resource types are not records Accord serves
}

json Reference(absl::string_view kind, absl::string_view name) {
  return json{{"identifier", {{"system", absl::StrCat(kAccordSystem, kind)}, {"value", std::string(name)}}}};
}

}  // namespace

bool IsValidNhsNumber(absl::string_view nhs_number) {
  std::string digits;
  for (char c : nhs_number) {
    if (c == ' ') continue;
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return false;
    digits.push_back(c);
  }
  if (digits.size() != 10) return false;
  int sum = 0;
  for (int i = 0; i < 9; ++i) sum += (digits[i] - '0') * (10 - i);
  int check = 11 - sum % 11;
  if (check == 11) check = 0;
  return check != 10 && check == digits[9] - '0';
}

void ReadFhirDocument(absl::string_view text, absl::string_view source, const std::set<std::string>& extra,
                      FhirData* data) {
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    data->problems.push_back(absl::StrCat(source, ": not JSON; left out"));
    return;
  }
  try {
    ReadResource(doc, source, extra, data, 0);
  } catch (const std::exception& e) {
    data->problems.push_back(absl::StrCat(source, ": cannot be read (", e.what(), "); the rest of it left out"));
  }
}

std::string ReferralBundle(const accord::v1::Referral& referral) {
  const std::string id(absl::StripPrefix(referral.name(), "referrals/"));
  json reasons = json::array();
  for (const auto& need : referral.needs()) {
    const std::string type(absl::StripPrefix(accord::v1::NeedType_Name(need.type()), "NEED_TYPE_"));
    const std::string level(absl::StripPrefix(accord::v1::LevelOfNeed_Name(need.level()), "LEVEL_OF_NEED_"));
    reasons.push_back(
        {{"coding", json::array({{{"system", absl::StrCat(kAccordSystem, "need-type")}, {"code", type}}})},
         {"text", absl::StrCat(type, " (level ", static_cast<int>(need.level()), " ", level, ")")}});
  }
  std::string priority = "routine";
  if (referral.urgency() == accord::v1::URGENCY_PRIORITY) priority = "urgent";
  if (referral.urgency() == accord::v1::URGENCY_URGENT) priority = "asap";
  json categories = json::array();
  for (int c : referral.data_categories()) {
    categories.push_back(std::string(
        absl::StripPrefix(accord::v1::DataCategory_Name(static_cast<accord::v1::DataCategory>(c)), "DATA_CATEGORY_")));
  }
  std::string authored;
  if (referral.has_create_time()) authored = google::protobuf::util::TimeUtil::ToString(referral.create_time());

  json service_request = {
      {"resourceType", "ServiceRequest"},
      {"id", id},
      {"identifier", json::array({{{"system", absl::StrCat(kAccordSystem, "referral")}, {"value", referral.name()}}})},
      {"status", "active"},
      {"intent", "order"},
      {"priority", priority},
      {"subject", Reference("subject", referral.subject())},
      {"requester", Reference("partner", referral.referrer())},
      {"performer", json::array({Reference("service", referral.service())})},
      {"reasonCode", reasons}};
  if (!referral.background().empty()) service_request["note"] = json::array({{{"text", referral.background()}}});
  if (!authored.empty()) service_request["authoredOn"] = authored;
  json supporting = json::array();
  if (!referral.consent().empty()) supporting.push_back(Reference("consent", referral.consent()));
  if (!supporting.empty()) service_request["supportingInfo"] = supporting;
  if (!categories.empty()) {
    service_request["extension"] =
        json::array({{{"url", absl::StrCat(kAccordSystem, "StructureDefinition/shared-data-categories")},
                      {"valueString", absl::StrJoin(categories.get<std::vector<std::string>>(), " ")}}});
  }

  const std::string task_id = absl::StrCat("task-", id);
  json task = {{"resourceType", "Task"},
               {"id", task_id},
               {"status", "requested"},
               {"intent", "order"},
               {"priority", priority},
               {"focus", {{"reference", absl::StrCat("ServiceRequest/", id)}}},
               {"basedOn", json::array({{{"reference", absl::StrCat("ServiceRequest/", id)}}})},
               {"for", Reference("subject", referral.subject())},
               {"requester", Reference("partner", referral.referrer())}};
  if (!authored.empty()) task["authoredOn"] = authored;

  json bundle = {
      {"resourceType", "Bundle"},
      {"type", "transaction"},
      {"entry", json::array({{{"fullUrl", absl::StrCat("urn:accord:ServiceRequest:", id)},
                              {"resource", service_request},
                              {"request", {{"method", "PUT"}, {"url", absl::StrCat("ServiceRequest/", id)}}}},
                             {{"fullUrl", absl::StrCat("urn:accord:Task:", task_id)},
                              {"resource", task},
                              {"request", {{"method", "PUT"}, {"url", absl::StrCat("Task/", task_id)}}}}})}};
  return bundle.dump(2, ' ', false, json::error_handler_t::replace);
}

std::vector<plugin::v1::StatusChange> ReadTaskUpdates(absl::string_view text, absl::string_view source,
                                                      std::vector<std::string>* problems) {
  std::vector<plugin::v1::StatusChange> changes;
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) {
    problems->push_back(absl::StrCat(source, ": not JSON; nothing applied from it"));
    return changes;
  }
  std::vector<const json*> tasks;
  if (Str(doc, "resourceType") == "Bundle" && Field(doc, "entry").is_array()) {
    for (const json& e : Field(doc, "entry")) tasks.push_back(&Field(e, "resource"));
  } else {
    tasks.push_back(&doc);
  }
  for (const json* t : tasks) {
    const std::string where = absl::StrCat(source, ": Task/", Str(*t, "id"));
    if (Str(*t, "resourceType") != "Task") {
      problems->push_back(absl::StrCat(source, ": a ",
                                       Str(*t, "resourceType").empty() ? "non-resource" : Str(*t, "resourceType"),
                                       " is not a Task update; not applied"));
      continue;
    }
    std::string referral = ReferenceId(Field(*t, "focus"), "ServiceRequest");
    if (referral.empty() && Field(*t, "basedOn").is_array()) {
      for (const json& b : Field(*t, "basedOn")) {
        if (referral.empty()) referral = ReferenceId(b, "ServiceRequest");
      }
    }
    if (referral.empty()) {
      problems->push_back(absl::StrCat(where, ": names no ServiceRequest in focus or basedOn; not applied"));
      continue;
    }
    static const std::map<std::string, accord::v1::ReferralState>* kStates =
        new std::map<std::string, accord::v1::ReferralState>{{"received", accord::v1::REFERRAL_STATE_DELIVERED},
                                                             {"accepted", accord::v1::REFERRAL_STATE_ACCEPTED},
                                                             {"rejected", accord::v1::REFERRAL_STATE_DECLINED},
                                                             {"in-progress", accord::v1::REFERRAL_STATE_ACTIVE},
                                                             {"completed", accord::v1::REFERRAL_STATE_CLOSED}};
    const std::string status = Str(*t, "status");
    auto state = kStates->find(status);
    if (state == kStates->end()) {
      problems->push_back(absl::StrCat(where, ": status \"", status, "\" has no referral state; not applied"));
      continue;
    }
    plugin::v1::StatusChange change;
    change.set_referral(absl::StrCat("referrals/", referral));
    change.set_state(state->second);
    const json& reason = Field(*t, "statusReason");
    std::string why = Str(reason, "text");
    if (why.empty()) {
      auto codings = Codings(reason);
      if (!codings.empty()) why = Str(*codings.front(), "display");
    }
    if (why.empty()) why = Str(Field(*t, "businessStatus"), "text");
    change.set_reason(why);
    SetTime(Str(*t, "lastModified"), change.mutable_time());
    changes.push_back(std::move(change));
  }
  return changes;
}

}  // namespace accord::fhir_health
