// Conversions between the directory, referral and outcome model and their accord.v1 messages: the
// public contract's shape, which is also the form the store keeps them in. Pure and thread-safe.
//
// The conversions copy; they do not validate. Incoming requests are checked after conversion by
// ValidateService, ValidateNewReferral, ValidateChange and ValidateOutcomes, which name the field.
// Resource names are taken apart leniently ("services/x" -> "x"; anything else is kept whole, so
// validation refuses it): callers that need a precise error parse names first.
#ifndef ACCORD_HUB_DOMAIN_CODEC_H_
#define ACCORD_HUB_DOMAIN_CODEC_H_

#include "accord/v1/directory.pb.h"
#include "accord/v1/referral.pb.h"
#include "hub/domain/directory.h"
#include "hub/domain/outcomes.h"
#include "hub/domain/referral.h"

namespace accord::domain {

google::protobuf::Timestamp TimeToProto(absl::Time t);
absl::Time TimeFromProto(const google::protobuf::Timestamp& t);
google::protobuf::Duration DurationToProto(absl::Duration d);
absl::Duration DurationFromProto(const google::protobuf::Duration& d);

::accord::v1::Availability AvailabilityToProto(const Availability& availability);
Availability AvailabilityFromProto(const ::accord::v1::Availability& availability);

// Every field, with name = "services/{id}" and provider = "partners/{provider_id}".
::accord::v1::Service ServiceToProto(const Service& service);
// Every field; the id and provider from the names when set.
Service ServiceFromProto(const ::accord::v1::Service& service);

::accord::v1::Decline DeclineToProto(const Decline& decline);
Decline DeclineFromProto(const ::accord::v1::Decline& decline);
::accord::v1::Closure ClosureToProto(const Closure& closure);
Closure ClosureFromProto(const ::accord::v1::Closure& closure);

// Every field but the outcomes (kept elsewhere) and the notice's suggestion text; withheld
// marks on the history are not part of the contract and are dropped (see VisibleTo).
::accord::v1::Referral ReferralToProto(const Referral& referral);
Referral ReferralFromProto(const ::accord::v1::Referral& referral);

::accord::v1::OutcomeValue OutcomeToProto(const OutcomeValue& outcome);
OutcomeValue OutcomeFromProto(const ::accord::v1::OutcomeValue& outcome);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_CODEC_H_
