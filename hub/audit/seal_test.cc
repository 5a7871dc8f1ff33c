#include "hub/audit/seal.h"

#include "gtest/gtest.h"

namespace accord::audit {
namespace {

TEST(SealTest, RoundTripsForItsSubjectAndKeyOnly) {
  std::string key = *NewSubjectKey();
  auto sealed = SealDetails(key, "subject-a", "Disclosed self-harm to form tutor");
  ASSERT_TRUE(sealed.ok()) << sealed.status();
  EXPECT_EQ(sealed->find("self-harm"), std::string::npos);
  EXPECT_EQ(*OpenDetails(key, "subject-a", *sealed), "Disclosed self-harm to form tutor");
  EXPECT_EQ(OpenDetails(key, "subject-b", *sealed).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenDetails(*NewSubjectKey(), "subject-a", *sealed).status().code(), absl::StatusCode::kDataLoss);
  std::string altered = *sealed;
  altered[14] ^= 0x40;
  EXPECT_EQ(OpenDetails(key, "subject-a", altered).status().code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(OpenDetails(key, "subject-a", "short").status().code(), absl::StatusCode::kDataLoss);
}

TEST(SealTest, NoncesDifferSoEqualTextsDoNotLookEqual) {
  std::string key = *NewSubjectKey();
  EXPECT_NE(*SealDetails(key, "s", "same"), *SealDetails(key, "s", "same"));
  EXPECT_EQ(*OpenDetails(key, "s", *SealDetails(key, "s", "")), "");
  EXPECT_EQ(SealDetails("short key", "s", "x").status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace accord::audit
