// The referral state machine, exhaustively: every (state, action, caller's sides) combination
// against a table written out independently of the implementation; then the details each change
// carries, the order of refusals, and the input rules of a new referral.
#include "hub/domain/referral.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace accord::domain {
namespace {

using ::accord::v1::DATA_CATEGORY_EDUCATION;
using ::accord::v1::DATA_CATEGORY_IDENTITY;
using ::accord::v1::DATA_CATEGORY_MENTAL_HEALTH;
using ::accord::v1::DATA_CATEGORY_UNSPECIFIED;
using ::accord::v1::LEVEL_OF_NEED_ADDITIONAL;
using ::accord::v1::LEVEL_OF_NEED_TARGETED;
using ::accord::v1::NEED_TYPE_ANXIETY;
using ::accord::v1::NEED_TYPE_SCHOOL_ATTENDANCE;
using ::accord::v1::REFERRAL_STATE_ACCEPTED;
using ::accord::v1::REFERRAL_STATE_ACTIVE;
using ::accord::v1::REFERRAL_STATE_CLOSED;
using ::accord::v1::REFERRAL_STATE_DECLINED;
using ::accord::v1::REFERRAL_STATE_DELIVERED;
using ::accord::v1::REFERRAL_STATE_SUBMITTED;
using ::accord::v1::REFERRAL_STATE_UNSPECIFIED;
using ::accord::v1::REFERRAL_STATE_WAITLISTED;
using ::accord::v1::REFERRAL_STATE_WITHDRAWN;
using ::testing::ElementsAre;
using ::testing::StartsWith;

using A = ReferralAction;

const absl::Time kT0 = absl::FromUnixSeconds(1'760'000'000);

// Every state a stored referral can hold, plus two it must never act on.
const ReferralState kStates[] = {
    REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_DELIVERED, REFERRAL_STATE_ACCEPTED,
    REFERRAL_STATE_DECLINED,  REFERRAL_STATE_WAITLISTED, REFERRAL_STATE_ACTIVE,
    REFERRAL_STATE_CLOSED,    REFERRAL_STATE_WITHDRAWN,  REFERRAL_STATE_UNSPECIFIED,
    static_cast<ReferralState>(42),
};

// DESIGN.md §2, written out by hand: (from, action) -> to. Everything absent is illegal.
struct Legal {
  ReferralState from;
  ReferralAction action;
  ReferralState to;
};
const Legal kLegal[] = {
    {REFERRAL_STATE_SUBMITTED, A::kAcknowledgeDelivery, REFERRAL_STATE_DELIVERED},
    {REFERRAL_STATE_DELIVERED, A::kAccept, REFERRAL_STATE_ACCEPTED},
    {REFERRAL_STATE_DELIVERED, A::kDecline, REFERRAL_STATE_DECLINED},
    {REFERRAL_STATE_DELIVERED, A::kWaitlist, REFERRAL_STATE_WAITLISTED},
    {REFERRAL_STATE_WAITLISTED, A::kAccept, REFERRAL_STATE_ACCEPTED},
    {REFERRAL_STATE_WAITLISTED, A::kDecline, REFERRAL_STATE_DECLINED},
    {REFERRAL_STATE_ACCEPTED, A::kStartSupport, REFERRAL_STATE_ACTIVE},
    {REFERRAL_STATE_ACTIVE, A::kClose, REFERRAL_STATE_CLOSED},
    {REFERRAL_STATE_SUBMITTED, A::kWithdraw, REFERRAL_STATE_WITHDRAWN},
    {REFERRAL_STATE_DELIVERED, A::kWithdraw, REFERRAL_STATE_WITHDRAWN},
    {REFERRAL_STATE_WAITLISTED, A::kWithdraw, REFERRAL_STATE_WITHDRAWN},
    {REFERRAL_STATE_ACCEPTED, A::kWithdraw, REFERRAL_STATE_WITHDRAWN},
};

const Legal* FindLegal(ReferralState from, ReferralAction action) {
  for (const Legal& l : kLegal) {
    if (l.from == from && l.action == action) return &l;
  }
  return nullptr;
}

// Only withdrawing is the referrer's; every other change is the provider's.
bool ProviderAction(ReferralAction action) { return action != A::kWithdraw; }

const Sides kNobody{false, false};
const Sides kReferrer{true, false};
const Sides kProvider{false, true};
const Sides kBoth{true, true};

std::string SidesText(Sides s) { return absl::StrCat("referrer=", s.referrer, " provider=", s.provider); }

Referral Submitted() {
  Referral r;
  r.id = "r1";
  r.service_id = "counselling";
  r.referrer_id = "oakfield";
  r.provider_id = "mind-leeds";
  r.subject_id = "5f2c9a";
  r.needs = {{NEED_TYPE_ANXIETY, LEVEL_OF_NEED_ADDITIONAL}};
  r.background = "Worries about school have stopped her attending since half term.";
  r.urgency = ::accord::v1::URGENCY_ROUTINE;
  r.consent_id = "c7";
  r.categories = {DATA_CATEGORY_IDENTITY, DATA_CATEGORY_MENTAL_HEALTH};
  r.idempotency_key = "6F9619FF-8B86-4011-B42D-00C04FC964FF";
  r.state = REFERRAL_STATE_SUBMITTED;
  r.history = {StateChange{REFERRAL_STATE_SUBMITTED, "oakfield", kT0}};
  r.create_time = r.update_time = kT0;
  return r;
}

// A change with the details its action needs, made by `actor`.
ReferralChange ChangeFor(ReferralAction action, std::string actor) {
  ReferralChange c;
  c.action = action;
  c.actor_id = std::move(actor);
  if (action == A::kDecline) c.decline = Decline{::accord::v1::DECLINE_REASON_NO_CAPACITY, "", "", {}};
  if (action == A::kClose) c.closure = Closure{::accord::v1::CLOSURE_REASON_SUPPORT_COMPLETED, ""};
  if (action == A::kWithdraw) c.withdraw_reason = "Family moved out of the area.";
  return c;
}

std::string ActorFor(ReferralAction action) { return ProviderAction(action) ? "mind-leeds" : "oakfield"; }

void ExpectInvalid(const absl::Status& status, absl::string_view path) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(absl::StrCat(path, ": "))) << status;
}

void ExpectUnchanged(const Referral& before, const Referral& after) {
  EXPECT_EQ(after.state, before.state);
  EXPECT_EQ(after.history.size(), before.history.size());
  EXPECT_EQ(after.update_time, before.update_time);
  EXPECT_EQ(after.decline.has_value(), before.decline.has_value());
  EXPECT_EQ(after.closure.has_value(), before.closure.has_value());
  EXPECT_EQ(after.expected_wait.has_value(), before.expected_wait.has_value());
  EXPECT_EQ(after.withdraw_reason, before.withdraw_reason);
}

// ---- the table, exhaustively ----------------------------------------------------------------------

TEST(ReferralStateMachine, TableMatchesDesignForEveryStateActionAndSide) {
  int legal_seen = 0;
  for (ReferralState from : kStates) {
    for (ReferralAction action : kAllReferralActions) {
      const Legal* legal = FindLegal(from, action);
      EXPECT_EQ(IsAllowedFrom(from, action), legal != nullptr)
          << ReferralStateName(from) << " " << ReferralActionName(action);
      if (legal != nullptr) {
        ++legal_seen;
        EXPECT_EQ(ActionTarget(action), legal->to);
      }
      for (Sides sides : {kNobody, kReferrer, kProvider, kBoth}) {
        SCOPED_TRACE(absl::StrCat(ReferralStateName(from), " ", ReferralActionName(action), " ", SidesText(sides)));
        bool side_ok = ProviderAction(action) ? sides.provider : sides.referrer;
        absl::Status s = CheckTransition(from, action, sides);
        if (!side_ok) {
          EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
          EXPECT_THAT(std::string(s.message()),
                      StartsWith(ProviderAction(action) ? "only the provider may " : "only the referrer may "));
        } else if (legal == nullptr) {
          EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
          EXPECT_EQ(s.message(),
                    absl::StrCat("referral is ", ReferralStateName(from), "; cannot ", ReferralActionVerb(action)));
        } else {
          EXPECT_TRUE(s.ok()) << s;
        }
      }
    }
  }
  EXPECT_EQ(legal_seen, 12);
}

TEST(ReferralStateMachine, EveryLegalChangeAppliesAndRecordsHistory) {
  for (const Legal& l : kLegal) {
    SCOPED_TRACE(absl::StrCat(ReferralStateName(l.from), " ", ReferralActionName(l.action)));
    Referral r = Submitted();
    r.state = l.from;
    const absl::Time at = kT0 + absl::Hours(1);
    ASSERT_TRUE(ApplyChange(r, ChangeFor(l.action, ActorFor(l.action)), at).ok());
    EXPECT_EQ(r.state, l.to);
    EXPECT_EQ(r.update_time, at);
    ASSERT_EQ(r.history.size(), 2u);
    EXPECT_EQ(r.history.back().state, l.to);
    EXPECT_EQ(r.history.back().actor_id, ActorFor(l.action));
    EXPECT_EQ(r.history.back().time, at);
  }
}

TEST(ReferralStateMachine, EveryIllegalChangeFromEveryStateIsRefusedAndChangesNothing) {
  int refused = 0;
  for (ReferralState from : kStates) {
    for (ReferralAction action : kAllReferralActions) {
      if (FindLegal(from, action) != nullptr) continue;
      SCOPED_TRACE(absl::StrCat(ReferralStateName(from), " ", ReferralActionName(action)));
      Referral r = Submitted();
      r.state = from;
      const Referral before = r;
      absl::Status s = ApplyChange(r, ChangeFor(action, ActorFor(action)), kT0 + absl::Hours(1));
      EXPECT_EQ(s.code(), absl::StatusCode::kFailedPrecondition) << s;
      EXPECT_THAT(std::string(s.message()), StartsWith(absl::StrCat("referral is ", ReferralStateName(from), ";")));
      ExpectUnchanged(before, r);
      ++refused;
    }
  }
  EXPECT_EQ(refused, 10 * 7 - 12);
}

TEST(ReferralStateMachine, TheWrongSideIsRefusedInEveryStateAndChangesNothing) {
  for (ReferralState from : kStates) {
    for (ReferralAction action : kAllReferralActions) {
      for (const char* actor : {"oakfield", "mind-leeds", "someone-else", ""}) {
        bool right = std::string(actor) == ActorFor(action);
        if (right) continue;
        SCOPED_TRACE(absl::StrCat(ReferralStateName(from), " ", ReferralActionName(action), " by '", actor, "'"));
        Referral r = Submitted();
        r.state = from;
        const Referral before = r;
        absl::Status s = ApplyChange(r, ChangeFor(action, actor), kT0 + absl::Hours(1));
        EXPECT_EQ(s.code(), absl::StatusCode::kPermissionDenied) << s;
        ExpectUnchanged(before, r);
      }
    }
  }
}

TEST(ReferralStateMachine, MessagesReadAsDocumented) {
  EXPECT_EQ(CheckTransition(REFERRAL_STATE_DECLINED, A::kStartSupport, kProvider).message(),
            "referral is DECLINED; cannot start support");
  EXPECT_EQ(CheckTransition(REFERRAL_STATE_DELIVERED, A::kAccept, kReferrer).message(),
            "only the provider may accept a referral");
  EXPECT_EQ(CheckTransition(REFERRAL_STATE_DELIVERED, A::kWithdraw, kProvider).message(),
            "only the referrer may withdraw a referral");
  EXPECT_EQ(CheckTransition(REFERRAL_STATE_DELIVERED, A::kAcknowledgeDelivery, kProvider).message(),
            "referral is DELIVERED; cannot acknowledge delivery");
}

TEST(ReferralStateMachine, FinalStates) {
  std::set<ReferralState> finals;
  for (ReferralState s : kStates) {
    if (IsFinal(s)) finals.insert(s);
    // A state is final exactly when no action leaves it.
    bool any = false;
    for (ReferralAction a : kAllReferralActions) any = any || IsAllowedFrom(s, a);
    EXPECT_EQ(IsFinal(s), !any) << ReferralStateName(s);
  }
  EXPECT_EQ(finals, (std::set<ReferralState>{REFERRAL_STATE_DECLINED, REFERRAL_STATE_CLOSED, REFERRAL_STATE_WITHDRAWN,
                                              REFERRAL_STATE_UNSPECIFIED, static_cast<ReferralState>(42)}));
}

TEST(ReferralStateMachine, AvailableActionsPerSide) {
  EXPECT_THAT(AvailableActions(REFERRAL_STATE_DELIVERED, kProvider), ElementsAre(A::kAccept, A::kDecline, A::kWaitlist));
  EXPECT_THAT(AvailableActions(REFERRAL_STATE_DELIVERED, kReferrer), ElementsAre(A::kWithdraw));
  EXPECT_THAT(AvailableActions(REFERRAL_STATE_WAITLISTED, kBoth), ElementsAre(A::kAccept, A::kDecline, A::kWithdraw));
  EXPECT_THAT(AvailableActions(REFERRAL_STATE_ACTIVE, kReferrer), ElementsAre());
  EXPECT_THAT(AvailableActions(REFERRAL_STATE_CLOSED, kBoth), ElementsAre());
}

TEST(ReferralStateMachine, APartnerReferringToItsOwnServiceHoldsBothSides) {
  Referral r = Submitted();
  r.provider_id = r.referrer_id;
  Sides sides = SidesOf(r, "oakfield");
  EXPECT_TRUE(sides.referrer);
  EXPECT_TRUE(sides.provider);
  EXPECT_FALSE(SidesOf(r, "").Any());
  EXPECT_TRUE(ApplyChange(r, ChangeFor(A::kAcknowledgeDelivery, "oakfield"), kT0).ok());
  EXPECT_TRUE(ApplyChange(r, ChangeFor(A::kWithdraw, "oakfield"), kT0).ok());
}

TEST(ReferralStateMachine, AWholeJourney) {
  Referral r = Submitted();
  const std::string p = "mind-leeds";
  ReferralChange wait = ChangeFor(A::kWaitlist, p);
  wait.expected_wait = absl::Hours(24 * 21);
  ASSERT_TRUE(ApplyChange(r, ChangeFor(A::kAcknowledgeDelivery, p), kT0 + absl::Minutes(1)).ok());
  ASSERT_TRUE(ApplyChange(r, wait, kT0 + absl::Minutes(2)).ok());
  ASSERT_TRUE(ApplyChange(r, ChangeFor(A::kAccept, p), kT0 + absl::Minutes(3)).ok());
  ASSERT_TRUE(ApplyChange(r, ChangeFor(A::kStartSupport, p), kT0 + absl::Minutes(4)).ok());
  ASSERT_TRUE(ApplyChange(r, ChangeFor(A::kClose, p), kT0 + absl::Minutes(5)).ok());
  EXPECT_EQ(r.state, REFERRAL_STATE_CLOSED);
  EXPECT_EQ(r.expected_wait, absl::Hours(24 * 21));  // kept after acceptance from the list
  ASSERT_TRUE(r.closure.has_value());
  EXPECT_EQ(r.closure->reason, ::accord::v1::CLOSURE_REASON_SUPPORT_COMPLETED);
  std::vector<ReferralState> states;
  for (const StateChange& c : r.history) states.push_back(c.state);
  EXPECT_THAT(states, ElementsAre(REFERRAL_STATE_SUBMITTED, REFERRAL_STATE_DELIVERED, REFERRAL_STATE_WAITLISTED,
                                  REFERRAL_STATE_ACCEPTED, REFERRAL_STATE_ACTIVE, REFERRAL_STATE_CLOSED));
  EXPECT_EQ(r.update_time, kT0 + absl::Minutes(5));
}

// ---- the details a change carries ----------------------------------------------------------------------

Referral Delivered() {
  Referral r = Submitted();
  r.state = REFERRAL_STATE_DELIVERED;
  return r;
}

absl::Status DeclineWith(Decline d, Referral* out = nullptr) {
  Referral r = Delivered();
  ReferralChange c = ChangeFor(A::kDecline, "mind-leeds");
  c.decline = std::move(d);
  absl::Status s = ApplyChange(r, c, kT0);
  if (out != nullptr) *out = r;
  return s;
}

TEST(Decline, NeedsAReasonAndWordsForOther) {
  ExpectInvalid(DeclineWith(Decline{}), "decline.reason");
  EXPECT_EQ(DeclineWith(Decline{}).message(), "decline.reason: a reason is required");
  ExpectInvalid(DeclineWith(Decline{static_cast<DeclineReason>(99), "", "", {}}), "decline.reason");
  ExpectInvalid(DeclineWith(Decline{::accord::v1::DECLINE_REASON_OTHER, "  ", "", {}}), "decline.text");
  ExpectInvalid(DeclineWith(Decline{::accord::v1::DECLINE_REASON_ABOVE_THRESHOLD, std::string(2001, 'x'), "", {}}),
                "decline.text");
  EXPECT_TRUE(DeclineWith(Decline{::accord::v1::DECLINE_REASON_OTHER, "Runs in term time only.", "", {}}).ok());

  ReferralChange missing = ChangeFor(A::kDecline, "mind-leeds");
  missing.decline.reset();
  Referral r = Delivered();
  ExpectInvalid(ApplyChange(r, missing, kT0), "decline");
}

TEST(Decline, EveryReasonIsAccepted) {
  for (int v = 1; ::accord::v1::DeclineReason_IsValid(v); ++v) {
    DeclineReason reason = static_cast<DeclineReason>(v);
    std::string text = reason == ::accord::v1::DECLINE_REASON_OTHER ? "why" : "";
    EXPECT_TRUE(DeclineWith(Decline{reason, text, "", {}}).ok()) << DeclineReasonName(reason);
    EXPECT_NE(DeclineReasonName(reason), "UNKNOWN");
  }
  EXPECT_EQ(DeclineReasonName(::accord::v1::DECLINE_REASON_FAMILY_DECLINED), "FAMILY_DECLINED");
}

TEST(Decline, MayRedirectToAnotherServiceOrASector) {
  Referral r;
  ASSERT_TRUE(DeclineWith(Decline{::accord::v1::DECLINE_REASON_ABOVE_THRESHOLD, "", "", ::accord::v1::SECTOR_SOCIAL_CARE},
                          &r)
                  .ok());
  ASSERT_TRUE(r.decline.has_value());
  EXPECT_EQ(r.decline->redirect_sector, ::accord::v1::SECTOR_SOCIAL_CARE);
  EXPECT_EQ(r.state, REFERRAL_STATE_DECLINED);

  EXPECT_TRUE(DeclineWith(Decline{::accord::v1::DECLINE_REASON_BELOW_THRESHOLD, "", "early-help-hub", {}}).ok());
  ExpectInvalid(DeclineWith(Decline{::accord::v1::DECLINE_REASON_BELOW_THRESHOLD, "", "counselling", {}}),
                "decline.redirect_service");
  ExpectInvalid(DeclineWith(Decline{::accord::v1::DECLINE_REASON_BELOW_THRESHOLD, "", "Bad Id", {}}),
                "decline.redirect_service");
  ExpectInvalid(DeclineWith(Decline{::accord::v1::DECLINE_REASON_BELOW_THRESHOLD, "", "early-help-hub",
                                    ::accord::v1::SECTOR_EARLY_HELP}),
                "decline.redirect_sector");
  ExpectInvalid(
      DeclineWith(Decline{::accord::v1::DECLINE_REASON_BELOW_THRESHOLD, "", "", static_cast<Sector>(77)}),
      "decline.redirect_sector");
}

TEST(Closure, NeedsAReasonAndWordsForOther) {
  Referral r = Submitted();
  r.state = REFERRAL_STATE_ACTIVE;
  ReferralChange c = ChangeFor(A::kClose, "mind-leeds");
  c.closure = Closure{};
  ExpectInvalid(ApplyChange(r, c, kT0), "closure.reason");
  c.closure = Closure{::accord::v1::CLOSURE_REASON_OTHER, ""};
  ExpectInvalid(ApplyChange(r, c, kT0), "closure.text");
  c.closure.reset();
  ExpectInvalid(ApplyChange(r, c, kT0), "closure");
  EXPECT_EQ(r.state, REFERRAL_STATE_ACTIVE);
  c.closure = Closure{::accord::v1::CLOSURE_REASON_STEPPED_UP, "Referred on to children's social care."};
  EXPECT_TRUE(ApplyChange(r, c, kT0).ok());
}

TEST(Withdraw, NeedsAReason) {
  Referral r = Submitted();
  ReferralChange c = ChangeFor(A::kWithdraw, "oakfield");
  c.withdraw_reason = " ";
  ExpectInvalid(ApplyChange(r, c, kT0), "reason");
  c.withdraw_reason = std::string(1001, 'x');
  ExpectInvalid(ApplyChange(r, c, kT0), "reason");
  c.withdraw_reason = "Parent asked us to withdraw.";
  ASSERT_TRUE(ApplyChange(r, c, kT0).ok());
  EXPECT_EQ(r.withdraw_reason, "Parent asked us to withdraw.");
  EXPECT_EQ(r.state, REFERRAL_STATE_WITHDRAWN);
}

TEST(Waitlist, ExpectedWaitIsBounded) {
  Referral r = Delivered();
  ReferralChange c = ChangeFor(A::kWaitlist, "mind-leeds");
  c.expected_wait = absl::Hours(-1);
  ExpectInvalid(ApplyChange(r, c, kT0), "expected_wait");
  c.expected_wait = absl::Hours(24 * 731);
  ExpectInvalid(ApplyChange(r, c, kT0), "expected_wait");
  c.expected_wait.reset();  // optional
  EXPECT_TRUE(ApplyChange(r, c, kT0).ok());
}

TEST(Waitlist, PositionIsBoundedAndKeptOnAcceptance) {
  Referral r = Delivered();
  ReferralChange c = ChangeFor(A::kWaitlist, "mind-leeds");
  c.waitlist_position = 0;
  ExpectInvalid(ApplyChange(r, c, kT0), "position");
  c.waitlist_position = 10001;
  ExpectInvalid(ApplyChange(r, c, kT0), "position");
  c.waitlist_position = 3;
  ASSERT_TRUE(ApplyChange(r, c, kT0).ok());
  EXPECT_EQ(r.waitlist_position, 3);
  ASSERT_TRUE(ApplyChange(r, ChangeFor(A::kAccept, "mind-leeds"), kT0).ok());
  EXPECT_EQ(r.waitlist_position, 3);
  ReferralChange ack = ChangeFor(A::kAcknowledgeDelivery, "mind-leeds");
  ack.waitlist_position = 1;
  ExpectInvalid(ValidateChange(ack), "position");
}

TEST(ChangeDetails, DetailsOfAnotherActionAreRefused) {
  ReferralChange accept = ChangeFor(A::kAccept, "mind-leeds");
  accept.decline = Decline{::accord::v1::DECLINE_REASON_NO_CAPACITY, "", "", {}};
  ExpectInvalid(ValidateChange(accept), "decline");
  ReferralChange start = ChangeFor(A::kStartSupport, "mind-leeds");
  start.closure = Closure{::accord::v1::CLOSURE_REASON_SUPPORT_COMPLETED, ""};
  ExpectInvalid(ValidateChange(start), "closure");
  ReferralChange ack = ChangeFor(A::kAcknowledgeDelivery, "mind-leeds");
  ack.withdraw_reason = "x";
  ExpectInvalid(ValidateChange(ack), "reason");
  ack.withdraw_reason.clear();
  ack.expected_wait = absl::Hours(1);
  ExpectInvalid(ValidateChange(ack), "expected_wait");
}

TEST(ChangeDetails, RefusalsComeInOrderArgumentThenSideThenState) {
  Referral closed = Submitted();
  closed.state = REFERRAL_STATE_CLOSED;
  ReferralChange bad_decline = ChangeFor(A::kDecline, "oakfield");  // wrong side, wrong state ...
  bad_decline.decline = Decline{};                                    // ... and no reason
  EXPECT_EQ(ApplyChange(closed, bad_decline, kT0).code(), absl::StatusCode::kInvalidArgument);
  bad_decline.decline = Decline{::accord::v1::DECLINE_REASON_DUPLICATE, "", "", {}};
  EXPECT_EQ(ApplyChange(closed, bad_decline, kT0).code(), absl::StatusCode::kPermissionDenied);
  bad_decline.actor_id = "mind-leeds";
  EXPECT_EQ(ApplyChange(closed, bad_decline, kT0).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RecordOutcome, ProviderWhileActiveOrClosed) {
  for (ReferralState s : kStates) {
    bool open = s == REFERRAL_STATE_ACTIVE || s == REFERRAL_STATE_CLOSED;
    EXPECT_EQ(CheckRecordOutcome(s, kProvider).ok(), open) << ReferralStateName(s);
    EXPECT_EQ(CheckRecordOutcome(s, kReferrer).code(), absl::StatusCode::kPermissionDenied);
  }
  EXPECT_EQ(CheckRecordOutcome(REFERRAL_STATE_ACCEPTED, kProvider).message(),
            "referral is ACCEPTED; cannot record outcomes");
}

// ---- a new referral --------------------------------------------------------------------------------------

TEST(ValidateNewReferral, AcceptsAndLowerCasesTheKey) {
  absl::StatusOr<Referral> r = ValidateNewReferral(Submitted());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->idempotency_key, "6f9619ff-8b86-4011-b42d-00c04fc964ff");

  Referral safeguarding = Submitted();
  safeguarding.consent_id.clear();
  safeguarding.lawful_basis = LawfulBasis{LawfulBasisKind::kSafeguarding, "Disclosure of harm at home; DSL decision."};
  EXPECT_TRUE(ValidateNewReferral(safeguarding).ok());
}

TEST(ValidateNewReferral, NamesEachOffendingField) {
  struct Case {
    const char* path;
    void (*spoil)(Referral&);
  };
  const Case cases[] = {
      {"referral.service", [](Referral& r) { r.service_id.clear(); }},
      {"referral.service", [](Referral& r) { r.service_id = "Not Valid"; }},
      {"referral.subject", [](Referral& r) { r.subject_id.clear(); }},
      {"referral.subject", [](Referral& r) { r.subject_id = "subjects/abc"; }},
      {"referral.needs", [](Referral& r) { r.needs.clear(); }},
      {"referral.needs[0].level", [](Referral& r) { r.needs[0].level = static_cast<LevelOfNeed>(5); }},
      {"referral.needs[1].level",
       [](Referral& r) { r.needs.push_back({NEED_TYPE_SCHOOL_ATTENDANCE, ::accord::v1::LEVEL_OF_NEED_UNSPECIFIED}); }},
      {"referral.needs[1].type", [](Referral& r) { r.needs.push_back({NEED_TYPE_ANXIETY, LEVEL_OF_NEED_TARGETED}); }},
      {"referral.background", [](Referral& r) { r.background.clear(); }},
      {"referral.background", [](Referral& r) { r.background = " \n "; }},
      {"referral.background", [](Referral& r) { r.background = std::string(10001, 'x'); }},
      {"referral.urgency", [](Referral& r) { r.urgency = ::accord::v1::URGENCY_UNSPECIFIED; }},
      {"referral.urgency", [](Referral& r) { r.urgency = static_cast<Urgency>(9); }},
      {"referral.consent", [](Referral& r) { r.consent_id.clear(); }},
      {"referral.consent", [](Referral& r) { r.consent_id = "consents/c7"; }},
      {"referral.lawful_basis", [](Referral& r) { r.lawful_basis = LawfulBasis{LawfulBasisKind::kSafeguarding, "x"}; }},
      {"referral.lawful_basis.justification",
       [](Referral& r) {
         r.consent_id.clear();
         r.lawful_basis = LawfulBasis{LawfulBasisKind::kSafeguarding, "  "};
       }},
      {"referral.lawful_basis.kind",
       [](Referral& r) {
         r.consent_id.clear();
         r.lawful_basis = LawfulBasis{LawfulBasisKind::kUnspecified, "why"};
       }},
      {"referral.data_categories", [](Referral& r) { r.categories.clear(); }},
      {"referral.data_categories[1]", [](Referral& r) { r.categories[1] = DATA_CATEGORY_UNSPECIFIED; }},
      {"referral.data_categories[2]", [](Referral& r) { r.categories.push_back(DATA_CATEGORY_IDENTITY); }},
      {"referral.idempotency_key", [](Referral& r) { r.idempotency_key.clear(); }},
      {"referral.idempotency_key", [](Referral& r) { r.idempotency_key = "retry-1"; }},
      {"referral.idempotency_key", [](Referral& r) { r.idempotency_key = "6f9619ff8b864011b42d00c04fc964ff"; }},
      {"referral.idempotency_key", [](Referral& r) { r.idempotency_key = "6f9619ff-8b86-4011-b42d-00c04fc964fg"; }},
      {"referral.idempotency_key", [](Referral& r) { r.idempotency_key = "00000000-0000-0000-0000-000000000000"; }},
  };
  for (const Case& c : cases) {
    Referral r = Submitted();
    c.spoil(r);
    SCOPED_TRACE(c.path);
    ExpectInvalid(ValidateNewReferral(r).status(), c.path);
  }
}

TEST(SameSubmission, IgnoresOrderButNotContent) {
  Referral a = Submitted();
  Referral b = Submitted();
  b.id = "other-id";
  b.state = REFERRAL_STATE_ACTIVE;  // not part of the submission
  std::reverse(b.categories.begin(), b.categories.end());
  EXPECT_TRUE(SameSubmission(a, b));
  a.needs.push_back({NEED_TYPE_SCHOOL_ATTENDANCE, LEVEL_OF_NEED_ADDITIONAL});
  b.needs.insert(b.needs.begin(), {NEED_TYPE_SCHOOL_ATTENDANCE, LEVEL_OF_NEED_ADDITIONAL});
  EXPECT_TRUE(SameSubmission(a, b));
  b.needs[0].level = LEVEL_OF_NEED_TARGETED;
  EXPECT_FALSE(SameSubmission(a, b));
  Referral c = Submitted();
  c.categories.push_back(DATA_CATEGORY_EDUCATION);
  EXPECT_FALSE(SameSubmission(Submitted(), c));
  Referral d = Submitted();
  d.background += ".";
  EXPECT_FALSE(SameSubmission(Submitted(), d));
}

TEST(ReferralNames, RoundTripAndRefuseMalformed) {
  EXPECT_EQ(ReferralName("a1b2"), "referrals/a1b2");
  EXPECT_EQ(*ParseReferralName("referrals/a1b2"), "a1b2");
  for (const char* bad : {"", "referrals/", "referral/a1", "referrals/A1", "referrals/a-1", "services/a1"}) {
    ExpectInvalid(ParseReferralName(bad).status(), "name");
  }
}

TEST(ReferralNames, StableEnumNames) {
  EXPECT_EQ(ReferralStateName(REFERRAL_STATE_WAITLISTED), "WAITLISTED");
  EXPECT_EQ(ReferralStateName(static_cast<ReferralState>(42)), "UNKNOWN");
  EXPECT_EQ(UrgencyName(::accord::v1::URGENCY_URGENT), "URGENT");
  EXPECT_EQ(ClosureReasonName(::accord::v1::CLOSURE_REASON_STEPPED_DOWN), "STEPPED_DOWN");
  EXPECT_EQ(ReferralActionName(A::kStartSupport), "START_SUPPORT");
  for (int v = 1; ::accord::v1::ReferralState_IsValid(v); ++v) {
    ReferralState s = static_cast<ReferralState>(v);
    EXPECT_EQ(absl::StrCat("REFERRAL_STATE_", ReferralStateName(s)), ::accord::v1::ReferralState_Name(s));
  }
}

}  // namespace
}  // namespace accord::domain
