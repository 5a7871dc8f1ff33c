// accord.v1.RecordService: records about a child gathered from the other holding partners' record
// systems through their plugins, each category decided (domain::Decide), minimised and logged.
#ifndef ACCORD_HUB_SERVER_RECORD_SERVICE_H_
#define ACCORD_HUB_SERVER_RECORD_SERVICE_H_

#include "accord/v1/record.grpc.pb.h"
#include "hub/plugins/adapters.h"
#include "hub/security/authenticator.h"
#include "hub/store/store.h"

namespace accord::server {

class RecordService final : public v1::RecordService::CallbackService {
 public:
  // Everything passed in must outlive the service.
  RecordService(store::Store& store, const security::Authenticator& auth, const plugins::Adapters& adapters);

  grpc::ServerUnaryReactor* RequestRecords(grpc::CallbackServerContext* ctx, const v1::RequestRecordsRequest* req,
                                           v1::RequestRecordsResponse* resp) override;

 private:
  // Decides, fetches and fills `resp`; returns the sharing events to make durable before it is
  // sent. Ends `snapshot` (the reads' one state of the store) before calling any plugin.
  absl::StatusOr<std::vector<store::NewEvent>> DoRequest(grpc::CallbackServerContext& ctx,
                                                         const security::Caller& caller,
                                                         const v1::RequestRecordsRequest& req,
                                                         v1::RequestRecordsResponse& resp,
                                                         std::unique_ptr<store::Store::ReadSnapshot>& snapshot);

  store::Store& store_;
  const security::Authenticator& auth_;
  const plugins::Adapters& adapters_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_RECORD_SERVICE_H_
