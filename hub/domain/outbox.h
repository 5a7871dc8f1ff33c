// The delivery outbox's rules: the states of an item and when to try again. Pure.
//
// Every inbox item of a provider whose record system is reached through a plugin becomes an
// outbox item. PENDING items are tried when due; a success is DELIVERED; a failure is tried
// again after OutboxBackoff, until max_attempts failures make it DEAD (dead-lettered, listed and
// re-drivable by an admin). An item whose disclosure is refused when it is due (consent
// withdrawn, referral withdrawn) is CANCELLED; one the plugin interface has no call for (a status
// notice, or a plugin that takes no referrals) is SKIPPED.
#ifndef ACCORD_HUB_DOMAIN_OUTBOX_H_
#define ACCORD_HUB_DOMAIN_OUTBOX_H_

#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace accord::domain {

enum class OutboxState { kPending = 1, kDelivered = 2, kDead = 3, kCancelled = 4, kSkipped = 5 };

absl::string_view OutboxStateName(OutboxState state);  // "PENDING", ...
// From a name as OutboxStateName gives it (any case); false when unknown.
bool ParseOutboxState(absl::string_view name, OutboxState* state);

struct OutboxPolicy {
  int max_attempts = 10;
  absl::Duration initial_backoff = absl::Seconds(1);
  absl::Duration max_backoff = absl::Minutes(5);
};

// The wait after the `failures`-th failed attempt (1, 2, …): initial × 2^(failures-1), at most max.
absl::Duration OutboxBackoff(int failures, const OutboxPolicy& policy);

// What a failed attempt leads to: PENDING again, or DEAD once `failures` reaches max_attempts.
OutboxState AfterFailure(int failures, const OutboxPolicy& policy);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_OUTBOX_H_
