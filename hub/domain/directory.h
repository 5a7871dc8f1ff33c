// The service directory (DESIGN.md §2 "Service", "Needs"): what a provider offers, to whom and
// where, how much room it has, and the pure eligibility search referrers use to find the services
// that fit a child. Plain values and pure functions: no I/O, thread-safe.
//
// The model follows Open Referral UK (HSDS UK) so an importer maps field for field: service
// (id, name -> display_name, description, url, email, status -> accepting_referrals), organization,
// eligibility (minimum_age, maximum_age, eligibility -> description; need types and levels of need
// codify ORUK's free text and taxonomy), service_area (service_area -> description, uri; postcode
// prefixes and local authority codes make it machine-readable) and contact. The enums are the
// public contract's own (accord/v1/directory.proto), as for common.proto's in types.h.
//
// Validation returns OK or INVALID_ARGUMENT whose message starts with the field's path as the
// caller sent it ("service.eligibility.need_types[2]: repeated value", "needs[0].level: ...").
// Messages never repeat a postcode (a child's home postcode is personal data).
#ifndef ACCORD_HUB_DOMAIN_DIRECTORY_H_
#define ACCORD_HUB_DOMAIN_DIRECTORY_H_

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "accord/v1/directory.pb.h"
#include "hub/domain/types.h"

namespace accord::domain {

using NeedType = ::accord::v1::NeedType;
using LevelOfNeed = ::accord::v1::LevelOfNeed;

// One of a child's needs and its level of need (1 universal .. 4 specialist/statutory).
struct Need {
  NeedType type = ::accord::v1::NEED_TYPE_UNSPECIFIED;
  LevelOfNeed level = ::accord::v1::LEVEL_OF_NEED_UNSPECIFIED;

  friend bool operator==(const Need&, const Need&) = default;
};

// "ANXIETY", "SCHOOL_ATTENDANCE", ... ("UNKNOWN" for a value this code does not know).
absl::string_view NeedTypeName(NeedType type);
// "UNIVERSAL", "ADDITIONAL", "TARGETED", "SPECIALIST" ("UNKNOWN" otherwise).
absl::string_view LevelOfNeedName(LevelOfNeed level);

// At least one need; each a known type (not UNSPECIFIED) with a level 1-4; no type twice:
//   "<field>: at least one need is required", "<field>[1].type: unknown need type 99",
//   "<field>[1].level: must be 1-4 (UNIVERSAL, ADDITIONAL, TARGETED, SPECIALIST)",
//   "<field>[2].type: repeated need type ANXIETY".
absl::Status ValidateNeeds(const std::vector<Need>& needs, absl::string_view field = "needs");

// ORUK organization: the provider as the public sees it. Every field optional.
struct Organization {
  std::string display_name;
  std::string description;
  std::string url;
  std::string email;
};

// ORUK eligibility, codified.
struct Eligibility {
  int minimum_age = 0;              // inclusive, whole years
  std::optional<int> maximum_age;   // inclusive, whole years; required
  std::vector<NeedType> need_types; // the needs addressed
  LevelOfNeed minimum_level = ::accord::v1::LEVEL_OF_NEED_UNSPECIFIED;  // unspecified = level 1
  LevelOfNeed maximum_level = ::accord::v1::LEVEL_OF_NEED_UNSPECIFIED;  // the threshold; required
  std::string description;          // ORUK eligibility.eligibility
};

// ORUK service_area. A child is in it when its postcode starts with one of `postcode_prefixes`
// (see PostcodeInPrefix) or its local authority is one of `local_authorities`.
struct ServiceArea {
  std::string description;  // ORUK service_area.service_area
  std::vector<std::string> postcode_prefixes;  // canonical: "LS", "LS6", "LS6 2", "LS6 2AB"
  std::vector<std::string> local_authorities;  // ONS GSS codes, upper case: "E08000035"
  std::string uri;
};

// ORUK contact: how professionals reach the service.
struct Contact {
  std::string name;
  std::string title;
  std::string email;
  std::string phone;
};

// How much room a service has now.
struct Availability {
  bool accepting_referrals = false;
  int capacity = 0;                             // places free to start now
  absl::Duration waiting_time = absl::ZeroDuration();  // current wait, 0..730 days
  absl::Time update_time;                       // set by the store
};

// A service a provider publishes.
struct Service {
  std::string id;           // see ValidateServiceId
  std::string provider_id;  // the publishing partner
  std::string display_name;
  std::string description;
  std::string url;
  std::string email;
  Organization organization;
  Eligibility eligibility;
  std::vector<ServiceArea> areas;
  bool nationwide = false;  // serves anywhere; then `areas` is empty
  std::vector<Contact> contacts;
  Availability availability;
  absl::Time create_time;
  absl::Time update_time;
};

// Service ids: 1-64 characters of [a-z0-9-], starting and ending with a letter or digit (a
// lower-case ORUK UUID fits; the store's generated ids do too).
absl::Status ValidateServiceId(absl::string_view id, absl::string_view field = "service_id");

// Resource names: "services/{id}" <-> id.
std::string ServiceName(absl::string_view id);
absl::StatusOr<std::string> ParseServiceName(absl::string_view name, absl::string_view field = "name");

// A postcode prefix in its canonical form, or INVALID_ARGUMENT under `field`. Accepted shapes,
// any case: an area ("ls" -> "LS"), a district ("ls6" -> "LS6"), a sector (an outward code, a
// space, one digit: "ls6 2" -> "LS6 2"; the space is needed since "LS62" is a district), or a full
// postcode ("ls62ab" -> "LS6 2AB"). Other spaces are ignored ("ls 17" -> "LS17").
absl::StatusOr<std::string> NormalizePostcodePrefix(absl::string_view prefix, absl::string_view field);

// True when the canonical `postcode` (as ValidatePostcode returns it, "LS6 2AB") is within the
// canonical `prefix`: the same area letters (so "L" never covers "LS6"); the same district ("LS1"
// never covers "LS12", but a one-digit London district "W1" covers its sub-districts "W1A".."W1Z");
// the same sector; the same postcode.
bool PostcodeInPrefix(absl::string_view postcode, absl::string_view prefix);

// An ONS GSS local authority code: one of E, W, S, N and eight digits; returned upper case.
absl::StatusOr<std::string> NormalizeLocalAuthority(absl::string_view code, absl::string_view field);

// How much room a service has: capacity 0-100000, waiting time 0-730 days.
//   "<field>.capacity: ...", "<field>.waiting_time: ...".
absl::Status ValidateAvailability(const Availability& availability,
                                  absl::string_view field = "availability");

// Input rules for a service being published; on OK returns it with postcode prefixes and local
// authority codes in canonical form. Paths as the caller sent them:
//   service.display_name          1-200 characters, no control characters
//   service.description           1-5000 characters, not blank
//   service.url, .email           optional; http(s) URL / an address shaped local@domain.tld
//   service.organization.*        optional; the same rules for url and email, names <= 200
//   service.eligibility.minimum_age  0-25
//   service.eligibility.maximum_age  required, 0-25, >= minimum_age
//   service.eligibility.need_types   at least one, known, no repeats
//   service.eligibility.maximum_level_of_need  required, 1-4
//   service.eligibility.minimum_level_of_need  unspecified or 1-4, <= maximum
//   service.service_areas         at least one unless nationwide, none when nationwide; each with at
//                                 least one postcode prefix or local authority, all valid, none
//                                 repeated within the area
//   service.contacts              at most 20; each with a name or a title; url/email/phone shapes
//   service.availability          as ValidateAvailability
// The id, provider and times are the hub's to set and are not checked.
absl::StatusOr<Service> ValidateService(const Service& service);

// A directory search (SearchServices). Nothing in it is stored.
struct SearchQuery {
  std::vector<Need> needs;
  std::optional<int> age_years;   // required, 0-25
  std::string postcode;           // the child's home postcode, or
  std::string local_authority;    // its local authority (GSS code); at least one of the two
  bool include_near_misses = false;
};

// Validates the query and returns it with the postcode and local authority in canonical form.
//   "needs...": as ValidateNeeds; "age_years: is required" / "age_years: must be 0-25";
//   "postcode: ..." as ValidatePostcode; "local_authority: ..."; neither given:
//   "postcode: a postcode or a local authority is required".
absl::StatusOr<SearchQuery> ValidateSearchQuery(const SearchQuery& query);

// The eligibility criteria, in the order reasons are given.
enum class Criterion {
  kAcceptingReferrals,
  kAge,
  kNeedType,
  kLevelOfNeed,
  kArea,
};

// Why a service fits, or does not, on one criterion. Stable names (FitCodeName) go on the wire.
enum class FitCode {
  kAcceptingReferrals,      // met: open to referrals
  kClosedToReferrals,       // not met
  kAgeInRange,              // met
  kBelowMinimumAge,         // not met
  kAboveMaximumAge,         // not met
  kNeedsAddressed,          // met: at least one of the child's needs is among the service's
  kNoNeedAddressed,         // not met
  kLevelWithinThresholds,   // met: the child's level of need is within the service's range
  kAboveThreshold,          // not met: the highest level of need is above the service's maximum
  kBelowThreshold,          // not met: the highest level of need is below the service's minimum
  kInAreaByPostcode,        // met: the postcode is within one of the prefixes
  kInAreaByLocalAuthority,  // met: the local authority is listed
  kNationwide,              // met: the service serves anywhere
  kOutOfArea,               // not met
};

absl::string_view CriterionName(Criterion criterion);  // "ACCEPTING_REFERRALS", "AGE", ...
absl::string_view FitCodeName(FitCode code);           // "AGE_IN_RANGE", "OUT_OF_AREA", ...

struct FitReason {
  Criterion criterion = Criterion::kAcceptingReferrals;
  FitCode code = FitCode::kClosedToReferrals;
  bool met = false;
  std::string text;  // for people; never the postcode
};

// One service judged against a query.
struct ServiceMatch {
  size_t candidate_index = 0;  // into the candidates passed to SearchServices
  std::string service_id;
  std::vector<NeedType> needs_addressed;  // in query order
  std::vector<FitReason> reasons;         // one per Criterion, in Criterion order
  bool eligible = false;                  // every reason met

  int unmet_count() const;
};

// Judges one service against a query that ValidateSearchQuery accepted. The level of need
// compared with the service's thresholds is the child's highest level over all its needs
// (thresholds are about the child, not one need): a child with any need at level 4 is above a
// level-3 service's threshold even for its other needs.
ServiceMatch JudgeService(const SearchQuery& query, const Service& service);

struct SearchResult {
  std::vector<ServiceMatch> matches;      // eligible services, best first
  std::vector<ServiceMatch> near_misses;  // only when asked; ranked the same way
};

// The directory search. Validates `query` (as ValidateSearchQuery; INVALID_ARGUMENT otherwise),
// judges every candidate, and returns the eligible ones ranked: most of the child's needs
// addressed first, then the shortest waiting time, then the most places free, then by service
// id (so equal services always come back in the same order). With include_near_misses, the
// services that address at least one of the needs and fail exactly one other criterion are
// returned too, ranked the same way; services addressing none of the needs are never near misses.
absl::StatusOr<SearchResult> SearchServices(const SearchQuery& query,
                                            absl::Span<const Service> candidates);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_DIRECTORY_H_
