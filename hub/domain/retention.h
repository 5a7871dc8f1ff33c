// How long a child's personal details are kept after they were last used. Pure.
//
// A subject's details may be erased once, for every data category its sharing events touched,
// the last such event is older than that category's retention period (events that touched no
// category count under the default period).
#ifndef ACCORD_HUB_DOMAIN_RETENTION_H_
#define ACCORD_HUB_DOMAIN_RETENTION_H_

#include <map>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hub/domain/types.h"

namespace accord::domain {

struct RetentionPolicy {
  absl::Duration default_period = absl::Hours(24 * 365 * 7);
  std::map<DataCategory, absl::Duration> by_category;

  absl::Duration PeriodFor(DataCategory category) const;
};

// The last time each category was used for one subject; DATA_CATEGORY_UNSPECIFIED stands for
// events that named no category.
using LastUse = std::map<DataCategory, absl::Time>;

// The moment the subject's details may be erased.
absl::Time RetainUntil(const LastUse& last_use, const RetentionPolicy& policy);

// From "CATEGORY" → days as configured. INVALID_ARGUMENT naming the key for an unknown category
// or a zero period.
absl::StatusOr<RetentionPolicy> MakeRetentionPolicy(uint32_t default_days,
                                                    const std::map<std::string, uint32_t>& days_by_category);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_RETENTION_H_
