// The sharing decision: the one function every disclosure of personal data goes through
// (DESIGN.md §3, invariants 2, 3 and 7). Pure: the caller gathers the partners, the agreements and
// the subject's consents, passes the moment the disclosure would happen, and gets back, for each
// requested data category, allow or deny with the reason as data — to log it as a sharing event,
// return it to the caller and show it to a DPO.
//
// Rules. A category is allowed only when BOTH
//   (a) an agreement in force at `time` (valid_from <= time < valid_until) covers discloser ->
//       recipient (Party::Covers on both sides), the purpose and the category; AND
//   (b) a consent for this subject that is ACTIVE at `time` (see ConsentStatusAt) covers the
//       purpose, the category and the recipient (a consent naming a partner covers only that
//       partner; one naming a sector covers its partners);
// where a SAFEGUARDING lawful basis with a justification that is not blank replaces (b) — never
// (a) — and makes the decision raise a DPO alert. Anything doubtful denies (fail closed).
#ifndef ACCORD_HUB_DOMAIN_DECISION_H_
#define ACCORD_HUB_DOMAIN_DECISION_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "hub/domain/consent.h"
#include "hub/domain/types.h"

namespace accord::domain {

// A recorded lawful basis other than consent. Only SAFEGUARDING exists today.
enum class LawfulBasisKind {
  kUnspecified = 0,
  kSafeguarding = 1,  // sharing without consent to protect a child; always alerts the DPOs
};

struct LawfulBasis {
  LawfulBasisKind kind = LawfulBasisKind::kUnspecified;
  std::string justification;  // why; must not be blank
};

// One attempted disclosure: `discloser` would send `categories` about `subject_id` to `recipient`
// for `purpose` at `time`.
struct SharingRequest {
  Partner discloser;
  Partner recipient;
  std::string subject_id;
  Purpose purpose = ::accord::v1::PURPOSE_UNSPECIFIED;
  std::vector<DataCategory> categories;
  absl::Time time;
  std::optional<LawfulBasis> lawful_basis;  // unset: consent is required
};

// Why a category was allowed or denied. Request-level codes (kInvalidRequest ..
// kJustificationMissing) deny every category alike; the others are decided per category, in the
// order listed: the agreement first, then the consent or lawful basis.
enum class ReasonCode {
  // Allowed.
  kAllowedByConsent,       // (a) agreement_id, (b) consent_id
  kAllowedBySafeguarding,  // (a) agreement_id, safeguarding basis instead of consent; alerts DPOs

  // Denied for the whole request, checked in this order.
  kInvalidRequest,        // subject_id empty; purpose unspecified/unknown; categories empty, with an
                          // unspecified/unknown value or a repeat; lawful basis of unknown kind;
                          // discloser/recipient without an id or with an unspecified/unknown
                          // sector. The text names the first offending field.
  kDiscloserNotActive,    // discloser suspended, revoked or in an unknown state
  kRecipientNotActive,    // recipient suspended, revoked or in an unknown state
  kJustificationMissing,  // safeguarding basis claimed with a blank justification

  // Denied for one category by (a). Agreements without an id are ignored: a disclosure must name
  // the agreement it relied on.
  kNoAgreement,          // no agreement covers discloser -> recipient, purpose and category
  kAgreementNotInForce,  // agreements cover it, but none at `time`; agreement_id = the first such

  // Denied for one category by (b); agreement_id names the agreement that satisfied (a). A consent
  // "covers" when it is for this subject and its scope lists the purpose, the category and the
  // recipient. The first covering consent that is usable allows; when none is, the first covering
  // one gives the reason and its id.
  kNoConsent,           // no consent covers
  kConsentInvalid,      // it has no id, an unknown given_by or an empty window (until <= from)
  kConsentWithdrawn,    // it is withdrawn (see ConsentStatusAt)
  kConsentNotYetValid,  // it starts after `time`
  kConsentExpired,      // it ended at or before `time`
};

// "ALLOWED_BY_CONSENT", "NO_AGREEMENT", ... (stable: stored in the sharing log).
absl::string_view ReasonCodeName(ReasonCode code);
bool IsAllowed(ReasonCode code);

// A reason as data. The ids are empty when they do not apply. "First" above means first in the
// order the caller passed the agreements or consents, so pass them in a stable order (e.g. by id)
// for decisions that repeat identically.
struct Reason {
  ReasonCode code = ReasonCode::kInvalidRequest;
  std::string agreement_id;
  std::string consent_id;
  std::string text;  // for people; never contains identifiers of the subject
};

struct CategoryDecision {
  DataCategory category = ::accord::v1::DATA_CATEGORY_UNSPECIFIED;
  bool allowed = false;
  Reason reason;
};

struct Decision {
  // Set when the whole request was refused by a request-level check; every category then repeats
  // this reason. Unset when each category was decided on its own.
  std::optional<Reason> request_refusal;
  // One entry per requested category, in request order (so repeats and unknown values of an
  // invalid request appear too, denied). Empty only when the request named no category.
  std::vector<CategoryDecision> categories;
  // True when at least one category is allowed on the safeguarding basis: the DPOs must be told.
  bool dpo_alert = false;

  bool AnyAllowed() const;
  bool AllAllowed() const;  // false when there are no categories
  // The categories that may be disclosed, in request order: only these may leave (minimisation).
  std::vector<DataCategory> AllowedCategories() const;
};

// Decides `req` against `agreements` and `consents` (any, in a stable order: consents for other
// subjects are ignored). Never fails: every problem with the inputs is a denial with its reason.
// Deterministic and thread-safe; reads nothing but its arguments. Only the codes and ids are a
// stable contract, the texts may be reworded.
Decision Decide(const SharingRequest& req, absl::Span<const SharingAgreement> agreements,
                absl::Span<const Consent> consents);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_DECISION_H_
