// The referral outbox (DESIGN.md §5): referrals addressed to a partner whose system is reached
// through a plugin are delivered into that system, durably and at least once.
//
// One thread. For each such partner it copies new inbox items into the outbox (Store::FillOutbox,
// durable), then tries each due item: the referral is decided again at that moment and the attempt
// logged (ReferralService::DeliverFor, as WatchInbox does); withheld (consent withdrawn, referral
// withdrawn) → CANCELLED; otherwise the plugin's DeliverReferral gets the referral as the provider
// may see it (with the child's identifiers and demographics only when IDENTITY is carried), keyed
// by the referral's name so a repeat changes nothing in the partner's system; success → DELIVERED
// and acknowledged for the provider; failure → tried again after an exponential back-off, DEAD
// after the configured number of tries (accordctl outbox list / redrive). Items survive restarts.
// It also polls each plugin for status changes made in the partner's own system and applies them
// as the provider (accept, decline, waitlist, start, close), each decided and logged as the RPCs
// do; the plugin's cursor is stored after each batch.
//
// It lives in server/ rather than plugins/ because it drives ReferralService; the plugin layer
// gives it PartnerAdapter and the store keeps its state.
#ifndef ACCORD_HUB_SERVER_OUTBOX_H_
#define ACCORD_HUB_SERVER_OUTBOX_H_

#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "hub/domain/outbox.h"
#include "hub/plugins/adapters.h"
#include "hub/server/referral_service.h"
#include "hub/store/store.h"

namespace accord::server {

class Outbox {
 public:
  struct PartnerSettings {
    std::string partner_id;
    domain::OutboxPolicy policy;
    absl::Duration call_timeout = absl::Seconds(5);
    absl::Duration poll_interval = absl::Seconds(5);
  };

  // Everything passed in must outlive the outbox. Starts its thread.
  Outbox(store::Store& store, ReferralService& referrals, const plugins::Adapters& adapters,
         std::vector<PartnerSettings> partners);
  // Stops the thread (an attempt in progress finishes first).
  ~Outbox();
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

 private:
  void Run();
  void Deliver(const PartnerSettings& partner, store::OutboxItem item);
  void Poll(const PartnerSettings& partner);
  void Fail(const PartnerSettings& partner, store::OutboxItem& item, const absl::Status& why);

  store::Store& store_;
  ReferralService& referrals_;
  const plugins::Adapters& adapters_;
  const std::vector<PartnerSettings> partners_;
  std::map<std::string, absl::Time> next_poll_;  // only the outbox thread touches it
  std::map<std::string, bool> polls_;            // false once a plugin says it cannot poll
  absl::Mutex mu_;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread thread_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_OUTBOX_H_
