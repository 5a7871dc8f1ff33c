// The store's directory and referral tables: idempotent creation, history and inbox items written
// with the change, failed changes writing nothing, outcomes replaced per measure and timepoint,
// and erasure blanking referral texts.
#include <future>
#include <thread>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "hub/store/store.h"
#include "tests/support/temp_dir.h"

namespace accord::store {
namespace {

class ReferralStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = OpenSqliteStore(dir_.path() / "accord.db");
    ASSERT_TRUE(s.ok()) << s.status();
    store_ = std::move(*s);
    for (const char* id : {"school", "counselling", "mentoring"}) {
      domain::Partner p;
      p.id = id;
      p.display_name = id;
      p.sector = ::accord::v1::SECTOR_VOLUNTARY;
      p.roles = {::accord::v1::ROLE_REFERRER, ::accord::v1::ROLE_PROVIDER};
      ASSERT_TRUE(store_->CreatePartner(p).ok());
    }
    SubjectRecord r;
    r.partner_id = "school";
    r.person.nhs_number = "9434765919";
    r.create_time = absl::Now();
    auto resolved = store_->ResolveSubject(
        r, [](absl::Span<const domain::PersonRecord>) { return domain::MatchResult(); }, false, nullptr);
    ASSERT_TRUE(resolved.ok()) << resolved.status();
    subject_ = resolved->record.person.subject_id;
    domain::Service service;
    service.id = "counselling";
    service.provider_id = "counselling";
    service.display_name = "Counselling";
    service.availability.accepting_referrals = true;
    ASSERT_TRUE(store_->PublishService(service, true).ok());
  }

  domain::Referral NewReferral(const std::string& key) {
    domain::Referral r;
    r.service_id = "counselling";
    r.referrer_id = "school";
    r.provider_id = "counselling";
    r.subject_id = subject_;
    r.needs = {{::accord::v1::NEED_TYPE_ANXIETY, ::accord::v1::LEVEL_OF_NEED_ADDITIONAL}};
    r.background = "Panic attacks before lessons";
    r.urgency = ::accord::v1::URGENCY_ROUTINE;
    r.consent_id = "c1";
    r.categories = {::accord::v1::DATA_CATEGORY_IDENTITY};
    r.idempotency_key = key;
    r.state = ::accord::v1::REFERRAL_STATE_SUBMITTED;
    r.create_time = r.update_time = absl::FromUnixMillis(absl::ToUnixMillis(absl::Now()));
    r.history = {{::accord::v1::REFERRAL_STATE_SUBMITTED, "school", r.create_time}};
    return r;
  }

  static ReferralEffectsFor Notify(const std::string& partner) {
    return [partner](const domain::Referral&) {
      ReferralEffects e;
      e.notify.push_back({partner, "", ""});
      NewEvent event;
      event.event.set_kind(::accord::v1::EVENT_KIND_DISCLOSURE);
      e.events.push_back(event);
      return e;
    };
  }

  testsupport::TempDir dir_;
  std::unique_ptr<Store> store_;
  std::string subject_;
};

constexpr const char* kKey = "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c001";

TEST_F(ReferralStoreTest, OneKeyCreatesOneReferralAndItsInboxItemAndEvent) {
  auto first = store_->CreateReferral(NewReferral(kKey), Notify("counselling"));
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_TRUE(first->created);
  EXPECT_FALSE(first->referral.id.empty());
  auto again = store_->CreateReferral(NewReferral(kKey), Notify("counselling"));
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_FALSE(again->created);
  EXPECT_EQ(again->referral.id, first->referral.id);
  domain::Referral other = NewReferral(kKey);
  other.background = "Something else";
  EXPECT_EQ(store_->CreateReferral(other, Notify("counselling")).status().code(), absl::StatusCode::kAlreadyExists);

  EXPECT_EQ(*store_->LogSize(), 1u);  // one disclosure
  auto inbox = store_->ReadInbox("counselling", 0, 10);
  ASSERT_EQ(inbox->size(), 1u);
  EXPECT_EQ((*inbox)[0].referral_id, first->referral.id);
  EXPECT_EQ((*inbox)[0].state, ::accord::v1::REFERRAL_STATE_SUBMITTED);
  EXPECT_TRUE(store_->ReadInbox("counselling", (*inbox)[0].sequence, 10)->empty());
  auto found = store_->FindReferralByKey("school", kKey);
  ASSERT_TRUE(found.ok());
  EXPECT_EQ(found->id, first->referral.id);
  EXPECT_EQ(store_->FindReferralByKey("mentoring", kKey).status().code(), absl::StatusCode::kNotFound);
}

// The asynchronous form answers as the synchronous one does, once the write is durable, from the
// store's completion thread (which may call the store again).
TEST_F(ReferralStoreTest, TheAsynchronousSubmitAnswersLikeTheSynchronousOne) {
  struct Answer {
    absl::StatusOr<SubmitResult> result = absl::UnknownError("not answered");
    std::thread::id thread;
    uint64_t log_size_then = 0;
  };
  auto submit = [&](domain::Referral r) {
    std::promise<Answer> promise;
    store_->CreateReferralLater(std::move(r), Notify("counselling"), [&](absl::StatusOr<SubmitResult> result) {
      Answer a;
      a.result = std::move(result);
      a.thread = std::this_thread::get_id();
      a.log_size_then = *store_->LogSize();  // a read from the completion: durable already
      promise.set_value(std::move(a));
    });
    return promise.get_future().get();
  };
  Answer first = submit(NewReferral(kKey));
  ASSERT_TRUE(first.result.ok()) << first.result.status();
  EXPECT_TRUE(first.result->created);
  EXPECT_NE(first.thread, std::this_thread::get_id());
  EXPECT_EQ(first.log_size_then, 1u);
  Answer again = submit(NewReferral(kKey));
  ASSERT_TRUE(again.result.ok()) << again.result.status();
  EXPECT_FALSE(again.result->created);
  EXPECT_EQ(again.result->referral.id, first.result->referral.id);
  domain::Referral other = NewReferral(kKey);
  other.background = "Something else";
  Answer refused = submit(other);
  EXPECT_EQ(refused.result.status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(*store_->LogSize(), 1u);
  EXPECT_EQ(store_->ReadInbox("counselling", 0, 10)->size(), 1u);

  // Appends: the sequences, in commit order.
  std::promise<absl::StatusOr<std::vector<uint64_t>>> appended;
  NewEvent e;
  e.event.set_kind(::accord::v1::EVENT_KIND_DISCLOSURE);
  e.event.set_actor("partners/school");
  store_->AppendEventsLater({e, e}, [&](absl::StatusOr<std::vector<uint64_t>> seqs) { appended.set_value(seqs); });
  absl::StatusOr<std::vector<uint64_t>> seqs = appended.get_future().get();
  ASSERT_TRUE(seqs.ok()) << seqs.status();
  EXPECT_EQ(*seqs, (std::vector<uint64_t>{1, 2}));
}

TEST_F(ReferralStoreTest, ChangesKeepHistoryAndAFailedChangeWritesNothing) {
  auto made = store_->CreateReferral(NewReferral(kKey), Notify("counselling"));
  ASSERT_TRUE(made.ok());
  const std::string id = made->referral.id;
  domain::ReferralChange ack;
  ack.action = domain::ReferralAction::kAcknowledgeDelivery;
  ack.actor_id = "counselling";
  auto delivered = store_->UpdateReferral(
      id,
      [&](domain::Referral& r) {
        absl::Status s = domain::ApplyChange(r, ack, absl::Now());
        r.history.back().withheld = true;
        return s;
      },
      Notify("school"));
  ASSERT_TRUE(delivered.ok()) << delivered.status();
  uint64_t size = *store_->LogSize();
  auto refused = store_->UpdateReferral(
      id, [&](domain::Referral& r) { return domain::ApplyChange(r, ack, absl::Now()); }, Notify("school"));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(*store_->LogSize(), size);
  EXPECT_EQ(store_->ReadInbox("school", 0, 10)->size(), 1u);

  auto stored = store_->GetReferral(id);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(stored->history.size(), 2u);
  EXPECT_EQ(stored->state, ::accord::v1::REFERRAL_STATE_DELIVERED);
  EXPECT_TRUE(stored->history[1].withheld);
  EXPECT_FALSE(stored->history[0].withheld);
  // The referrer does not see a withheld change.
  EXPECT_EQ(domain::VisibleTo(*stored, "school").state, ::accord::v1::REFERRAL_STATE_SUBMITTED);
  EXPECT_EQ(domain::VisibleTo(*stored, "counselling").state, ::accord::v1::REFERRAL_STATE_DELIVERED);

  ReferralFilter mine;
  mine.party_id = "mentoring";
  EXPECT_TRUE(store_->ListReferrals(mine, "", 10)->empty());
  mine.party_id = "counselling";
  mine.as_referrer = false;
  EXPECT_EQ(store_->ListReferrals(mine, "", 10)->size(), 1u);

  // The child's open referrals to other providers: a closed one and the provider's own are left out.
  ReferralFilter child;
  child.subject_id = subject_;
  child.open_only = true;
  EXPECT_EQ(store_->ListReferrals(child, "", 10)->size(), 1u);
  child.not_provider_id = "counselling";
  EXPECT_TRUE(store_->ListReferrals(child, "", 10)->empty());
  child.not_provider_id.clear();
  domain::ReferralChange decline;
  decline.action = domain::ReferralAction::kDecline;
  decline.actor_id = "counselling";
  decline.decline = domain::Decline{::accord::v1::DECLINE_REASON_NO_CAPACITY, "", "", ::accord::v1::SECTOR_UNSPECIFIED};
  ASSERT_TRUE(store_->UpdateReferral(
      id, [&](domain::Referral& r) { return domain::ApplyChange(r, decline, absl::Now()); }, Notify("school")).ok());
  EXPECT_TRUE(store_->ListReferrals(child, "", 10)->empty());
  child.open_only = false;
  EXPECT_EQ(store_->ListReferrals(child, "", 10)->size(), 1u);

  // Open-only counts the limit in the referrals it keeps: an open one, then a newer one withdrawn.
  auto open = store_->CreateReferral(NewReferral("6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c003"), Notify("counselling"));
  ASSERT_TRUE(open.ok()) << open.status();
  auto newest = store_->CreateReferral(NewReferral("6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c004"), Notify("counselling"));
  ASSERT_TRUE(newest.ok()) << newest.status();
  domain::ReferralChange withdraw;
  withdraw.action = domain::ReferralAction::kWithdraw;
  withdraw.actor_id = "school";
  withdraw.withdraw_reason = "Sent to the wrong service";
  auto withdrawn = store_->UpdateReferral(
      newest->referral.id, [&](domain::Referral& r) { return domain::ApplyChange(r, withdraw, absl::Now()); },
      Notify("counselling"));
  ASSERT_TRUE(withdrawn.ok()) << withdrawn.status();
  child.open_only = true;
  auto kept = store_->ListReferrals(child, "", 1);
  ASSERT_TRUE(kept.ok()) << kept.status();
  ASSERT_EQ(kept->size(), 1u);
  EXPECT_EQ((*kept)[0].id, open->referral.id);
  EXPECT_EQ(store_->ListReferrals(child, "", 10)->size(), 1u);
  child.open_only = false;
  EXPECT_EQ(store_->ListReferrals(child, "", 10)->size(), 3u);
}

TEST_F(ReferralStoreTest, OutcomesReplacePerMeasureAndTimepointAndPairAnonymously) {
  auto made = store_->CreateReferral(NewReferral(kKey), nullptr);
  ASSERT_TRUE(made.ok());
  auto allow = [](const domain::Referral&) { return absl::OkStatus(); };
  domain::OutcomeValue start{::accord::v1::OUTCOME_MEASURE_SWEMWBS, ::accord::v1::OUTCOME_TIMEPOINT_START, 18, {}, {}, 0};
  ASSERT_TRUE(store_->RecordOutcomes(made->referral.id, allow, {start}, nullptr).ok());
  start.value = 19;  // a correction
  domain::OutcomeValue close{::accord::v1::OUTCOME_MEASURE_SWEMWBS, ::accord::v1::OUTCOME_TIMEPOINT_CLOSE, 25, {}, {}, 0};
  auto all = store_->RecordOutcomes(made->referral.id, allow, {start, close}, nullptr);
  ASSERT_TRUE(all.ok()) << all.status();
  ASSERT_EQ(all->size(), 2u);
  EXPECT_EQ((*all)[0].value.value, 19);
  auto refuse = [](const domain::Referral&) { return absl::FailedPreconditionError("no"); };
  close.value = 30;
  EXPECT_FALSE(store_->RecordOutcomes(made->referral.id, refuse, {close}, nullptr).ok());
  auto pairs = store_->OutcomePairs("counselling", absl::InfinitePast(), absl::InfiniteFuture());
  ASSERT_TRUE(pairs.ok());
  ASSERT_EQ(pairs->size(), 1u);
  EXPECT_EQ((*pairs)[0].start, 19);
  EXPECT_EQ((*pairs)[0].close, 25);
  // Not closed yet: outside any window on the closing time.
  EXPECT_TRUE(store_->OutcomePairs("counselling", absl::UnixEpoch(), absl::Now() + absl::Hours(1))->empty());
}

TEST_F(ReferralStoreTest, ErasureBlanksReferralTextsAndKeepsTheFacts) {
  auto made = store_->CreateReferral(NewReferral(kKey), nullptr);
  ASSERT_TRUE(made.ok());
  NewEvent erased;
  erased.event.set_kind(::accord::v1::EVENT_KIND_SUBJECT_ERASED);
  ASSERT_TRUE(store_->EraseSubject(subject_, erased).ok());
  auto after = store_->GetReferral(made->referral.id);
  ASSERT_TRUE(after.ok());
  EXPECT_TRUE(after->background.empty());
  EXPECT_EQ(after->service_id, "counselling");
  EXPECT_EQ(after->state, ::accord::v1::REFERRAL_STATE_SUBMITTED);
}

TEST_F(ReferralStoreTest, ServicesOfOneProviderCannotBeTakenOverOrChangedByAnother) {
  domain::Service takeover;
  takeover.id = "counselling";
  takeover.provider_id = "mentoring";
  EXPECT_EQ(store_->PublishService(takeover, false).status().code(), absl::StatusCode::kAlreadyExists);
  domain::Availability closed;
  EXPECT_EQ(store_->UpdateAvailability("counselling", "mentoring", closed).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(store_->UpdateAvailability("nothing", "mentoring", closed).status().code(), absl::StatusCode::kNotFound);
  auto kept = store_->GetService("counselling");
  ASSERT_TRUE(kept.ok());
  EXPECT_TRUE(kept->availability.accepting_referrals);
  EXPECT_EQ(store_->ListServices()->size(), 1u);
}


TEST_F(ReferralStoreTest, TheOutboxCopiesEachInboxItemOnceAndKeepsItsState) {
  ASSERT_TRUE(store_->CreateReferral(NewReferral(kKey), Notify("counselling")).ok());
  ASSERT_TRUE(store_->CreateReferral(NewReferral("6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c002"), Notify("counselling")).ok());
  EXPECT_EQ(*store_->FillOutbox("counselling", 1), 1);
  EXPECT_EQ(*store_->FillOutbox("counselling", 10), 1);
  EXPECT_EQ(*store_->FillOutbox("counselling", 10), 0);  // the cursor moved on
  EXPECT_EQ(*store_->FillOutbox("school", 10), 0);

  auto due = store_->DueOutboxItems("counselling", absl::Now(), 10);
  ASSERT_TRUE(due.ok()) << due.status();
  ASSERT_EQ(due->size(), 2u);
  OutboxItem item = (*due)[0];
  EXPECT_EQ(item.state, domain::OutboxState::kPending);
  EXPECT_EQ(item.inbox.partner_id, "counselling");
  EXPECT_EQ(item.inbox.state, ::accord::v1::REFERRAL_STATE_SUBMITTED);

  // A failure makes it due later; dead after that; only a DEAD item may be re-driven.
  item.attempts = 1;
  item.next_attempt = absl::Now() + absl::Hours(1);
  item.last_error = "system offline";
  ASSERT_TRUE(store_->UpdateOutboxItem(item).ok());
  EXPECT_EQ(store_->DueOutboxItems("counselling", absl::Now(), 10)->size(), 1u);
  EXPECT_EQ(store_->RedriveOutboxItem(item.id).status().code(), absl::StatusCode::kFailedPrecondition);
  item.state = domain::OutboxState::kDead;
  ASSERT_TRUE(store_->UpdateOutboxItem(item).ok());
  auto dead = store_->ListOutbox(domain::OutboxState::kDead, 0, 10);
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_EQ((*dead)[0].last_error, "system offline");
  EXPECT_EQ(store_->ListOutbox(std::nullopt, 0, 10)->size(), 2u);
  auto redriven = store_->RedriveOutboxItem(item.id);
  ASSERT_TRUE(redriven.ok()) << redriven.status();
  EXPECT_EQ(redriven->state, domain::OutboxState::kPending);
  EXPECT_EQ(redriven->attempts, 0);
  EXPECT_EQ(store_->DueOutboxItems("counselling", absl::Now() + absl::Seconds(1), 10)->size(), 2u);
  EXPECT_EQ(store_->RedriveOutboxItem(999).status().code(), absl::StatusCode::kNotFound);
  item.id = 999;
  EXPECT_EQ(store_->UpdateOutboxItem(item).code(), absl::StatusCode::kNotFound);

  EXPECT_EQ(*store_->PollCursor("counselling"), "");
  ASSERT_TRUE(store_->SavePollCursor("counselling", "line-7").ok());
  EXPECT_EQ(*store_->PollCursor("counselling"), "line-7");
  EXPECT_EQ(*store_->FillOutbox("counselling", 10), 0);  // saving the poll cursor kept the inbox cursor
}

}  // namespace
}  // namespace accord::store
