// accord.v1.ReferralService: referrals from submission to closure, each partner's inbox as a
// resumable stream, and outcome measures.
//
// Every change that tells one party something about the child is a disclosure: the service asks
// domain::Decide (purpose REFERRAL) whether the other party may be told and writes the change,
// its sharing event (DISCLOSURE or REFUSAL) and the other party's inbox item in one store
// transaction. A refused notice does not stop the change (the actor's own record of its work);
// it is withheld from the other party (domain::VisibleTo) and the refusal is logged.
// WatchInbox decides again at the moment it delivers each item (invariant 7).
#ifndef ACCORD_HUB_SERVER_REFERRAL_SERVICE_H_
#define ACCORD_HUB_SERVER_REFERRAL_SERVICE_H_

#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "accord/v1/referral.grpc.pb.h"
#include "hub/domain/referral.h"
#include "hub/security/authenticator.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {

// Wakes the WatchInbox streams of partners whose inbox got new items. Thread-safe.
class InboxWaiters {
 public:
  class Waiter {
   public:
    virtual ~Waiter() = default;
    virtual void Ref() = 0;
    virtual void Unref() = 0;
    // Called without any InboxWaiters lock held, with a reference taken.
    virtual void Wake() = 0;
    // Ends the stream (the hub is stopping); same calling conditions as Wake.
    virtual void Close() = 0;
  };
  void Add(const std::string& partner_id, Waiter* waiter);
  void Remove(const std::string& partner_id, Waiter* waiter);
  void Notify(const std::vector<std::string>& partner_ids);
  // Closes every waiting stream and refuses new ones (Add closes them at once).
  void CloseAll();

 private:
  // Every waiter of `partner_ids` (all when empty), each with a reference taken.
  std::vector<Waiter*> Collect(const std::vector<std::string>& partner_ids) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  absl::Mutex mu_;
  std::map<std::string, std::set<Waiter*>> waiters_ ABSL_GUARDED_BY(mu_);
  bool closed_ ABSL_GUARDED_BY(mu_) = false;
};

class ReferralService final : public v1::ReferralService::CallbackService {
 public:
  // Both must outlive the service.
  ReferralService(store::Store& store, const security::Authenticator& auth, Workers& workers, int max_page_size);

  // Ends every open WatchInbox stream with UNAVAILABLE, and any opened after: call before the
  // server shuts down so it need not wait out its grace period for them.
  void Shutdown();

  // For the delivery outbox, acting for `provider`, whose system is reached through its plugin:
  // the inbox item as the provider receives it now (decided again and logged, as WatchInbox
  // does), and a change made in the provider's own system (as the RPCs make it).
  absl::StatusOr<v1::WatchInboxResponse> DeliverFor(const domain::Partner& provider, const store::InboxItem& item);
  absl::StatusOr<v1::Referral> ChangeFor(const domain::Partner& provider, const std::string& referral_name,
                                         domain::ReferralChange change, const char* method);

  grpc::ServerUnaryReactor* SubmitReferral(grpc::CallbackServerContext* ctx, const v1::SubmitReferralRequest* req,
                                           v1::SubmitReferralResponse* resp) override;
  grpc::ServerUnaryReactor* GetReferral(grpc::CallbackServerContext* ctx, const v1::GetReferralRequest* req,
                                        v1::GetReferralResponse* resp) override;
  grpc::ServerUnaryReactor* ListReferrals(grpc::CallbackServerContext* ctx, const v1::ListReferralsRequest* req,
                                          v1::ListReferralsResponse* resp) override;
  grpc::ServerUnaryReactor* WithdrawReferral(grpc::CallbackServerContext* ctx,
                                             const v1::WithdrawReferralRequest* req,
                                             v1::WithdrawReferralResponse* resp) override;
  grpc::ServerWriteReactor<v1::WatchInboxResponse>* WatchInbox(grpc::CallbackServerContext* ctx,
                                                               const v1::WatchInboxRequest* req) override;
  grpc::ServerUnaryReactor* AcknowledgeDelivery(grpc::CallbackServerContext* ctx,
                                                const v1::AcknowledgeDeliveryRequest* req,
                                                v1::AcknowledgeDeliveryResponse* resp) override;
  grpc::ServerUnaryReactor* AcceptReferral(grpc::CallbackServerContext* ctx, const v1::AcceptReferralRequest* req,
                                           v1::AcceptReferralResponse* resp) override;
  grpc::ServerUnaryReactor* DeclineReferral(grpc::CallbackServerContext* ctx, const v1::DeclineReferralRequest* req,
                                            v1::DeclineReferralResponse* resp) override;
  grpc::ServerUnaryReactor* WaitlistReferral(grpc::CallbackServerContext* ctx,
                                             const v1::WaitlistReferralRequest* req,
                                             v1::WaitlistReferralResponse* resp) override;
  grpc::ServerUnaryReactor* StartSupport(grpc::CallbackServerContext* ctx, const v1::StartSupportRequest* req,
                                         v1::StartSupportResponse* resp) override;
  grpc::ServerUnaryReactor* CloseReferral(grpc::CallbackServerContext* ctx, const v1::CloseReferralRequest* req,
                                          v1::CloseReferralResponse* resp) override;
  grpc::ServerUnaryReactor* RecordOutcome(grpc::CallbackServerContext* ctx, const v1::RecordOutcomeRequest* req,
                                          v1::RecordOutcomeResponse* resp) override;
  grpc::ServerUnaryReactor* GetOutcomeReport(grpc::CallbackServerContext* ctx,
                                             const v1::GetOutcomeReportRequest* req,
                                             v1::GetOutcomeReportResponse* resp) override;

 private:
  class InboxReactor;

  // A new referral, decided and ready to be written with its events and inbox notices — or, when
  // `refusal` is set, refused: then `events` is the refusal to log and nothing else is written.
  struct Submission {
    domain::Referral referral;
    std::vector<store::NewEvent> events;
    std::vector<store::InboxNotice> notices;
    absl::Status refusal;
  };
  // Validates and decides a submission; only reads. Nothing to write (nullopt) when it is a retry
  // of one made before: `resp` then holds the original.
  absl::StatusOr<std::optional<Submission>> PrepareSubmit(const security::Caller& caller,
                                                          const v1::SubmitReferralRequest& req,
                                                          v1::SubmitReferralResponse& resp);
  // The state changes: validate, check the caller is a party, decide whether the other party may
  // be told, then one store transaction.
  absl::StatusOr<v1::Referral> DoChange(const security::Caller& caller, const std::string& name,
                                        domain::ReferralChange change, const char* method);
  // The referral when `partner_id` is a party of it; NOT_FOUND naming `field` otherwise (the two
  // are not told apart).
  absl::StatusOr<domain::Referral> LoadForParty(const std::string& referral_id, const std::string& partner_id,
                                                absl::string_view field);
  // The referral as `partner_id` sees it, with outcomes for the provider. A provider sees what the
  // referral carries (subject, needs, background, basis, categories, links) only once it was
  // delivered — acknowledged, or `delivering` now.
  absl::StatusOr<v1::Referral> View(const domain::Referral& referral, const std::string& partner_id,
                                    bool delivering = false);
  // Whether `discloser_id` may tell `recipient_id` about the referral's child: purpose REFERRAL,
  // `categories`, relying on the referral's own consent (or lawful basis) when `own_basis`, on
  // any of the child's consents otherwise.
  absl::StatusOr<std::pair<domain::SharingRequest, domain::Decision>> DecideFor(
      const domain::Referral& referral, const std::string& discloser_id, const std::string& recipient_id,
      domain::Purpose purpose, std::vector<domain::DataCategory> categories, bool own_basis);
  // One inbox item as `caller` receives it now: decided again and logged; withheld when refused.
  absl::StatusOr<v1::WatchInboxResponse> Deliver(const security::Caller& caller, const store::InboxItem& item);
  // The same for several items in order, their decisions logged together: `done` gets the
  // messages once those are durable (called from the store's completion thread), or at once when
  // nothing needs logging or it failed before. An item that cannot be decided ends the list there
  // (it is an error only when it is the first).
  struct Delivered {
    int64_t sequence = 0;
    v1::WatchInboxResponse message;
  };
  void DeliverLater(const security::Caller& caller, std::vector<store::InboxItem> items,
                    std::function<void(absl::StatusOr<std::vector<Delivered>>)> done);
  // An inbox item decided: the message to send and the events to make durable before sending it.
  struct Delivery {
    v1::WatchInboxResponse message;
    std::vector<store::NewEvent> events;
  };
  absl::StatusOr<Delivery> PrepareDelivery(const security::Caller& caller, const store::InboxItem& item);
  static absl::Status DeliveryNotLogged(const absl::Status& why);
  absl::Status DoRecordOutcome(const security::Caller& caller, const v1::RecordOutcomeRequest& req,
                               v1::RecordOutcomeResponse& resp);

  store::Store& store_;
  const security::Authenticator& auth_;
  Workers& workers_;
  const int max_page_size_;
  InboxWaiters waiters_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_REFERRAL_SERVICE_H_
