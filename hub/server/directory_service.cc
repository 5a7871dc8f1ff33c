#include "hub/server/directory_service.h"

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "hub/domain/codec.h"
#include "hub/domain/directory.h"
#include "hub/domain/validation.h"
#include "hub/log/log.h"
#include "hub/server/unary.h"

namespace accord::server {
namespace {

const std::initializer_list<domain::Role> kProviders = {v1::ROLE_PROVIDER};
const std::initializer_list<domain::Role> kEveryone = {v1::ROLE_REFERRER, v1::ROLE_PROVIDER, v1::ROLE_DPO,
                                                       v1::ROLE_ADMIN};

v1::EligibilityCriterion ToProto(domain::Criterion c) {
  switch (c) {
    case domain::Criterion::kAcceptingReferrals: return v1::ELIGIBILITY_CRITERION_ACCEPTING_REFERRALS;
    case domain::Criterion::kAge: return v1::ELIGIBILITY_CRITERION_AGE;
    case domain::Criterion::kNeedType: return v1::ELIGIBILITY_CRITERION_NEED_TYPE;
    case domain::Criterion::kLevelOfNeed: return v1::ELIGIBILITY_CRITERION_LEVEL_OF_NEED;
    case domain::Criterion::kArea: return v1::ELIGIBILITY_CRITERION_AREA;
  }
  return v1::ELIGIBILITY_CRITERION_UNSPECIFIED;
}

v1::ServiceMatch ToProto(const domain::ServiceMatch& m, const domain::Service& service) {
  v1::ServiceMatch out;
  *out.mutable_service() = domain::ServiceToProto(service);
  for (domain::NeedType t : m.needs_addressed) out.add_needs_addressed(t);
  for (const domain::FitReason& r : m.reasons) {
    v1::FitReason* reason = out.add_reasons();
    reason->set_criterion(ToProto(r.criterion));
    reason->set_met(r.met);
    reason->set_code(std::string(domain::FitCodeName(r.code)));
    reason->set_text(r.text);
  }
  return out;
}

}  // namespace

DirectoryService::DirectoryService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                                   int max_page_size)
    : store_(store), auth_(auth), workers_(workers), max_page_size_(max_page_size) {}

grpc::ServerUnaryReactor* DirectoryService::PublishService(grpc::CallbackServerContext* ctx,
                                                           const v1::PublishServiceRequest* req,
                                                           v1::PublishServiceResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "PublishService",
                       [=, this](const security::Caller& caller) { return DoPublish(caller, *req, *resp); });
}

absl::Status DirectoryService::DoPublish(const security::Caller& caller, const v1::PublishServiceRequest& req,
                                         v1::PublishServiceResponse& resp) {
  if (!req.service_id().empty()) {
    if (absl::Status s = domain::ValidateServiceId(req.service_id(), "service_id"); !s.ok()) return s;
  }
  if (!req.has_service()) return absl::InvalidArgumentError("service: is required");
  domain::Service incoming = domain::ServiceFromProto(req.service());
  absl::StatusOr<domain::Service> service = domain::ValidateService(incoming);
  if (!service.ok()) return service.status();
  service->id = req.service_id();
  service->provider_id = caller.partner.id;
  absl::StatusOr<domain::Service> stored = store_.PublishService(*service, req.service().has_availability());
  if (!stored.ok()) return stored.status();
  *resp.mutable_service() = domain::ServiceToProto(*stored);
  log::Info("service_published", {{"service", stored->id}, {"by", caller.partner.id}});
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* DirectoryService::UpdateAvailability(grpc::CallbackServerContext* ctx,
                                                               const v1::UpdateAvailabilityRequest* req,
                                                               v1::UpdateAvailabilityResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kProviders, "UpdateAvailability",
                       [=, this](const security::Caller& caller) -> absl::Status {
                       absl::StatusOr<std::string> id = domain::ParseServiceName(req->name(), "name");
                       if (!id.ok()) return id.status();
                       if (!req->has_availability()) return absl::InvalidArgumentError("availability: is required");
                       domain::Availability availability = domain::AvailabilityFromProto(req->availability());
                       if (absl::Status s = domain::ValidateAvailability(availability); !s.ok()) return s;
                       absl::StatusOr<domain::Service> updated =
                           store_.UpdateAvailability(*id, caller.partner.id, availability);
                       if (!updated.ok()) return updated.status();
                       *resp->mutable_service() = domain::ServiceToProto(*updated);
                       return absl::OkStatus();
                     });
}

grpc::ServerUnaryReactor* DirectoryService::SearchServices(grpc::CallbackServerContext* ctx,
                                                           const v1::SearchServicesRequest* req,
                                                           v1::SearchServicesResponse* resp) {
  auto snapshot = store_.SnapshotReads();  // reads only: the caller and the answer in one transaction
  return HandleUnary(ctx, auth_, kEveryone, "SearchServices",
                     [&](const security::Caller&) { return DoSearch(*req, *resp); });
}

absl::Status DirectoryService::DoSearch(const v1::SearchServicesRequest& req, v1::SearchServicesResponse& resp) {
  domain::SearchQuery query;
  for (const v1::Need& n : req.needs()) query.needs.push_back(domain::Need{n.type(), n.level()});
  if (req.has_age_years()) query.age_years = req.age_years();
  query.postcode = req.postcode();
  query.local_authority = req.local_authority();
  query.include_near_misses = req.include_near_misses();
  // Validated before anything is read, so bad input gets its field whatever the directory holds.
  absl::StatusOr<domain::SearchQuery> valid = domain::ValidateSearchQuery(query);
  if (!valid.ok()) return valid.status();
  absl::StatusOr<int> size = domain::EffectivePageSize(req.page_size(), max_page_size_);
  if (!size.ok()) return size.status();
  absl::StatusOr<std::string> after = domain::DecodePageToken(req.page_token());
  if (!after.ok()) return after.status();
  size_t offset = 0;
  if (!after->empty() && !absl::SimpleAtoi(*after, &offset)) {
    return absl::InvalidArgumentError("page_token: not a token this hub issued");
  }
  absl::StatusOr<std::vector<domain::Service>> services = store_.ListServices();
  if (!services.ok()) return services.status();
  absl::StatusOr<domain::SearchResult> result = domain::SearchServices(*valid, *services);
  if (!result.ok()) return result.status();
  size_t end = std::min(result->matches.size(), offset + static_cast<size_t>(*size));
  for (size_t i = offset; i < end; ++i) {
    const domain::ServiceMatch& m = result->matches[i];
    *resp.add_matches() = ToProto(m, (*services)[m.candidate_index]);
  }
  if (end < result->matches.size()) resp.set_next_page_token(domain::EncodePageToken(absl::StrCat(end)));
  if (offset == 0) {
    for (const domain::ServiceMatch& m : result->near_misses) {
      *resp.add_near_misses() = ToProto(m, (*services)[m.candidate_index]);
    }
  }
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* DirectoryService::GetService(grpc::CallbackServerContext* ctx,
                                                       const v1::GetServiceRequest* req, v1::GetServiceResponse* resp) {
  auto snapshot = store_.SnapshotReads();  // reads only: the caller and the answer in one transaction
  return HandleUnary(ctx, auth_, kEveryone, "GetService", [&](const security::Caller&) -> absl::Status {
    absl::StatusOr<std::string> id = domain::ParseServiceName(req->name(), "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<domain::Service> service = store_.GetService(*id);
    if (absl::IsNotFound(service.status())) return absl::NotFoundError(absl::StrCat("name: no service ", *id));
    if (!service.ok()) return service.status();
    *resp->mutable_service() = domain::ServiceToProto(*service);
    return absl::OkStatus();
  });
}

}  // namespace accord::server
