// What every service that discloses needs around domain::Decide: the inputs gathered from the
// store in a stable order, and the sharing-log line recording the decision.
#ifndef ACCORD_HUB_SERVER_SHARING_H_
#define ACCORD_HUB_SERVER_SHARING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/domain/decision.h"
#include "hub/store/store.h"

namespace accord::server {

// Every agreement, in id order (the decision reads them in a stable order).
absl::StatusOr<std::vector<domain::SharingAgreement>> AllAgreements(store::Store& store);

// Decides `req` now against every agreement and `consents`. Fails (closed) only when the store
// cannot be read; refusals are decisions.
absl::StatusOr<domain::Decision> DecideNow(store::Store& store, domain::SharingRequest& req,
                                           const std::vector<domain::Consent>& consents);

// The sharing-log line for a decision: DISCLOSURE of the allowed categories when every category
// is allowed, otherwise REFUSAL naming the refused ones; basis, consents, agreements and reason
// codes from the decision. `details` (personal free text) is sealed with the subject's key.
store::NewEvent DecisionEvent(const domain::SharingRequest& req, const domain::Decision& decision,
                              const std::string& request, const std::string& details = "");

// The partner "partners/{id}" names: INVALID_ARGUMENT or NOT_FOUND naming `field`.
absl::StatusOr<domain::Partner> PartnerNamed(store::Store& store, const std::string& name, absl::string_view field);

// For disclosures that go ahead with the allowed part of a request (records): one DISCLOSURE of
// the allowed categories (when `disclosed` and any are allowed) and one REFUSAL of the denied
// ones (when any), each with the agreements, consents and reason codes it relied on.
std::vector<store::NewEvent> PartialDecisionEvents(const domain::SharingRequest& request,
                                                   const domain::Decision& decision, bool disclosed,
                                                   const std::string& rpc);

// "MENTAL_HEALTH: NO_CONSENT (no consent covers ...)" for the first refused category.
std::string RefusalText(const domain::Decision& decision);

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_SHARING_H_
