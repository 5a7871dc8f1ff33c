// Gathering what the sharing decision reads (every agreement, the subject's consents) and turning
// its result into sharing-log events. Every service that discloses goes through here.
#ifndef ACCORD_HUB_SERVER_DECIDE_H_
#define ACCORD_HUB_SERVER_DECIDE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/domain/decision.h"
#include "hub/store/store.h"

namespace accord::server {

// Every agreement, in id order (the decision reads them in a stable order).
absl::StatusOr<std::vector<domain::SharingAgreement>> AllAgreements(store::Store& store);

// The partner "partners/{id}" names: INVALID_ARGUMENT or NOT_FOUND naming `field`.
absl::StatusOr<domain::Partner> PartnerNamed(store::Store& store, const std::string& name, absl::string_view field);

// The events recording `decision` for `request`: one DISCLOSURE of the allowed categories (when
// `disclosed` and any are allowed) and one REFUSAL of the denied ones (when any), each with the
// agreements, consents and reason codes the decision relied on.
std::vector<store::NewEvent> DecisionEvents(const domain::SharingRequest& request, const domain::Decision& decision,
                                            bool disclosed, const std::string& rpc);

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_DECIDE_H_
