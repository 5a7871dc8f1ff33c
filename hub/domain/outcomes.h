// Outcome measures (DESIGN.md §2): what a provider records about a child at the start and the close
// of support, and the anonymous pre/post report per service. Pure functions, thread-safe.
//
// Measures and their ranges (a value outside is refused, naming the field):
//   SWEMWBS                 7 items scored 1-5; the raw total 7-35. Higher is better. The raw
//                           total is what is recorded and validated; comparisons across studies
//                           use the Rasch metric score from the published conversion table
//                           (SwemwbsMetricScore), which reports give alongside.
//   WEMWBS                  14 items scored 1-5; the total 14-70. Higher is better.
//   SDQ_TOTAL_DIFFICULTIES  the sum of the four problem scales (emotional symptoms, conduct
//                           problems, hyperactivity, peer problems; each 0-10, five items scored
//                           0-2), 0-40; the prosocial scale is not part of it. Lower is better.
//   ATTENDANCE_PERCENT      0-100, decimals allowed. Higher is better.
//   GOALS_MET               goals met, 0..goals_set, of goals_set (1-20) goals; reports use the
//                           percentage met. Higher is better.
// Every total is a whole number except attendance.
#ifndef ACCORD_HUB_DOMAIN_OUTCOMES_H_
#define ACCORD_HUB_DOMAIN_OUTCOMES_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "accord/v1/referral.pb.h"

namespace accord::domain {

using OutcomeMeasure = ::accord::v1::OutcomeMeasure;
using OutcomeTimepoint = ::accord::v1::OutcomeTimepoint;

// What Accord knows of one measure.
struct MeasureSpec {
  OutcomeMeasure measure;
  absl::string_view name;  // "SWEMWBS", ..., stable
  double min;              // inclusive range of the recorded value
  double max;              // (GOALS_MET: 0..20, and at most goals_set)
  int items;               // item responses it is made of (0: not itemised here)
  int item_min;
  int item_max;
  bool whole_numbers;      // every measure except attendance
  bool higher_is_better;   // every measure except SDQ
};

// The spec of a known measure; nullptr for UNSPECIFIED or an unknown value.
const MeasureSpec* FindMeasure(OutcomeMeasure measure);
// Every known measure, in OutcomeMeasure order.
absl::Span<const MeasureSpec> AllMeasures();

absl::string_view OutcomeMeasureName(OutcomeMeasure measure);      // "SWEMWBS", ..., "UNKNOWN"
absl::string_view OutcomeTimepointName(OutcomeTimepoint timepoint);  // "START", "CLOSE", ...

// The four SDQ problem scales, each 0-10.
struct SdqScales {
  int emotional_symptoms = 0;
  int conduct_problems = 0;
  int hyperactivity = 0;
  int peer_problems = 0;
};

// SDQ total difficulties: the sum of the four problem scales, 0-40. INVALID_ARGUMENT naming the
// scale ("<field>.conduct_problems: must be 0-10") when one is out of range.
absl::StatusOr<int> SdqTotalDifficulties(const SdqScales& scales, absl::string_view field = "sdq_scales");

// The Rasch metric score for a SWEMWBS raw total (7 -> 7.00, 21 -> 19.25, 35 -> 35.00), from the
// conversion table published with the scale; nullopt outside 7-35 or for a non-whole number.
std::optional<double> SwemwbsMetricScore(double raw_total);

// One recorded value.
struct OutcomeValue {
  OutcomeMeasure measure = ::accord::v1::OUTCOME_MEASURE_UNSPECIFIED;
  OutcomeTimepoint timepoint = ::accord::v1::OUTCOME_TIMEPOINT_UNSPECIFIED;
  double value = 0;
  std::vector<int> item_scores;           // optional, SWEMWBS / WEMWBS
  std::optional<SdqScales> sdq_scales;    // optional, SDQ
  int goals_set = 0;                      // GOALS_MET only, then required
};

// Input rules for one value, paths under `field` ("outcomes[0]"):
//   .measure      a known measure
//   .timepoint    START or CLOSE
//   .value        finite, in the measure's range ("<field>.value: SWEMWBS must be 7-35"), a whole
//                 number unless attendance; GOALS_MET at most goals_set
//   .item_scores  only for SWEMWBS / WEMWBS; when given, exactly 7 / 14, each 1-5, summing to value
//   .sdq_scales   only for SDQ; when given, each 0-10, summing to value
//   .goals_set    GOALS_MET: required, 1-20; other measures: unset
absl::Status ValidateOutcome(const OutcomeValue& outcome, absl::string_view field = "outcome");

// A batch recorded at once: at least one, each as ValidateOutcome under "<field>[i]", no measure
// twice for the same timepoint ("outcomes[2].measure: SWEMWBS already given for START").
absl::Status ValidateOutcomes(const std::vector<OutcomeValue>& outcomes, absl::string_view field = "outcomes");

// The value reports use: the recorded value, except GOALS_MET as the percentage of goals met.
double ReportedScore(const OutcomeValue& outcome);

// One child's start and close score on one measure at one service, with nothing that identifies
// the child, the referral or the partners. Values as ReportedScore gives them.
struct OutcomePair {
  std::string service_id;
  OutcomeMeasure measure = ::accord::v1::OUTCOME_MEASURE_UNSPECIFIED;
  std::optional<double> start;
  std::optional<double> close;
};

struct OutcomeMeans {
  double mean_start = 0;
  double mean_close = 0;
  double mean_change = 0;  // mean of (close - start)
};

// The pre/post summary of one measure at one service.
struct MeasureSummary {
  std::string service_id;
  OutcomeMeasure measure = ::accord::v1::OUTCOME_MEASURE_UNSPECIFIED;
  int paired_count = 0;      // children with both values: the means are over these
  int start_only_count = 0;
  int close_only_count = 0;
  bool suppressed = false;   // paired_count < minimum group size: means and directions withheld
  OutcomeMeans means;
  std::optional<OutcomeMeans> metric_means;  // SWEMWBS only, over Rasch metric scores
  int improved_count = 0;    // per paired child, by the measure's better direction
  int unchanged_count = 0;
  int worsened_count = 0;
  bool higher_is_better = true;
};

// Groups smaller than this have their means and directions withheld by default: a mean over one or
// two children is their score.
inline constexpr int kDefaultMinimumGroupSize = 5;

// The anonymous pre/post report: one summary per (service, measure) that has any value, ordered by
// service id, then measure. Pairs with an unknown measure, or with no finite value, are ignored;
// a non-finite value counts as missing. Contains no identifiers but the service's. Means are over
// the paired children only; when fewer than `minimum_group_size` (at least 1) are paired, the
// means, metric means and direction counts are left zero and `suppressed` is set.
std::vector<MeasureSummary> AggregateOutcomes(absl::Span<const OutcomePair> pairs,
                                              int minimum_group_size = kDefaultMinimumGroupSize);

}  // namespace accord::domain

#endif  // ACCORD_HUB_DOMAIN_OUTCOMES_H_
