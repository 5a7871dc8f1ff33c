// Referrals (DESIGN.md §2): a child referred by a referrer to a provider's service, and the state
// machine that tracks it to a decision and through support. Plain values and pure functions: no
// I/O, time is always passed in, thread-safe.
//
// States and the changes allowed, with the side that may make each (every other change is
// refused):
//
//   action                 from                                     to          side
//   kAcknowledgeDelivery   SUBMITTED                                DELIVERED   provider
//   kAccept                DELIVERED, WAITLISTED                    ACCEPTED    provider
//   kDecline               DELIVERED, WAITLISTED                    DECLINED    provider
//   kWaitlist              DELIVERED                                WAITLISTED  provider
//   kStartSupport          ACCEPTED                                 ACTIVE      provider
//   kClose                 ACTIVE                                   CLOSED      provider
//   kWithdraw              SUBMITTED, DELIVERED, WAITLISTED, ACCEPTED  WITHDRAWN  referrer
//
// DECLINED, CLOSED and WITHDRAWN are final. A refused change is, checked in this order:
//   INVALID_ARGUMENT     the change's own details (a decline without a reason, ...), field first;
//   PERMISSION_DENIED    the caller is not the side the action belongs to
//                        ("only the provider may accept a referral");
//   FAILED_PRECONDITION  the action is not allowed from the current state, naming it
//                        ("referral is DECLINED; cannot start support").
// A refused change leaves the referral untouched.
#ifndef ACCORD_HUB_DOMAIN_REFERRAL_H_
#define ACCORD_HUB_DOMAIN_REFERRAL_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "accord/v1/referral.pb.h"
#include "hub/domain/decision.h"
#include "hub/domain/directory.h"
#include "hub/domain/types.h"

namespace accord::domain {

using ReferralState = ::accord::v1::ReferralState;
using Urgency = ::accord::v1::Urgency;
using DeclineReason = ::accord::v1::DeclineReason;
using ClosureReason = ::accord::v1::ClosureReason;

// "SUBMITTED", "DELIVERED", ..., "UNKNOWN" for a value this code does not know.
absl::string_view ReferralStateName(ReferralState state);
absl::string_view UrgencyName(Urgency urgency);              // "ROUTINE", "PRIORITY", "URGENT"
absl::string_view DeclineReasonName(DeclineReason reason);   // "ABOVE_THRESHOLD", ..., "OTHER"
absl::string_view ClosureReasonName(ClosureReason reason);   // "SUPPORT_COMPLETED", ..., "OTHER"

// True for DECLINED, CLOSED and WITHDRAWN (and for unknown values: nothing may follow them).
bool IsFinal(ReferralState state);

// Why a provider declined, and where the child might go instead.
struct Decline {
  DeclineReason reason = ::accord::v1::DECLINE_REASON_UNSPECIFIED;
  std::string text;                 // required for OTHER; at most 2000 characters
  std::string redirect_service_id;  // another service, or
  Sector redirect_sector = ::accord::v1::SECTOR_UNSPECIFIED;  // a kind of service; not both
};

// How support ended.
struct Closure {
  ClosureReason reason = ::accord::v1::CLOSURE_REASON_UNSPECIFIED;
  std::string text;  // required for OTHER; at most 2000 characters
};

// One state entered, by whom, when.
struct StateChange {
  ReferralState state = ::accord::v1::REFERRAL_STATE_UNSPECIFIED;
  std::string actor_id;  // partner id
  absl::Time time;
  // The sharing decision did not let the other party be told of this change: it sees the
  // referral as it stood before (see VisibleTo).
  bool withheld = false;
};

// What a linked referral carries of an earlier one: structured facts, no free text.
struct EarlierReferral {
  std::string service_id;
  ReferralState state = ::accord::v1::REFERRAL_STATE_UNSPECIFIED;
  std::vector<Need> needs;
  DeclineReason decline_reason = ::accord::v1::DECLINE_REASON_UNSPECIFIED;
  ClosureReason closure_reason = ::accord::v1::CLOSURE_REASON_UNSPECIFIED;
  absl::Time create_time;
};

struct Referral {
  std::string id;           // assigned by the store
  std::string service_id;
  std::string referrer_id;  // the submitting partner (the caller; never a request field)
  std::string provider_id;  // the partner that published the service
  std::string subject_id;
  std::vector<Need> needs;
  std::string background;
  Urgency urgency = ::accord::v1::URGENCY_UNSPECIFIED;
  std::string consent_id;                   // the consent relied on, or
  std::optional<LawfulBasis> lawful_basis;  // another lawful basis; exactly one
  std::vector<DataCategory> categories;     // what the referral carries to the provider
  std::string idempotency_key;              // canonical (lower-case) UUID
  std::string previous_id;                  // the referral this one follows on from, if any
  ::accord::v1::ReferralLink link = ::accord::v1::REFERRAL_LINK_UNSPECIFIED;  // set with previous_id
  // Other open referrals of the child when this one was submitted, as the provider was told of
  // them: their services, and how many it could not be told of.
  std::vector<std::string> concurrent_service_ids;
  int concurrent_undisclosed = 0;
  // The chain of referrals this one follows on from, nearest first, as far as consent allows
  // (see CarriedHistory).
  std::vector<EarlierReferral> earlier;

  ReferralState state = ::accord::v1::REFERRAL_STATE_UNSPECIFIED;
  std::optional<Decline> decline;               // set on DECLINED
  std::optional<absl::Duration> expected_wait;  // set on WAITLISTED when the provider said
  std::optional<int> waitlist_position;         // set on WAITLISTED when the provider said
  std::optional<Closure> closure;               // set on CLOSED
  std::string withdraw_reason;                  // set on WITHDRAWN
  std::vector<StateChange> history;             // oldest first, from SUBMITTED
  absl::Time create_time;
  absl::Time update_time;
};

// Resource names: "referrals/{id}" <-> id (ids: 1-64 of [a-z0-9]).
std::string ReferralName(absl::string_view id);
absl::StatusOr<std::string> ParseReferralName(absl::string_view name, absl::string_view field = "name");

// An idempotency key: a UUID in RFC 4122 text form (8-4-4-4-12 hex digits, any case), not the nil
// UUID. Returns it in lower case.
absl::StatusOr<std::string> NormalizeIdempotencyKey(absl::string_view key, absl::string_view field);

// Input rules for a referral about to be submitted; on OK returns it with the idempotency key in
// lower case. Paths as the caller sends them:
//   referral.service          a valid service id
//   referral.subject          1-64 of [a-z0-9]
//   referral.needs            as ValidateNeeds: at least one, known types, levels 1-4, no repeats
//   referral.background       1-10000 characters, not blank
//   referral.urgency          ROUTINE, PRIORITY or URGENT
//   referral.consent          exactly one of a consent (1-64 of [a-z0-9]) or
//   referral.lawful_basis     a lawful basis: SAFEGUARDING with a justification that is not blank
//   referral.data_categories  at least one, known, no repeats
//   referral.idempotency_key  required, as NormalizeIdempotencyKey
// The id, parties, state and times are the hub's to set and are not checked. Whether the service,
// subject and consent exist, and whether sharing is allowed, is the caller's concern.
absl::StatusOr<Referral> ValidateNewReferral(const Referral& referral);

// True when `retry` asks for the same referral as `original` (same service, subject, needs,
// background, urgency, consent or lawful basis and categories, in any order of needs and
// categories): a retried submission with the same idempotency key is answered with the original
// only then; otherwise the key was reused for a different referral.
bool SameSubmission(const Referral& original, const Referral& retry);

// The two parties of a referral.
enum class Side { kReferrer, kProvider };
absl::string_view SideName(Side side);  // "referrer", "provider"

// The sides a caller holds in one referral: none, one, or both (a partner referring a child to its
// own service).
struct Sides {
  bool referrer = false;
  bool provider = false;

  bool Has(Side side) const { return side == Side::kReferrer ? referrer : provider; }
  bool Any() const { return referrer || provider; }
};
Sides SidesOf(const Referral& referral, absl::string_view partner_id);

enum class ReferralAction {
  kAcknowledgeDelivery,
  kAccept,
  kDecline,
  kWaitlist,
  kStartSupport,
  kClose,
  kWithdraw,
};
inline constexpr ReferralAction kAllReferralActions[] = {
    ReferralAction::kAcknowledgeDelivery, ReferralAction::kAccept,       ReferralAction::kDecline,
    ReferralAction::kWaitlist,            ReferralAction::kStartSupport, ReferralAction::kClose,
    ReferralAction::kWithdraw,
};

absl::string_view ReferralActionName(ReferralAction action);  // "ACKNOWLEDGE_DELIVERY", ...
// As it reads after "cannot": "acknowledge delivery", "accept", ..., "start support", ...
absl::string_view ReferralActionVerb(ReferralAction action);
Side ActionSide(ReferralAction action);
ReferralState ActionTarget(ReferralAction action);
// True when the table above allows `action` from `from` (whoever asks).
bool IsAllowedFrom(ReferralState from, ReferralAction action);
// The actions `sides` may take from `from`, in ReferralAction order (e.g. to offer in a UI).
std::vector<ReferralAction> AvailableActions(ReferralState from, Sides sides);

// OK, or PERMISSION_DENIED when `caller` does not hold the action's side, or FAILED_PRECONDITION
// "referral is <STATE>; cannot <verb>" when the action is not allowed from `from`.
absl::Status CheckTransition(ReferralState from, ReferralAction action, Sides caller);

// A change a party asks for, with the details its action needs.
struct ReferralChange {
  ReferralAction action = ReferralAction::kAcknowledgeDelivery;
  std::string actor_id;                         // the calling partner
  std::optional<Decline> decline;               // kDecline: required
  std::optional<absl::Duration> expected_wait;  // kWaitlist: optional, 0-730 days
  std::optional<int> waitlist_position;         // kWaitlist: optional, 1-10000 (1: next)
  std::optional<Closure> closure;               // kClose: required
  std::string withdraw_reason;                  // kWithdraw: required, 1-1000 characters
};

// The change's own details, with paths as the RPCs name them:
//   "decline: is required" / "decline.reason: a reason is required" / "decline.text: required
//   when the reason is OTHER" / "decline.redirect_service: ..." / "decline.redirect_sector: ...";
//   "expected_wait: must be 0-730 days"; "position: must be 1-10000"; "closure.reason: ..." / "closure.text: ...";
//   "reason: ..." (withdrawal). Details that do not belong to the action are refused
//   ("decline: only a decline carries one").
absl::Status ValidateChange(const ReferralChange& change);

// Applies `change` to `referral` at `at`: checks, in order, ValidateChange, a redirect to the
// declining service itself ("decline.redirect_service: must be another service"), the caller's
// sides (SidesOf the actor) and the state (CheckTransition); then sets the new state, its details
// (decline, expected_wait and waitlist_position, closure, withdraw_reason; the waiting-list
// details are kept when a waitlisted referral is accepted), update_time and appends to the history. Nothing changes on error.
absl::Status ApplyChange(Referral& referral, const ReferralChange& change, absl::Time at);

// What `referral` (being submitted) may carry of `chain` (its previous referral, that one's
// previous, ...; nearest first): the leading referrals whose data categories are all among those
// `referral` carries — the decision allowed exactly those to the new provider — stopping at the
// first that carries more. Structured facts only (EarlierReferral).
std::vector<EarlierReferral> CarriedHistory(const Referral& referral, const std::vector<Referral>& chain);

// True for the states a referral is still open in: SUBMITTED, DELIVERED, ACCEPTED, WAITLISTED,
// ACTIVE.
bool IsOpen(ReferralState state);

// The referral as `partner_id` may know it: a party sees every change it made itself and every
// change of the other party's that was not withheld from it; the state is the last one it sees,
// and the details (decline, closure, withdrawal reason, expected wait) of changes it does not see
// are removed. A partner that is neither party gets the referral unchanged (callers check sides
// first).
Referral VisibleTo(const Referral& referral, absl::string_view partner_id);

// Outcome measures may be recorded by the provider while the referral is ACTIVE or CLOSED:
// PERMISSION_DENIED ("only the provider may record outcomes") or FAILED_PRECONDITION
// ("referral is ACCEPTED; cannot record outcomes").
absl::Status CheckRecordOutcome(ReferralState state, Sides caller);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_REFERRAL_H_
