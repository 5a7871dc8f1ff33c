// accord.v1.RecordService: records about a child gathered from the other holding partners' record
// systems through their plugins, each category decided (domain::Decide), minimised and logged.
#ifndef ACCORD_HUB_SERVER_RECORD_SERVICE_H_
#define ACCORD_HUB_SERVER_RECORD_SERVICE_H_

#include <memory>
#include <set>
#include <string>
#include <vector>

#include "accord/v1/record.grpc.pb.h"
#include "hub/domain/decision.h"
#include "hub/plugins/adapters.h"
#include "hub/security/authenticator.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {

class RecordService final : public v1::RecordService::CallbackService {
 public:
  // Everything passed in must outlive the service.
  RecordService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                const plugins::Adapters& adapters);

  grpc::ServerUnaryReactor* RequestRecords(grpc::CallbackServerContext* ctx, const v1::RequestRecordsRequest* req,
                                           v1::RequestRecordsResponse* resp) override;

 private:
  // One holder's part of a request: decided, with the categories to fetch from its system.
  struct HolderPart {
    store::SubjectRecord holder;
    domain::SharingRequest request;
    domain::Decision decision;
    std::set<domain::DataCategory> allowed;
    plugins::PartnerAdapter* adapter = nullptr;  // set when something is allowed and it has a plugin
  };
  struct Plan {
    std::vector<HolderPart> parts;
    domain::Purpose purpose = ::accord::v1::PURPOSE_UNSPECIFIED;
    absl::Time deadline;
    std::string rpc;  // the events' request reference
  };
  // Reads and decides every other holder's part; ends `snapshot` (the reads' one state of the
  // store) once it has read.
  absl::StatusOr<Plan> MakePlan(grpc::CallbackServerContext& ctx, const security::Caller& caller,
                                const v1::RequestRecordsRequest& req,
                                std::unique_ptr<store::Store::ReadSnapshot>& snapshot);
  // Fetches what each holder may disclose from its system and fills `resp`; returns the sharing
  // events to make durable before it is sent.
  std::vector<store::NewEvent> Fetch(const Plan& plan, v1::RequestRecordsResponse& resp);

  store::Store& store_;
  const security::Authenticator& auth_;
  Workers& workers_;
  const plugins::Adapters& adapters_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_RECORD_SERVICE_H_
