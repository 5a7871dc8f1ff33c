// Minimisation of records a partner's system returns: only allowed categories, each record's
// content of the kind its category holds. Pure.
#ifndef ACCORD_HUB_DOMAIN_RECORDS_H_
#define ACCORD_HUB_DOMAIN_RECORDS_H_

#include <set>

#include "accord/v1/record.pb.h"
#include "hub/domain/types.h"

namespace accord::domain {

// IDENTITY holds `identity`, EDUCATION `education`, SEN `sen`, ATTENDANCE `attendance`, HEALTH and
// MENTAL_HEALTH `clinical`; every other category `note`. A record without content fits nothing.
bool RecordFitsCategory(const ::accord::v1::Record& record);

// Removes the records whose category is not in `allowed` or whose content does not fit it
// (a plugin's mistake); returns how many were removed.
int KeepAllowedRecords(const std::set<DataCategory>& allowed,
                       google::protobuf::RepeatedPtrField<::accord::v1::Record>* records);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_RECORDS_H_
