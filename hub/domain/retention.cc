#include "hub/domain/retention.h"

#include "absl/strings/str_cat.h"

namespace accord::domain {

absl::Duration RetentionPolicy::PeriodFor(DataCategory category) const {
  auto it = by_category.find(category);
  return it == by_category.end() ? default_period : it->second;
}

absl::Time RetainUntil(const LastUse& last_use, const RetentionPolicy& policy) {
  absl::Time until = absl::InfinitePast();
  for (const auto& [category, when] : last_use) until = std::max(until, when + policy.PeriodFor(category));
  return until;
}

absl::StatusOr<RetentionPolicy> MakeRetentionPolicy(uint32_t default_days,
                                                    const std::map<std::string, uint32_t>& days_by_category) {
  RetentionPolicy policy;
  if (default_days > 0) policy.default_period = absl::Hours(24) * default_days;
  for (const auto& [name, days] : days_by_category) {
    DataCategory category;
    std::string full = absl::StrCat("DATA_CATEGORY_", name);
    if (!::accord::v1::DataCategory_Parse(full, &category) || category == ::accord::v1::DATA_CATEGORY_UNSPECIFIED) {
      return absl::InvalidArgumentError(absl::StrCat("retention.days_by_category.", name, ": unknown data category"));
    }
    if (days == 0) {
      return absl::InvalidArgumentError(absl::StrCat("retention.days_by_category.", name, ": must be at least 1"));
    }
    policy.by_category[category] = absl::Hours(24) * days;
  }
  return policy;
}

}  // namespace accord::domain
