// accord.v1.AuditService: the sharing log for ROLE_DPO callers. Every call is itself logged
// (EVENT_KIND_LOG_READ) before it answers, so a read that cannot be logged returns nothing.
#ifndef ACCORD_HUB_SERVER_AUDIT_SERVICE_H_
#define ACCORD_HUB_SERVER_AUDIT_SERVICE_H_

#include "accord/v1/audit.grpc.pb.h"
#include "hub/audit/tree_head.h"
#include "hub/security/authenticator.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {

class AuditService final : public v1::AuditService::CallbackService {
 public:
  // Everything passed in must outlive the service; `signing_key` signs tree heads.
  AuditService(store::Store& store, const security::Authenticator& auth, Workers& workers,
               audit::SigningKey signing_key, int max_page_size);

  grpc::ServerUnaryReactor* QueryEvents(grpc::CallbackServerContext* ctx, const v1::QueryEventsRequest* req,
                                        v1::QueryEventsResponse* resp) override;
  grpc::ServerUnaryReactor* GetSubjectReport(grpc::CallbackServerContext* ctx,
                                             const v1::GetSubjectReportRequest* req,
                                             v1::GetSubjectReportResponse* resp) override;
  grpc::ServerUnaryReactor* GetTreeHead(grpc::CallbackServerContext* ctx, const v1::GetTreeHeadRequest* req,
                                        v1::GetTreeHeadResponse* resp) override;
  grpc::ServerUnaryReactor* GetInclusionProof(grpc::CallbackServerContext* ctx,
                                              const v1::GetInclusionProofRequest* req,
                                              v1::GetInclusionProofResponse* resp) override;
  grpc::ServerUnaryReactor* GetConsistencyProof(grpc::CallbackServerContext* ctx,
                                                const v1::GetConsistencyProofRequest* req,
                                                v1::GetConsistencyProofResponse* resp) override;
  grpc::ServerWriteReactor<v1::ExportEventsResponse>* ExportEvents(grpc::CallbackServerContext* ctx,
                                                                  const v1::ExportEventsRequest* req) override;

  // A freshly signed head of the current log, also saved as a checkpoint.
  absl::StatusOr<v1::SignedTreeHead> SignCurrentHead(uint64_t* size = nullptr);

 private:
  class ExportReactor;

  // Appends the LOG_READ event for this call; `subject_id` when the read is about one child.
  absl::Status LogRead(const security::Caller& caller, const char* method, const std::string& subject_id);
  absl::Status DoQuery(const security::Caller& caller, const v1::QueryEventsRequest& req,
                       v1::QueryEventsResponse& resp);
  absl::Status DoReport(const security::Caller& caller, const v1::GetSubjectReportRequest& req,
                        v1::GetSubjectReportResponse& resp);

  store::Store& store_;
  const security::Authenticator& auth_;
  Workers& workers_;
  const audit::SigningKey signing_key_;
  const int max_page_size_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_AUDIT_SERVICE_H_
