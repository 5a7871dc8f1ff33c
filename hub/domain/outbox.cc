#include "hub/domain/outbox.h"

#include <algorithm>

#include "absl/strings/ascii.h"

namespace accord::domain {

absl::string_view OutboxStateName(OutboxState state) {
  switch (state) {
    case OutboxState::kPending:
      return "PENDING";
    case OutboxState::kDelivered:
      return "DELIVERED";
    case OutboxState::kDead:
      return "DEAD";
    case OutboxState::kCancelled:
      return "CANCELLED";
    case OutboxState::kSkipped:
      return "SKIPPED";
  }
  return "UNKNOWN";
}

bool ParseOutboxState(absl::string_view name, OutboxState* state) {
  const std::string upper = absl::AsciiStrToUpper(name);
  for (OutboxState s : {OutboxState::kPending, OutboxState::kDelivered, OutboxState::kDead, OutboxState::kCancelled,
                        OutboxState::kSkipped}) {
    if (OutboxStateName(s) == upper) {
      *state = s;
      return true;
    }
  }
  return false;
}

absl::Duration OutboxBackoff(int failures, const OutboxPolicy& policy) {
  absl::Duration wait = policy.initial_backoff;
  for (int i = 1; i < failures && wait < policy.max_backoff; ++i) wait *= 2;
  return std::min(wait, policy.max_backoff);
}

OutboxState AfterFailure(int failures, const OutboxPolicy& policy) {
  return failures >= policy.max_attempts ? OutboxState::kDead : OutboxState::kPending;
}

}  // namespace accord::domain
