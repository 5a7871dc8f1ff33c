// accord.v1.DirectoryService: providers publish their services and say how much room they have;
// every partner searches them by a child's needs, age and area (domain::SearchServices ranks them
// and gives the reasons). Nothing a search carries is stored or logged: it is not about a named
// child.
#ifndef ACCORD_HUB_SERVER_DIRECTORY_SERVICE_H_
#define ACCORD_HUB_SERVER_DIRECTORY_SERVICE_H_

#include "accord/v1/directory.grpc.pb.h"
#include "hub/security/authenticator.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {

class DirectoryService final : public v1::DirectoryService::CallbackService {
 public:
  // Both must outlive the service.
  DirectoryService(store::Store& store, const security::Authenticator& auth, Workers& workers, int max_page_size);

  grpc::ServerUnaryReactor* PublishService(grpc::CallbackServerContext* ctx, const v1::PublishServiceRequest* req,
                                           v1::PublishServiceResponse* resp) override;
  grpc::ServerUnaryReactor* UpdateAvailability(grpc::CallbackServerContext* ctx,
                                               const v1::UpdateAvailabilityRequest* req,
                                               v1::UpdateAvailabilityResponse* resp) override;
  grpc::ServerUnaryReactor* SearchServices(grpc::CallbackServerContext* ctx, const v1::SearchServicesRequest* req,
                                           v1::SearchServicesResponse* resp) override;
  grpc::ServerUnaryReactor* GetService(grpc::CallbackServerContext* ctx, const v1::GetServiceRequest* req,
                                       v1::GetServiceResponse* resp) override;

 private:
  absl::Status DoPublish(const security::Caller& caller, const v1::PublishServiceRequest& req,
                         v1::PublishServiceResponse& resp);
  absl::Status DoSearch(const v1::SearchServicesRequest& req, v1::SearchServicesResponse& resp);

  store::Store& store_;
  const security::Authenticator& auth_;
  Workers& workers_;
  const int max_page_size_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_DIRECTORY_SERVICE_H_
