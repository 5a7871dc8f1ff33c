#include "hub/server/sharing.h"

#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/domain/validation.h"

namespace accord::server {

absl::StatusOr<std::vector<domain::SharingAgreement>> AllAgreements(store::Store& store) {
  std::vector<domain::SharingAgreement> all;
  std::string after;
  for (;;) {
    auto page = store.ListAgreements(after, 1000);
    if (!page.ok()) return page.status();
    all.insert(all.end(), page->begin(), page->end());
    if (page->size() < 1000) return all;
    after = page->back().id;
  }
}

absl::StatusOr<domain::Decision> DecideNow(store::Store& store, domain::SharingRequest& req,
                                           const std::vector<domain::Consent>& consents) {
  absl::StatusOr<std::vector<domain::SharingAgreement>> agreements = AllAgreements(store);
  if (!agreements.ok()) return agreements.status();
  req.time = absl::Now();
  return domain::Decide(req, *agreements, consents);
}

store::NewEvent DecisionEvent(const domain::SharingRequest& req, const domain::Decision& decision,
                              const std::string& request, const std::string& details) {
  store::NewEvent e;
  e.subject_id = req.subject_id;
  e.details = details;
  bool allowed = decision.AllAllowed();
  v1::SharingEvent& ev = e.event;
  ev.set_kind(allowed ? v1::EVENT_KIND_DISCLOSURE : v1::EVENT_KIND_REFUSAL);
  ev.set_actor(domain::PartnerName(req.discloser.id));
  ev.set_recipient(domain::PartnerName(req.recipient.id));
  ev.set_subject(domain::SubjectName(req.subject_id));
  ev.set_purpose(req.purpose);
  std::set<std::string> consents, agreements, codes;
  bool safeguarding = false;
  for (const domain::CategoryDecision& d : decision.categories) {
    if (allowed) {
      ev.add_disclosed_categories(d.category);
    } else if (!d.allowed) {
      ev.add_refused_categories(d.category);
    }
    if (!d.reason.consent_id.empty() && consents.insert(d.reason.consent_id).second) {
      ev.add_consents(domain::ConsentName(d.reason.consent_id));
    }
    if (!d.reason.agreement_id.empty() && agreements.insert(d.reason.agreement_id).second) {
      ev.add_sharing_agreements(domain::AgreementName(d.reason.agreement_id));
    }
    std::string code(domain::ReasonCodeName(d.reason.code));
    if (codes.insert(code).second) ev.add_reason_codes(code);
    safeguarding |= d.reason.code == domain::ReasonCode::kAllowedBySafeguarding;
  }
  ev.set_basis(!allowed ? v1::BASIS_NONE : safeguarding ? v1::BASIS_SAFEGUARDING : v1::BASIS_CONSENT);
  ev.set_dpo_alert(allowed && decision.dpo_alert);
  ev.set_request(request);
  return e;
}

absl::StatusOr<domain::Partner> PartnerNamed(store::Store& store, const std::string& name, absl::string_view field) {
  absl::StatusOr<std::string> id = domain::ParsePartnerName(name, field);
  if (!id.ok()) return id.status();
  absl::StatusOr<domain::Partner> partner = store.GetPartner(*id);
  if (absl::IsNotFound(partner.status())) return absl::NotFoundError(absl::StrCat(field, ": no partner ", *id));
  return partner;
}

std::vector<store::NewEvent> PartialDecisionEvents(const domain::SharingRequest& request,
                                                   const domain::Decision& decision, bool disclosed,
                                                   const std::string& rpc) {
  std::vector<store::NewEvent> events;
  for (bool allowed : {true, false}) {
    if (allowed && !disclosed) continue;
    store::NewEvent e;
    std::set<std::string> agreements, consents, codes;
    for (const domain::CategoryDecision& d : decision.categories) {
      if (d.allowed != allowed) continue;
      if (allowed) {
        e.event.add_disclosed_categories(d.category);
      } else {
        e.event.add_refused_categories(d.category);
      }
      std::string code(domain::ReasonCodeName(d.reason.code));
      if (codes.insert(code).second) e.event.add_reason_codes(code);
      if (!d.reason.agreement_id.empty()) agreements.insert(domain::AgreementName(d.reason.agreement_id));
      if (!d.reason.consent_id.empty()) consents.insert(domain::ConsentName(d.reason.consent_id));
    }
    if (e.event.reason_codes().empty()) continue;
    e.subject_id = request.subject_id;
    e.event.set_kind(allowed ? v1::EVENT_KIND_DISCLOSURE : v1::EVENT_KIND_REFUSAL);
    e.event.set_actor(domain::PartnerName(request.discloser.id));
    e.event.set_recipient(domain::PartnerName(request.recipient.id));
    e.event.set_subject(domain::SubjectName(request.subject_id));
    e.event.set_purpose(request.purpose);
    const bool safeguarding = request.lawful_basis.has_value();
    e.event.set_basis(!allowed ? v1::BASIS_NONE : safeguarding ? v1::BASIS_SAFEGUARDING : v1::BASIS_CONSENT);
    e.event.set_dpo_alert(allowed && decision.dpo_alert);
    for (const std::string& a : agreements) e.event.add_sharing_agreements(a);
    for (const std::string& c : consents) e.event.add_consents(c);
    e.event.set_request(rpc);
    if (allowed && safeguarding) e.details = request.lawful_basis->justification;
    events.push_back(std::move(e));
  }
  return events;
}

std::string RefusalText(const domain::Decision& decision) {
  for (const domain::CategoryDecision& d : decision.categories) {
    if (d.allowed) continue;
    return absl::StrCat(v1::DataCategory_Name(d.category), ": ", domain::ReasonCodeName(d.reason.code), " (",
                        d.reason.text, ")");
  }
  return "no category was requested";
}

}  // namespace accord::server
