// accord.v1.SubjectService: the person index, for ROLE_REFERRER and ROLE_PROVIDER callers.
#ifndef ACCORD_HUB_SERVER_SUBJECT_SERVICE_H_
#define ACCORD_HUB_SERVER_SUBJECT_SERVICE_H_

#include "accord/v1/subject.grpc.pb.h"
#include "hub/security/authenticator.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {

class SubjectService final : public v1::SubjectService::CallbackService {
 public:
  // Both must outlive the service.
  SubjectService(store::Store& store, const security::Authenticator& auth, Workers& workers);

  grpc::ServerUnaryReactor* ResolveSubject(grpc::CallbackServerContext* ctx, const v1::ResolveSubjectRequest* req,
                                           v1::ResolveSubjectResponse* resp) override;
  grpc::ServerUnaryReactor* GetSubject(grpc::CallbackServerContext* ctx, const v1::GetSubjectRequest* req,
                                       v1::GetSubjectResponse* resp) override;
  grpc::ServerUnaryReactor* LinkFamilyMember(grpc::CallbackServerContext* ctx,
                                             const v1::LinkFamilyMemberRequest* req,
                                             v1::LinkFamilyMemberResponse* resp) override;

 private:
  absl::Status DoResolve(const security::Caller& caller, const v1::ResolveSubjectRequest& req,
                         v1::ResolveSubjectResponse& resp);
  absl::Status DoLink(const security::Caller& caller, const v1::LinkFamilyMemberRequest& req,
                      v1::LinkFamilyMemberResponse& resp);
  // The caller's view of a subject it holds; NOT_FOUND naming `field` otherwise.
  absl::StatusOr<v1::Subject> View(const std::string& subject_id, const std::string& partner_id);

  store::Store& store_;
  const security::Authenticator& auth_;
  Workers& workers_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_SUBJECT_SERVICE_H_
