#include "hub/server/outbox.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/domain/codec.h"
#include "hub/log/log.h"

namespace accord::server {
namespace {

constexpr absl::Duration kScanInterval = absl::Milliseconds(250);
constexpr int kBatch = 50;

// A change reported by the partner's system, as the provider's action. NOT_FOUND-free: an
// unknown state is INVALID_ARGUMENT naming it.
absl::StatusOr<domain::ReferralChange> ChangeOf(const plugin::v1::StatusChange& c) {
  domain::ReferralChange change;
  const std::string text = c.reason().empty() ? "recorded in the provider's own system" : c.reason();
  switch (c.state()) {
    case v1::REFERRAL_STATE_DELIVERED:
      change.action = domain::ReferralAction::kAcknowledgeDelivery;
      break;
    case v1::REFERRAL_STATE_ACCEPTED:
      change.action = domain::ReferralAction::kAccept;
      break;
    case v1::REFERRAL_STATE_DECLINED: {
      change.action = domain::ReferralAction::kDecline;
      domain::Decline decline;
      decline.reason = c.decline_reason() == v1::DECLINE_REASON_UNSPECIFIED ? v1::DECLINE_REASON_OTHER
                                                                            : c.decline_reason();
      decline.text = text;
      change.decline = decline;
      break;
    }
    case v1::REFERRAL_STATE_WAITLISTED:
      change.action = domain::ReferralAction::kWaitlist;
      if (c.has_expected_wait()) {
        change.expected_wait = domain::DurationFromProto(c.expected_wait());
      }
      break;
    case v1::REFERRAL_STATE_ACTIVE:
      change.action = domain::ReferralAction::kStartSupport;
      break;
    case v1::REFERRAL_STATE_CLOSED: {
      change.action = domain::ReferralAction::kClose;
      domain::Closure closure;
      closure.reason = c.closure_reason() == v1::CLOSURE_REASON_UNSPECIFIED ? v1::CLOSURE_REASON_OTHER
                                                                            : c.closure_reason();
      closure.text = text;
      change.closure = closure;
      break;
    }
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("state: ", v1::ReferralState_Name(c.state()), " is not a change a provider's system reports"));
  }
  return change;
}

}  // namespace

Outbox::Outbox(store::Store& store, ReferralService& referrals, const plugins::Adapters& adapters,
               std::vector<PartnerSettings> partners)
    : store_(store), referrals_(referrals), adapters_(adapters), partners_(std::move(partners)) {
  for (const PartnerSettings& p : partners_) polls_[p.partner_id] = true;
  if (!partners_.empty()) thread_ = std::thread([this] { Run(); });
}

Outbox::~Outbox() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

void Outbox::Run() {
  for (;;) {
    {
      absl::MutexLock lock(&mu_);
      if (mu_.AwaitWithTimeout(absl::Condition(&stopping_), kScanInterval)) return;
    }
    for (const PartnerSettings& partner : partners_) {
      const plugins::PartnerAdapter* adapter = adapters_.Find(partner.partner_id);
      if (adapter == nullptr) continue;
      absl::StatusOr<int> added = store_.FillOutbox(partner.partner_id, kBatch);
      if (!added.ok()) {
        log::Warning("outbox_fill_failed", {{"partner", partner.partner_id}, {"message", std::string(added.status().message())}});
        continue;
      }
      absl::StatusOr<std::vector<store::OutboxItem>> due =
          store_.DueOutboxItems(partner.partner_id, absl::Now(), kBatch);
      if (!due.ok()) continue;
      for (store::OutboxItem& item : *due) {
        {
          absl::MutexLock lock(&mu_);
          if (stopping_) return;
        }
        Deliver(partner, std::move(item));
      }
      if (polls_[partner.partner_id] && absl::Now() >= next_poll_[partner.partner_id] &&
          adapter->state() == plugins::AdapterState::kAvailable) {
        next_poll_[partner.partner_id] = absl::Now() + partner.poll_interval;
        Poll(partner);
      }
    }
  }
}

void Outbox::Fail(const PartnerSettings& partner, store::OutboxItem& item, const absl::Status& why) {
  item.attempts += 1;
  item.state = domain::AfterFailure(item.attempts, partner.policy);
  item.next_attempt = absl::Now() + domain::OutboxBackoff(item.attempts, partner.policy);
  item.last_error = std::string(why.message());
  const bool dead = item.state == domain::OutboxState::kDead;
  log::Warning(dead ? "outbox_dead_letter" : "outbox_retry",
               {{"partner", partner.partner_id},
                {"item", item.id},
                {"referral", item.inbox.referral_id},
                {"attempts", item.attempts},
                {"next_attempt_in", dead ? std::string("-") : absl::FormatDuration(item.next_attempt - absl::Now())},
                {"message", item.last_error}});
  if (absl::Status s = store_.UpdateOutboxItem(item); !s.ok()) {
    log::Warning("outbox_update_failed", {{"item", item.id}, {"message", std::string(s.message())}});
  }
}

void Outbox::Deliver(const PartnerSettings& partner, store::OutboxItem item) {
  auto finish = [&](domain::OutboxState state, std::string detail) {
    item.state = state;
    item.last_error = std::move(detail);
    if (absl::Status s = store_.UpdateOutboxItem(item); !s.ok()) {
      log::Warning("outbox_update_failed", {{"item", item.id}, {"message", std::string(s.message())}});
    }
    log::Info("outbox_item", {{"partner", partner.partner_id},
                              {"item", item.id},
                              {"referral", item.inbox.referral_id},
                              {"state", std::string(domain::OutboxStateName(state))},
                              {"detail", item.last_error}});
  };
  // Only a new referral has a call in the plugin interface; notices stay in the inbox stream.
  if (!item.inbox.concurrent_service_id.empty() || item.inbox.state != v1::REFERRAL_STATE_SUBMITTED) {
    return finish(domain::OutboxState::kSkipped, "a status notice: read it from the inbox stream");
  }
  plugins::PartnerAdapter* adapter = adapters_.Find(partner.partner_id);
  absl::StatusOr<domain::Partner> provider = store_.GetPartner(partner.partner_id);
  if (!provider.ok()) return Fail(partner, item, provider.status());
  if (adapter->state() != plugins::AdapterState::kAvailable) {
    return Fail(partner, item, absl::UnavailableError(absl::StrCat("the plugin of partner ", partner.partner_id, " is ",
                                                                   plugins::AdapterStateName(adapter->state()))));
  }
  // Decided again now, and the attempt logged, before anything leaves the hub.
  absl::StatusOr<v1::WatchInboxResponse> view = referrals_.DeliverFor(*provider, item.inbox);
  if (!view.ok()) return Fail(partner, item, view.status());
  if (!view->withheld_reason().empty()) return finish(domain::OutboxState::kCancelled, view->withheld_reason());

  plugin::v1::DeliverReferralRequest request;
  *request.mutable_referral() = view->referral();
  const auto& carried = view->referral().data_categories();
  if (std::find(carried.begin(), carried.end(), v1::DATA_CATEGORY_IDENTITY) != carried.end()) {
    absl::StatusOr<domain::Referral> referral = store_.GetReferral(item.inbox.referral_id);
    if (!referral.ok()) return Fail(partner, item, referral.status());
    absl::StatusOr<store::SubjectRecord> known = store_.GetSubjectRecord(referral->subject_id, referral->referrer_id);
    if (known.ok()) {
      const domain::PersonRecord& p = known->person;
      request.mutable_identifiers()->set_nhs_number(p.nhs_number);
      request.mutable_identifiers()->set_upn(p.upn);
      request.mutable_demographics()->set_given_name(p.given_name);
      request.mutable_demographics()->set_family_name(p.family_name);
      request.mutable_demographics()->set_birth_date(p.birth_date);
      request.mutable_demographics()->set_postcode(p.postcode);
    }
  }
  absl::StatusOr<plugin::v1::DeliverReferralResponse> delivered = plugins::Call<plugin::v1::DeliverReferralResponse>(
      *adapter, plugin::v1::METHOD_DELIVER_REFERRAL, request, absl::Now() + partner.call_timeout);
  if (absl::IsUnimplemented(delivered.status())) {
    return finish(domain::OutboxState::kSkipped, "the plugin takes no referrals: read them from the inbox stream");
  }
  if (!delivered.ok()) return Fail(partner, item, delivered.status());
  item.external_id = delivered->external_id();
  finish(domain::OutboxState::kDelivered, "");
  // In the provider's system now: acknowledged for it, as its own client would.
  domain::ReferralChange ack;
  ack.action = domain::ReferralAction::kAcknowledgeDelivery;
  absl::StatusOr<v1::Referral> acked =
      referrals_.ChangeFor(*provider, view->referral().name(), ack, "Outbox/AcknowledgeDelivery");
  if (!acked.ok() && !absl::IsFailedPrecondition(acked.status())) {
    log::Warning("outbox_acknowledge_failed",
                 {{"referral", item.inbox.referral_id}, {"message", std::string(acked.status().message())}});
  }
}

void Outbox::Poll(const PartnerSettings& partner) {
  plugins::PartnerAdapter* adapter = adapters_.Find(partner.partner_id);
  absl::StatusOr<domain::Partner> provider = store_.GetPartner(partner.partner_id);
  absl::StatusOr<std::string> cursor = store_.PollCursor(partner.partner_id);
  if (!provider.ok() || !cursor.ok()) return;
  plugin::v1::PollStatusChangesRequest request;
  request.set_cursor(*cursor);
  absl::StatusOr<plugin::v1::PollStatusChangesResponse> polled =
      plugins::Call<plugin::v1::PollStatusChangesResponse>(*adapter, plugin::v1::METHOD_POLL_STATUS_CHANGES, request,
                                                           absl::Now() + partner.call_timeout);
  if (absl::IsUnimplemented(polled.status())) {
    polls_[partner.partner_id] = false;
    return;
  }
  if (!polled.ok()) {
    log::Warning("outbox_poll_failed", {{"partner", partner.partner_id}, {"message", std::string(polled.status().message())}});
    return;
  }
  for (const plugin::v1::StatusChange& c : polled->changes()) {
    absl::StatusOr<domain::ReferralChange> change = ChangeOf(c);
    absl::StatusOr<v1::Referral> applied =
        change.ok() ? referrals_.ChangeFor(*provider, c.referral(), *change, "Outbox/StatusChange") : change.status();
    if (applied.ok()) {
      log::Info("outbox_status_change", {{"partner", partner.partner_id},
                                         {"referral", c.referral()},
                                         {"state", v1::ReferralState_Name(c.state())}});
    } else {
      // A change the hub refuses (an illegal transition, someone else's referral) is reported and
      // passed over: the partner's system must be put right there.
      log::Warning("outbox_status_change_refused", {{"partner", partner.partner_id},
                                                    {"referral", c.referral()},
                                                    {"state", v1::ReferralState_Name(c.state())},
                                                    {"message", std::string(applied.status().message())}});
    }
  }
  if (polled->next_cursor() != *cursor) {
    if (absl::Status s = store_.SavePollCursor(partner.partner_id, polled->next_cursor()); !s.ok()) {
      log::Warning("outbox_poll_cursor_failed", {{"partner", partner.partner_id}, {"message", std::string(s.message())}});
    }
  }
}

}  // namespace accord::server
