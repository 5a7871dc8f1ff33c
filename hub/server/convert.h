// Translations between the public contract (accord.v1 messages) and the domain model.
// Incoming conversions validate the shape of names and report the field path on failure.
#ifndef ACCORD_HUB_SERVER_CONVERT_H_
#define ACCORD_HUB_SERVER_CONVERT_H_

#include <grpcpp/support/status.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "accord/v1/consent.pb.h"
#include "accord/v1/partner_admin.pb.h"
#include "accord/v1/subject.pb.h"
#include "hub/domain/consent.h"
#include "hub/store/store.h"
#include "google/protobuf/timestamp.pb.h"
#include "hub/domain/types.h"

namespace accord::server {

// absl and gRPC share their status codes; this is the one place they meet.
grpc::Status ToGrpc(const absl::Status& status);

google::protobuf::Timestamp ToProto(absl::Time t);
absl::Time FromProto(const google::protobuf::Timestamp& t);

v1::Partner ToProto(const domain::Partner& partner);
// display_name, sector and roles only: the rest is the hub's to set.
domain::Partner FromProto(const v1::Partner& partner);

v1::SharingAgreement ToProto(const domain::SharingAgreement& agreement);
// INVALID_ARGUMENT naming the field for a malformed partner name in a party.
absl::StatusOr<domain::SharingAgreement> FromProto(const v1::SharingAgreement& agreement);

// The caller's own record of a subject, with the family links it may see.
v1::Subject ToProto(const store::SubjectRecord& record, const std::vector<store::FamilyLink>& family);

// `state` is derived at `now` (EXPIRED, NOT_YET_VALID) from the stored state and the window.
v1::Consent ToProto(const domain::Consent& consent, absl::Time now);
// The fields a caller may set; INVALID_ARGUMENT naming the field for malformed names.
absl::StatusOr<domain::Consent> FromProto(const v1::Consent& consent);

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_CONVERT_H_
