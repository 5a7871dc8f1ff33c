// accord.v1.ConsentService: consents about subjects the caller holds, their signed receipts, and
// the dry run of the sharing decision (domain::Decide — the one function every disclosure uses).
#ifndef ACCORD_HUB_SERVER_CONSENT_SERVICE_H_
#define ACCORD_HUB_SERVER_CONSENT_SERVICE_H_

#include "accord/v1/consent.grpc.pb.h"
#include "hub/audit/tree_head.h"
#include "hub/security/authenticator.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {

class ConsentService final : public v1::ConsentService::CallbackService {
 public:
  // Everything passed in must outlive the service; `signing_key` signs consent receipts.
  ConsentService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                 audit::SigningKey signing_key);

  grpc::ServerUnaryReactor* RecordConsent(grpc::CallbackServerContext* ctx, const v1::RecordConsentRequest* req,
                                          v1::RecordConsentResponse* resp) override;
  grpc::ServerUnaryReactor* WithdrawConsent(grpc::CallbackServerContext* ctx, const v1::WithdrawConsentRequest* req,
                                            v1::WithdrawConsentResponse* resp) override;
  grpc::ServerUnaryReactor* ListConsents(grpc::CallbackServerContext* ctx, const v1::ListConsentsRequest* req,
                                         v1::ListConsentsResponse* resp) override;
  grpc::ServerUnaryReactor* CheckSharing(grpc::CallbackServerContext* ctx, const v1::CheckSharingRequest* req,
                                         v1::CheckSharingResponse* resp) override;

 private:
  absl::Status DoRecord(const security::Caller& caller, const v1::RecordConsentRequest& req,
                        v1::RecordConsentResponse& resp);
  absl::Status DoWithdraw(const security::Caller& caller, const v1::WithdrawConsentRequest& req,
                          v1::WithdrawConsentResponse& resp);
  absl::Status DoCheck(const security::Caller& caller, const v1::CheckSharingRequest& req,
                       v1::CheckSharingResponse& resp);
  // NOT_FOUND naming `field` unless `partner_id` holds the subject.
  absl::Status RequireHolder(const std::string& subject_id, const std::string& partner_id, absl::string_view field);

  store::Store& store_;
  const security::Authenticator& auth_;
  Workers& workers_;
  const audit::SigningKey signing_key_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_CONSENT_SERVICE_H_
