// Consent to share information about a subject (DESIGN.md §2): who gave it, for which purposes,
// which data categories and which recipients, for how long, and whether it has been withdrawn.
// Plain values and pure functions: no I/O, time is always passed in.
#ifndef ACCORD_HUB_DOMAIN_CONSENT_H_
#define ACCORD_HUB_DOMAIN_CONSENT_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "hub/domain/types.h"

namespace accord::domain {

// Who gave the consent. kUnspecified is never valid in a stored consent.
enum class ConsentGiver {
  kUnspecified = 0,
  kYoungPerson = 1,  // Gillick-competent or 16+
  kParentCarer = 2,  // someone with parental responsibility
};

// The recorded state. EXPIRED and NOT_YET_VALID are not stored: they follow from the validity
// window and the time asked about (see ConsentStatusAt).
enum class ConsentState {
  kActive = 0,
  kWithdrawn = 1,
};

// The state of a consent at a given moment.
enum class ConsentStatus {
  kActive,       // may be relied on
  kNotYetValid,  // time < valid_from
  kExpired,      // time >= valid_until
  kWithdrawn,    // withdrawn (or its recorded state is not one this code knows)
};

absl::string_view ConsentGiverName(ConsentGiver giver);     // "YOUNG_PERSON", "PARENT_CARER", ...
absl::string_view ConsentStateName(ConsentState state);     // "ACTIVE", "WITHDRAWN", "UNKNOWN"
absl::string_view ConsentStatusName(ConsentStatus status);  // "ACTIVE", "NOT_YET_VALID", ...

// One consent. Its scope is the cross product purposes x categories x recipients: it covers a
// disclosure when the purpose, the category and the recipient are each listed (a recipient Party
// naming a sector covers every partner of that sector; one naming a partner covers only it).
struct Consent {
  std::string id;
  std::string subject_id;
  ConsentGiver given_by = ConsentGiver::kUnspecified;
  std::vector<Purpose> purposes;
  std::vector<DataCategory> categories;
  std::vector<Party> recipients;
  absl::Time valid_from;   // inclusive
  absl::Time valid_until;  // exclusive
  ConsentState state = ConsentState::kActive;
  std::optional<absl::Time> withdrawn_at;  // set exactly when state is kWithdrawn
  std::string recorded_by;                 // id of the partner that recorded it
  std::string evidence;  // how it was obtained, e.g. "signed form scanned to MIS, 2024-03-01"
  absl::Time create_time;
};

// True when the consent's scope lists `purpose` and `category` and one of its recipients covers
// `recipient`. Says nothing about time, state or subject.
bool ConsentScopeCovers(const Consent& consent, Purpose purpose, DataCategory category,
                        const Partner& recipient);

// The consent's status at `time`. Withdrawal wins over the window: a consent whose recorded state
// is kWithdrawn (whatever withdrawn_at says, so a replica whose clock runs behind the one that
// recorded the withdrawal still refuses), or whose withdrawn_at <= time, is kWithdrawn; so is one
// whose state is not a known value. Otherwise the window decides (valid_from inclusive,
// valid_until exclusive).
ConsentStatus ConsentStatusAt(const Consent& consent, absl::Time time);

// Input rules for a consent about to be recorded. OK, or INVALID_ARGUMENT whose message starts with
// the field's path ("consent.purposes[1]: repeated value"):
//   consent.subject_id     1-128 printable ASCII characters
//   consent.given_by       YOUNG_PERSON or PARENT_CARER
//   consent.purposes       at least one, each known, no repeats
//   consent.data_categories at least one, each known, no repeats
//   consent.recipients     at least one, each a valid partner id or a known sector (not both),
//                          no repeats
//   consent.valid_until    set (not the Unix epoch), finite, after valid_from (itself finite)
//   consent.state          ACTIVE, with withdrawn_at unset
//   consent.recorded_by    a valid partner id
//   consent.evidence       1-2000 characters, not only whitespace
// The id and create_time are assigned by the store and not checked. Whether the subject and the
// named partners exist is the caller's concern (it needs the store).
absl::Status ValidateConsent(const Consent& consent);

// Withdraws `consent` at `at`: state becomes kWithdrawn, withdrawn_at = at. Effective for every
// decision made at or after `at`. FAILED_PRECONDITION (and no change) unless its state is kActive.
absl::Status WithdrawConsent(Consent& consent, absl::Time at);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_CONSENT_H_
