#include "hub/domain/referral.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "hub/domain/validation.h"

namespace accord::domain {
namespace {

using ::accord::v1::REFERRAL_STATE_ACCEPTED;
using ::accord::v1::REFERRAL_STATE_ACTIVE;
using ::accord::v1::REFERRAL_STATE_CLOSED;
using ::accord::v1::REFERRAL_STATE_DECLINED;
using ::accord::v1::REFERRAL_STATE_DELIVERED;
using ::accord::v1::REFERRAL_STATE_SUBMITTED;
using ::accord::v1::REFERRAL_STATE_WAITLISTED;
using ::accord::v1::REFERRAL_STATE_WITHDRAWN;

constexpr absl::Duration kMaxWait = absl::Hours(24 * 730);

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsBlank(absl::string_view text) { return absl::StripAsciiWhitespace(text).empty(); }

bool HasControlExceptLines(absl::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    unsigned char u = static_cast<unsigned char>(c);
    return (u < 0x20 && c != '\n' && c != '\r' && c != '\t') || u == 0x7f;
  });
}

absl::Status ValidateText(absl::string_view text, absl::string_view field, size_t max, bool required) {
  if (text.empty()) return required ? Invalid(field, "is required") : absl::OkStatus();
  if (text.size() > max) return Invalid(field, absl::StrCat("must be at most ", max, " characters"));
  if (required && IsBlank(text)) return Invalid(field, "must not be blank");
  if (HasControlExceptLines(text)) return Invalid(field, "must not contain control characters");
  return absl::OkStatus();
}

// Ids the store generates (and subjects' and consents' resource names carry): 1-64 of [a-z0-9].
bool IsOpaqueId(absl::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); });
}

bool IsHex(char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

template <typename T>
std::vector<T> Sorted(std::vector<T> values) {
  std::sort(values.begin(), values.end());
  return values;
}

std::vector<std::pair<int, int>> NeedKeys(const std::vector<Need>& needs) {
  std::vector<std::pair<int, int>> keys;
  for (const Need& n : needs) keys.emplace_back(static_cast<int>(n.type), static_cast<int>(n.level));
  return Sorted(std::move(keys));
}

absl::Status ValidateDecline(const Decline& d) {
  int reason = static_cast<int>(d.reason);
  if (reason == 0) return Invalid("decline.reason", "a reason is required");
  if (!::accord::v1::DeclineReason_IsValid(reason)) {
    return Invalid("decline.reason", absl::StrCat("unknown reason ", reason));
  }
  if (d.reason == ::accord::v1::DECLINE_REASON_OTHER && IsBlank(d.text)) {
    return Invalid("decline.text", "required when the reason is OTHER");
  }
  if (auto s = ValidateText(d.text, "decline.text", 2000, false); !s.ok()) return s;
  bool has_sector = d.redirect_sector != ::accord::v1::SECTOR_UNSPECIFIED;
  if (!d.redirect_service_id.empty()) {
    if (has_sector) return Invalid("decline.redirect_sector", "redirect to a service or a sector, not both");
    if (auto s = ValidateServiceId(d.redirect_service_id, "decline.redirect_service"); !s.ok()) return s;
  }
  if (has_sector && !::accord::v1::Sector_IsValid(d.redirect_sector)) {
    return Invalid("decline.redirect_sector", absl::StrCat("unknown sector ", static_cast<int>(d.redirect_sector)));
  }
  return absl::OkStatus();
}

absl::Status ValidateClosure(const Closure& c) {
  int reason = static_cast<int>(c.reason);
  if (reason == 0) return Invalid("closure.reason", "a reason is required");
  if (!::accord::v1::ClosureReason_IsValid(reason)) {
    return Invalid("closure.reason", absl::StrCat("unknown reason ", reason));
  }
  if (c.reason == ::accord::v1::CLOSURE_REASON_OTHER && IsBlank(c.text)) {
    return Invalid("closure.text", "required when the reason is OTHER");
  }
  return ValidateText(c.text, "closure.text", 2000, false);
}

absl::Status PermissionDenied(Side side, absl::string_view what) {
  return absl::PermissionDeniedError(absl::StrCat("only the ", SideName(side), " may ", what));
}

// How the permission refusal reads for each action: "only the provider may accept a referral".
absl::string_view ActionObject(ReferralAction action) {
  switch (action) {
    case ReferralAction::kAcknowledgeDelivery: return "acknowledge delivery of a referral";
    case ReferralAction::kAccept: return "accept a referral";
    case ReferralAction::kDecline: return "decline a referral";
    case ReferralAction::kWaitlist: return "waitlist a referral";
    case ReferralAction::kStartSupport: return "start support";
    case ReferralAction::kClose: return "close a referral";
    case ReferralAction::kWithdraw: return "withdraw a referral";
  }
  return "change a referral";
}

}  // namespace

absl::string_view ReferralStateName(ReferralState state) {
  switch (state) {
    case ::accord::v1::REFERRAL_STATE_UNSPECIFIED: return "UNSPECIFIED";
    case REFERRAL_STATE_SUBMITTED: return "SUBMITTED";
    case REFERRAL_STATE_DELIVERED: return "DELIVERED";
    case REFERRAL_STATE_ACCEPTED: return "ACCEPTED";
    case REFERRAL_STATE_DECLINED: return "DECLINED";
    case REFERRAL_STATE_WAITLISTED: return "WAITLISTED";
    case REFERRAL_STATE_ACTIVE: return "ACTIVE";
    case REFERRAL_STATE_CLOSED: return "CLOSED";
    case REFERRAL_STATE_WITHDRAWN: return "WITHDRAWN";
    default: break;
  }
  return "UNKNOWN";
}

absl::string_view UrgencyName(Urgency urgency) {
  switch (urgency) {
    case ::accord::v1::URGENCY_UNSPECIFIED: return "UNSPECIFIED";
    case ::accord::v1::URGENCY_ROUTINE: return "ROUTINE";
    case ::accord::v1::URGENCY_PRIORITY: return "PRIORITY";
    case ::accord::v1::URGENCY_URGENT: return "URGENT";
    default: break;
  }
  return "UNKNOWN";
}

absl::string_view DeclineReasonName(DeclineReason reason) {
  switch (reason) {
    case ::accord::v1::DECLINE_REASON_UNSPECIFIED: return "UNSPECIFIED";
    case ::accord::v1::DECLINE_REASON_ABOVE_THRESHOLD: return "ABOVE_THRESHOLD";
    case ::accord::v1::DECLINE_REASON_BELOW_THRESHOLD: return "BELOW_THRESHOLD";
    case ::accord::v1::DECLINE_REASON_OUT_OF_AREA: return "OUT_OF_AREA";
    case ::accord::v1::DECLINE_REASON_NO_CAPACITY: return "NO_CAPACITY";
    case ::accord::v1::DECLINE_REASON_DUPLICATE: return "DUPLICATE";
    case ::accord::v1::DECLINE_REASON_FAMILY_DECLINED: return "FAMILY_DECLINED";
    case ::accord::v1::DECLINE_REASON_OTHER: return "OTHER";
    default: break;
  }
  return "UNKNOWN";
}

absl::string_view ClosureReasonName(ClosureReason reason) {
  switch (reason) {
    case ::accord::v1::CLOSURE_REASON_UNSPECIFIED: return "UNSPECIFIED";
    case ::accord::v1::CLOSURE_REASON_SUPPORT_COMPLETED: return "SUPPORT_COMPLETED";
    case ::accord::v1::CLOSURE_REASON_DISENGAGED: return "DISENGAGED";
    case ::accord::v1::CLOSURE_REASON_STEPPED_UP: return "STEPPED_UP";
    case ::accord::v1::CLOSURE_REASON_STEPPED_DOWN: return "STEPPED_DOWN";
    case ::accord::v1::CLOSURE_REASON_MOVED_AWAY: return "MOVED_AWAY";
    case ::accord::v1::CLOSURE_REASON_OTHER: return "OTHER";
    default: break;
  }
  return "UNKNOWN";
}

bool IsFinal(ReferralState state) {
  switch (state) {
    case REFERRAL_STATE_SUBMITTED:
    case REFERRAL_STATE_DELIVERED:
    case REFERRAL_STATE_ACCEPTED:
    case REFERRAL_STATE_WAITLISTED:
    case REFERRAL_STATE_ACTIVE:
      return false;
    default:
      return true;
  }
}

std::string ReferralName(absl::string_view id) { return absl::StrCat("referrals/", id); }

absl::StatusOr<std::string> ParseReferralName(absl::string_view name, absl::string_view field) {
  constexpr absl::string_view kPrefix = "referrals/";
  if (!absl::StartsWith(name, kPrefix) || !IsOpaqueId(name.substr(kPrefix.size()))) {
    return Invalid(field, "must look like \"referrals/{referral_id}\"");
  }
  return std::string(name.substr(kPrefix.size()));
}

absl::StatusOr<std::string> NormalizeIdempotencyKey(absl::string_view key, absl::string_view field) {
  if (key.empty()) return Invalid(field, "is required");
  bool ok = key.size() == 36;
  for (size_t i = 0; ok && i < key.size(); ++i) {
    bool dash_here = i == 8 || i == 13 || i == 18 || i == 23;
    ok = dash_here ? key[i] == '-' : IsHex(key[i]);
  }
  if (!ok) return Invalid(field, "must be a UUID such as 123e4567-e89b-42d3-a456-426614174000");
  std::string lower = absl::AsciiStrToLower(key);
  if (lower == "00000000-0000-0000-0000-000000000000") return Invalid(field, "must not be the nil UUID");
  return lower;
}

absl::StatusOr<Referral> ValidateNewReferral(const Referral& in) {
  Referral r = in;
  if (auto s = ValidateServiceId(r.service_id, "referral.service"); !s.ok()) return s;
  if (!IsOpaqueId(r.subject_id)) return Invalid("referral.subject", "must be a subject id (1-64 of [a-z0-9])");
  if (auto s = ValidateNeeds(r.needs, "referral.needs"); !s.ok()) return s;
  if (auto s = ValidateText(r.background, "referral.background", 10000, true); !s.ok()) return s;
  int urgency = static_cast<int>(r.urgency);
  if (urgency == 0 || !::accord::v1::Urgency_IsValid(urgency)) {
    return Invalid("referral.urgency", "ROUTINE, PRIORITY or URGENT is required");
  }
  if (r.consent_id.empty() && !r.lawful_basis.has_value()) {
    return Invalid("referral.consent", "a consent or a lawful basis is required");
  }
  if (!r.consent_id.empty() && r.lawful_basis.has_value()) {
    return Invalid("referral.lawful_basis", "give a consent or a lawful basis, not both");
  }
  if (!r.consent_id.empty() && !IsOpaqueId(r.consent_id)) {
    return Invalid("referral.consent", "must be a consent id (1-64 of [a-z0-9])");
  }
  if (r.lawful_basis.has_value()) {
    if (r.lawful_basis->kind != LawfulBasisKind::kSafeguarding) {
      return Invalid("referral.lawful_basis.kind", "SAFEGUARDING is the only lawful basis besides consent");
    }
    if (IsBlank(r.lawful_basis->justification)) {
      return Invalid("referral.lawful_basis.justification", "a written justification is required");
    }
    if (auto s = ValidateText(r.lawful_basis->justification, "referral.lawful_basis.justification", 2000, true);
        !s.ok()) {
      return s;
    }
  }
  if (auto s = ValidateCategories(r.categories, "referral.data_categories"); !s.ok()) return s;
  absl::StatusOr<std::string> key = NormalizeIdempotencyKey(r.idempotency_key, "referral.idempotency_key");
  if (!key.ok()) return key.status();
  r.idempotency_key = *std::move(key);
  return r;
}

bool SameSubmission(const Referral& a, const Referral& b) {
  auto basis = [](const Referral& r) {
    return r.lawful_basis ? std::make_pair(static_cast<int>(r.lawful_basis->kind), r.lawful_basis->justification)
                          : std::make_pair(-1, std::string());
  };
  return a.service_id == b.service_id && a.subject_id == b.subject_id && NeedKeys(a.needs) == NeedKeys(b.needs) &&
         a.background == b.background && a.urgency == b.urgency && a.consent_id == b.consent_id &&
         basis(a) == basis(b) && Sorted(a.categories) == Sorted(b.categories);
}

absl::string_view SideName(Side side) { return side == Side::kReferrer ? "referrer" : "provider"; }

Sides SidesOf(const Referral& referral, absl::string_view partner_id) {
  Sides sides;
  if (partner_id.empty()) return sides;
  sides.referrer = referral.referrer_id == partner_id;
  sides.provider = referral.provider_id == partner_id;
  return sides;
}

absl::string_view ReferralActionName(ReferralAction action) {
  switch (action) {
    case ReferralAction::kAcknowledgeDelivery: return "ACKNOWLEDGE_DELIVERY";
    case ReferralAction::kAccept: return "ACCEPT";
    case ReferralAction::kDecline: return "DECLINE";
    case ReferralAction::kWaitlist: return "WAITLIST";
    case ReferralAction::kStartSupport: return "START_SUPPORT";
    case ReferralAction::kClose: return "CLOSE";
    case ReferralAction::kWithdraw: return "WITHDRAW";
  }
  return "UNKNOWN";
}

absl::string_view ReferralActionVerb(ReferralAction action) {
  switch (action) {
    case ReferralAction::kAcknowledgeDelivery: return "acknowledge delivery";
    case ReferralAction::kAccept: return "accept";
    case ReferralAction::kDecline: return "decline";
    case ReferralAction::kWaitlist: return "waitlist";
    case ReferralAction::kStartSupport: return "start support";
    case ReferralAction::kClose: return "close";
    case ReferralAction::kWithdraw: return "withdraw";
  }
  return "change";
}

Side ActionSide(ReferralAction action) {
  return action == ReferralAction::kWithdraw ? Side::kReferrer : Side::kProvider;
}

ReferralState ActionTarget(ReferralAction action) {
  switch (action) {
    case ReferralAction::kAcknowledgeDelivery: return REFERRAL_STATE_DELIVERED;
    case ReferralAction::kAccept: return REFERRAL_STATE_ACCEPTED;
    case ReferralAction::kDecline: return REFERRAL_STATE_DECLINED;
    case ReferralAction::kWaitlist: return REFERRAL_STATE_WAITLISTED;
    case ReferralAction::kStartSupport: return REFERRAL_STATE_ACTIVE;
    case ReferralAction::kClose: return REFERRAL_STATE_CLOSED;
    case ReferralAction::kWithdraw: return REFERRAL_STATE_WITHDRAWN;
  }
  return ::accord::v1::REFERRAL_STATE_UNSPECIFIED;
}

bool IsAllowedFrom(ReferralState from, ReferralAction action) {
  switch (action) {
    case ReferralAction::kAcknowledgeDelivery:
      return from == REFERRAL_STATE_SUBMITTED;
    case ReferralAction::kAccept:
    case ReferralAction::kDecline:
      return from == REFERRAL_STATE_DELIVERED || from == REFERRAL_STATE_WAITLISTED;
    case ReferralAction::kWaitlist:
      return from == REFERRAL_STATE_DELIVERED;
    case ReferralAction::kStartSupport:
      return from == REFERRAL_STATE_ACCEPTED;
    case ReferralAction::kClose:
      return from == REFERRAL_STATE_ACTIVE;
    case ReferralAction::kWithdraw:
      return from == REFERRAL_STATE_SUBMITTED || from == REFERRAL_STATE_DELIVERED ||
             from == REFERRAL_STATE_WAITLISTED || from == REFERRAL_STATE_ACCEPTED;
  }
  return false;
}

std::vector<ReferralAction> AvailableActions(ReferralState from, Sides sides) {
  std::vector<ReferralAction> actions;
  for (ReferralAction action : kAllReferralActions) {
    if (sides.Has(ActionSide(action)) && IsAllowedFrom(from, action)) actions.push_back(action);
  }
  return actions;
}

absl::Status CheckTransition(ReferralState from, ReferralAction action, Sides caller) {
  if (!caller.Has(ActionSide(action))) return PermissionDenied(ActionSide(action), ActionObject(action));
  if (!IsAllowedFrom(from, action)) {
    return absl::FailedPreconditionError(
        absl::StrCat("referral is ", ReferralStateName(from), "; cannot ", ReferralActionVerb(action)));
  }
  return absl::OkStatus();
}

absl::Status ValidateChange(const ReferralChange& c) {
  const ReferralAction a = c.action;
  if (a != ReferralAction::kDecline && c.decline.has_value()) return Invalid("decline", "only a decline carries one");
  if (a != ReferralAction::kWaitlist && c.expected_wait.has_value()) {
    return Invalid("expected_wait", "only a waitlisting carries one");
  }
  if (a != ReferralAction::kWaitlist && c.waitlist_position.has_value()) {
    return Invalid("position", "only a waitlisting carries one");
  }
  if (a != ReferralAction::kClose && c.closure.has_value()) return Invalid("closure", "only a closure carries one");
  if (a != ReferralAction::kWithdraw && !c.withdraw_reason.empty()) {
    return Invalid("reason", "only a withdrawal carries one");
  }
  switch (a) {
    case ReferralAction::kDecline:
      if (!c.decline.has_value()) return Invalid("decline", "is required");
      return ValidateDecline(*c.decline);
    case ReferralAction::kWaitlist:
      if (c.expected_wait.has_value() && (*c.expected_wait < absl::ZeroDuration() || *c.expected_wait > kMaxWait)) {
        return Invalid("expected_wait", "must be 0-730 days");
      }
      if (c.waitlist_position.has_value() && (*c.waitlist_position < 1 || *c.waitlist_position > 10000)) {
        return Invalid("position", "must be 1-10000");
      }
      return absl::OkStatus();
    case ReferralAction::kClose:
      if (!c.closure.has_value()) return Invalid("closure", "is required");
      return ValidateClosure(*c.closure);
    case ReferralAction::kWithdraw:
      if (c.withdraw_reason.empty() || IsBlank(c.withdraw_reason)) return Invalid("reason", "a reason is required");
      return ValidateText(c.withdraw_reason, "reason", 1000, true);
    default:
      return absl::OkStatus();
  }
}

absl::Status ApplyChange(Referral& referral, const ReferralChange& change, absl::Time at) {
  if (auto s = ValidateChange(change); !s.ok()) return s;
  if (change.decline.has_value() && !change.decline->redirect_service_id.empty() &&
      change.decline->redirect_service_id == referral.service_id) {
    return Invalid("decline.redirect_service", "must be another service");
  }
  if (auto s = CheckTransition(referral.state, change.action, SidesOf(referral, change.actor_id)); !s.ok()) {
    return s;
  }
  referral.state = ActionTarget(change.action);
  switch (change.action) {
    case ReferralAction::kDecline:
      referral.decline = change.decline;
      break;
    case ReferralAction::kWaitlist:
      referral.expected_wait = change.expected_wait;
      referral.waitlist_position = change.waitlist_position;
      break;
    case ReferralAction::kClose:
      referral.closure = change.closure;
      break;
    case ReferralAction::kWithdraw:
      referral.withdraw_reason = change.withdraw_reason;
      break;
    default:
      break;
  }
  referral.update_time = at;
  referral.history.push_back(StateChange{referral.state, change.actor_id, at});
  return absl::OkStatus();
}

absl::Status CheckRecordOutcome(ReferralState state, Sides caller) {
  if (!caller.provider) return absl::PermissionDeniedError("only the provider may record outcomes");
  if (state != REFERRAL_STATE_ACTIVE && state != REFERRAL_STATE_CLOSED) {
    return absl::FailedPreconditionError(absl::StrCat("referral is ", ReferralStateName(state), "; cannot record outcomes"));
  }
  return absl::OkStatus();
}

std::vector<EarlierReferral> CarriedHistory(const Referral& referral, const std::vector<Referral>& chain) {
  std::vector<EarlierReferral> out;
  for (const Referral& earlier : chain) {
    bool covered = true;
    for (DataCategory c : earlier.categories) {
      covered &= std::find(referral.categories.begin(), referral.categories.end(), c) != referral.categories.end();
    }
    if (!covered) break;
    EarlierReferral e;
    e.service_id = earlier.service_id;
    e.state = earlier.state;
    e.needs = earlier.needs;
    if (earlier.decline) e.decline_reason = earlier.decline->reason;
    if (earlier.closure) e.closure_reason = earlier.closure->reason;
    e.create_time = earlier.create_time;
    out.push_back(std::move(e));
  }
  return out;
}

bool IsOpen(ReferralState state) {
  switch (state) {
    case ::accord::v1::REFERRAL_STATE_SUBMITTED:
    case ::accord::v1::REFERRAL_STATE_DELIVERED:
    case ::accord::v1::REFERRAL_STATE_ACCEPTED:
    case ::accord::v1::REFERRAL_STATE_WAITLISTED:
    case ::accord::v1::REFERRAL_STATE_ACTIVE:
      return true;
    default:
      return false;
  }
}

Referral VisibleTo(const Referral& referral, absl::string_view partner_id) {
  Sides sides = SidesOf(referral, partner_id);
  if (!sides.Any()) return referral;
  Referral out = referral;
  out.history.clear();
  for (const StateChange& change : referral.history) {
    if (change.withheld && change.actor_id != partner_id) continue;
    out.history.push_back(change);
  }
  if (out.history.size() == referral.history.size()) return out;
  out.state = out.history.empty() ? ::accord::v1::REFERRAL_STATE_SUBMITTED : out.history.back().state;
  out.update_time = out.history.empty() ? out.create_time : out.history.back().time;
  if (out.state != ::accord::v1::REFERRAL_STATE_DECLINED) out.decline.reset();
  if (out.state != ::accord::v1::REFERRAL_STATE_CLOSED) out.closure.reset();
  if (out.state != ::accord::v1::REFERRAL_STATE_WITHDRAWN) out.withdraw_reason.clear();
  bool waitlisted = false;
  for (const StateChange& change : out.history) waitlisted |= change.state == ::accord::v1::REFERRAL_STATE_WAITLISTED;
  if (!waitlisted) {
    out.expected_wait.reset();
    out.waitlist_position.reset();
  }
  return out;
}

}  // namespace accord::domain
