// accord.v1.PartnerAdmin: partners and sharing agreements, for ROLE_ADMIN callers.
// Each RPC: authenticate → validate (domain) → one store call → reply.
#ifndef ACCORD_HUB_SERVER_PARTNER_ADMIN_SERVICE_H_
#define ACCORD_HUB_SERVER_PARTNER_ADMIN_SERVICE_H_

#include "accord/v1/partner_admin.grpc.pb.h"
#include "hub/security/authenticator.h"
#include "hub/security/ca.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {

class PartnerAdminService final : public v1::PartnerAdmin::CallbackService {
 public:
  // `ca` may be null: then RegisterPartner with a CSR is FAILED_PRECONDITION. Everything passed
  // in must outlive the service.
  PartnerAdminService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                      const security::CertificateAuthority* ca, int max_page_size);

  grpc::ServerUnaryReactor* RegisterPartner(grpc::CallbackServerContext* ctx, const v1::RegisterPartnerRequest* req,
                                            v1::RegisterPartnerResponse* resp) override;
  grpc::ServerUnaryReactor* GetPartner(grpc::CallbackServerContext* ctx, const v1::GetPartnerRequest* req,
                                       v1::GetPartnerResponse* resp) override;
  grpc::ServerUnaryReactor* ListPartners(grpc::CallbackServerContext* ctx, const v1::ListPartnersRequest* req,
                                         v1::ListPartnersResponse* resp) override;
  grpc::ServerUnaryReactor* SuspendPartner(grpc::CallbackServerContext* ctx, const v1::SuspendPartnerRequest* req,
                                           v1::SuspendPartnerResponse* resp) override;
  grpc::ServerUnaryReactor* ReinstatePartner(grpc::CallbackServerContext* ctx,
                                             const v1::ReinstatePartnerRequest* req,
                                             v1::ReinstatePartnerResponse* resp) override;
  grpc::ServerUnaryReactor* CreateSharingAgreement(grpc::CallbackServerContext* ctx,
                                                   const v1::CreateSharingAgreementRequest* req,
                                                   v1::CreateSharingAgreementResponse* resp) override;
  grpc::ServerUnaryReactor* ListSharingAgreements(grpc::CallbackServerContext* ctx,
                                                  const v1::ListSharingAgreementsRequest* req,
                                                  v1::ListSharingAgreementsResponse* resp) override;

 private:
  absl::Status DoRegisterPartner(const security::Caller& caller, const v1::RegisterPartnerRequest& req,
                                 v1::RegisterPartnerResponse& resp);
  absl::Status DoListPartners(const v1::ListPartnersRequest& req, v1::ListPartnersResponse& resp);
  absl::Status DoSetSuspended(const security::Caller& caller, const std::string& name, bool suspended,
                              const std::string& reason, v1::Partner& out);
  absl::Status DoCreateAgreement(const security::Caller& caller, const v1::CreateSharingAgreementRequest& req,
                                 v1::CreateSharingAgreementResponse& resp);
  absl::Status DoListAgreements(const v1::ListSharingAgreementsRequest& req, v1::ListSharingAgreementsResponse& resp);

  store::Store& store_;
  const security::Authenticator& auth_;
  Workers& workers_;
  const security::CertificateAuthority* ca_;
  const int max_page_size_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_PARTNER_ADMIN_SERVICE_H_
