#include "hub/domain/outbox.h"

#include "gtest/gtest.h"

namespace accord::domain {
namespace {

TEST(OutboxTest, BackoffDoublesUpToItsMaximum) {
  OutboxPolicy p{.max_attempts = 5, .initial_backoff = absl::Seconds(1), .max_backoff = absl::Seconds(10)};
  EXPECT_EQ(OutboxBackoff(1, p), absl::Seconds(1));
  EXPECT_EQ(OutboxBackoff(2, p), absl::Seconds(2));
  EXPECT_EQ(OutboxBackoff(4, p), absl::Seconds(8));
  EXPECT_EQ(OutboxBackoff(5, p), absl::Seconds(10));
  EXPECT_EQ(OutboxBackoff(1000, p), absl::Seconds(10));
}

TEST(OutboxTest, DeadAfterTheLastAttempt) {
  OutboxPolicy p{.max_attempts = 3};
  EXPECT_EQ(AfterFailure(1, p), OutboxState::kPending);
  EXPECT_EQ(AfterFailure(2, p), OutboxState::kPending);
  EXPECT_EQ(AfterFailure(3, p), OutboxState::kDead);
}

TEST(OutboxTest, StateNamesRoundTrip) {
  for (OutboxState s : {OutboxState::kPending, OutboxState::kDelivered, OutboxState::kDead, OutboxState::kCancelled,
                        OutboxState::kSkipped}) {
    OutboxState parsed;
    ASSERT_TRUE(ParseOutboxState(OutboxStateName(s), &parsed));
    EXPECT_EQ(parsed, s);
  }
  OutboxState parsed;
  EXPECT_TRUE(ParseOutboxState("dead", &parsed));
  EXPECT_EQ(parsed, OutboxState::kDead);
  EXPECT_FALSE(ParseOutboxState("LOST", &parsed));
}

}  // namespace
}  // namespace accord::domain
