#include "hub/domain/retention.h"

#include "gtest/gtest.h"

namespace accord::domain {
namespace {

TEST(RetentionTest, TheLongestRemainingPeriodDecides) {
  auto policy = MakeRetentionPolicy(365, {{"MENTAL_HEALTH", 3650}, {"ATTENDANCE", 30}});
  ASSERT_TRUE(policy.ok()) << policy.status();
  absl::Time t0 = absl::FromUnixSeconds(1'700'000'000);
  LastUse use = {{::accord::v1::DATA_CATEGORY_ATTENDANCE, t0 + absl::Hours(24 * 100)},
                 {::accord::v1::DATA_CATEGORY_IDENTITY, t0}};
  EXPECT_EQ(RetainUntil(use, *policy), t0 + absl::Hours(24 * 365));  // IDENTITY's default year wins
  use[::accord::v1::DATA_CATEGORY_MENTAL_HEALTH] = t0;
  EXPECT_EQ(RetainUntil(use, *policy), t0 + absl::Hours(24 * 3650));
  EXPECT_EQ(RetainUntil({}, *policy), absl::InfinitePast());
}

TEST(RetentionTest, RefusesUnknownCategoriesAndZeroPeriods) {
  auto bad = MakeRetentionPolicy(0, {{"HOBBIES", 10}});
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(bad.status().message().rfind("retention.days_by_category.HOBBIES", 0), 0u);
  EXPECT_FALSE(MakeRetentionPolicy(0, {{"SEN", 0}}).ok());
  EXPECT_EQ(MakeRetentionPolicy(0, {})->default_period, absl::Hours(24 * 365 * 7));
}

}  // namespace
}  // namespace accord::domain
