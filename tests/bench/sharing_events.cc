#include "tests/bench/sharing_events.h"

#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace accord::bench {
namespace {

std::string Hex(std::mt19937_64& rng) { return absl::StrFormat("%016x", rng()); }

const char* const kPartners[] = {"oakfield-primary-school", "riverside-academy", "st-marys-ce-primary",
                                 "northgate-high-school",   "riverside-camhs",   "county-early-help",
                                 "childrens-social-care",   "kooth-online",      "mind-youth-counselling",
                                 "family-action-mentoring", "school-nursing",    "young-carers-trust"};

}  // namespace

std::string SubjectId(uint64_t n) { return absl::StrFormat("%016x", n * 0x9E3779B97F4A7C15ull); }

// An event as services write them: mostly disclosures under consent, some refusals, consent
// changes, links and DPO reads; personal free text on about four in ten.
store::NewEvent MakeEvent(std::mt19937_64& rng, uint64_t children) {
  store::NewEvent e;
  e.subject_id = SubjectId(rng() % children);
  v1::SharingEvent& ev = e.event;
  ev.set_subject(absl::StrCat("subjects/", e.subject_id));
  const int roll = static_cast<int>(rng() % 100);
  const char* actor = kPartners[rng() % std::size(kPartners)];
  const char* recipient = kPartners[rng() % std::size(kPartners)];
  ev.set_actor(absl::StrCat("partners/", actor));
  auto categories = [&](google::protobuf::RepeatedField<int>* out) {
    int n = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < n; ++i) out->Add(1 + static_cast<int>(rng() % 10));
  };
  if (roll < 55) {
    ev.set_kind(v1::EVENT_KIND_DISCLOSURE);
    ev.set_recipient(absl::StrCat("partners/", recipient));
    ev.set_purpose(static_cast<v1::Purpose>(1 + rng() % 5));
    categories(ev.mutable_disclosed_categories());
    bool safeguarding = rng() % 50 == 0;
    ev.set_basis(safeguarding ? v1::BASIS_SAFEGUARDING : v1::BASIS_CONSENT);
    ev.set_dpo_alert(safeguarding);
    if (!safeguarding) ev.add_consents(absl::StrCat("consents/", Hex(rng)));
    ev.add_sharing_agreements(absl::StrCat("sharingAgreements/", Hex(rng)));
    ev.set_request(absl::StrCat("RecordService/RequestRecords ", Hex(rng)));
    if (safeguarding || rng() % 4 == 0) {
      e.details = "Disclosed at the request of the lead professional after the strategy meeting; mother informed.";
    }
  } else if (roll < 65) {
    ev.set_kind(v1::EVENT_KIND_REFUSAL);
    ev.set_recipient(absl::StrCat("partners/", recipient));
    ev.set_purpose(static_cast<v1::Purpose>(1 + rng() % 5));
    categories(ev.mutable_refused_categories());
    ev.set_basis(v1::BASIS_NONE);
    ev.add_reason_codes("NO_CONSENT");
    ev.set_request(absl::StrCat("RecordService/RequestRecords ", Hex(rng)));
  } else if (roll < 80) {
    ev.set_kind(rng() % 4 == 0 ? v1::EVENT_KIND_CONSENT_WITHDRAWN : v1::EVENT_KIND_CONSENT_RECORDED);
    ev.set_basis(v1::BASIS_NONE);
    ev.add_consents(absl::StrCat("consents/", Hex(rng)));
    ev.set_request("ConsentService/RecordConsent");
    e.details = "Young person agreed in a meeting with the school nurse; copy of the form on file.";
  } else if (roll < 95) {
    ev.set_kind(v1::EVENT_KIND_SUBJECT_LINKED);
    ev.set_basis(v1::BASIS_NONE);
    ev.set_request("SubjectService/ResolveSubject");
  } else {
    ev.set_kind(v1::EVENT_KIND_LOG_READ);
    ev.set_actor("partners/county-dpo");
    ev.set_basis(v1::BASIS_NONE);
    ev.set_request("AuditService/QueryEvents");
  }
  return e;
}

}  // namespace accord::bench
