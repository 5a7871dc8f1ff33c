#include "hub/domain/outcomes.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"

namespace accord::domain {
namespace {

using ::accord::v1::OUTCOME_MEASURE_ATTENDANCE_PERCENT;
using ::accord::v1::OUTCOME_MEASURE_GOALS_MET;
using ::accord::v1::OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES;
using ::accord::v1::OUTCOME_MEASURE_SWEMWBS;
using ::accord::v1::OUTCOME_MEASURE_WEMWBS;

constexpr int kMaxGoals = 20;

constexpr MeasureSpec kMeasures[] = {
    {OUTCOME_MEASURE_SWEMWBS, "SWEMWBS", 7, 35, 7, 1, 5, true, true},
    {OUTCOME_MEASURE_WEMWBS, "WEMWBS", 14, 70, 14, 1, 5, true, true},
    {OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES, "SDQ_TOTAL_DIFFICULTIES", 0, 40, 0, 0, 0, true, false},
    {OUTCOME_MEASURE_ATTENDANCE_PERCENT, "ATTENDANCE_PERCENT", 0, 100, 0, 0, 0, false, true},
    {OUTCOME_MEASURE_GOALS_MET, "GOALS_MET", 0, kMaxGoals, 0, 0, 0, true, true},
};

// SWEMWBS raw total 7..35 -> metric score (Stewart-Brown et al., the scale's published
// conversion table).
constexpr std::array<double, 29> kSwemwbsMetric = {
    7.00,  9.51,  11.25, 12.40, 13.33, 14.08, 14.75, 15.32, 15.84, 16.36, 16.88, 17.43, 17.98, 18.59, 19.25,
    19.98, 20.73, 21.54, 22.35, 23.21, 24.11, 25.03, 26.02, 27.03, 28.13, 29.31, 30.70, 32.55, 35.00,
};

absl::Status Invalid(absl::string_view field, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", why));
}

bool IsWhole(double v) { return std::isfinite(v) && v == std::floor(v); }

// "7" rather than "7.000000" in messages.
std::string Num(double v) { return IsWhole(v) ? absl::StrCat(static_cast<long long>(v)) : absl::StrCat(v); }

struct Accumulator {
  int paired = 0, start_only = 0, close_only = 0;
  double sum_start = 0, sum_close = 0, sum_change = 0;
  double metric_start = 0, metric_close = 0, metric_change = 0;
  bool metric_ok = true;
  int improved = 0, unchanged = 0, worsened = 0;
};

}  // namespace

const MeasureSpec* FindMeasure(OutcomeMeasure measure) {
  for (const MeasureSpec& spec : kMeasures) {
    if (spec.measure == measure) return &spec;
  }
  return nullptr;
}

absl::Span<const MeasureSpec> AllMeasures() { return kMeasures; }

absl::string_view OutcomeMeasureName(OutcomeMeasure measure) {
  const MeasureSpec* spec = FindMeasure(measure);
  if (spec != nullptr) return spec->name;
  return measure == ::accord::v1::OUTCOME_MEASURE_UNSPECIFIED ? "UNSPECIFIED" : "UNKNOWN";
}

absl::string_view OutcomeTimepointName(OutcomeTimepoint timepoint) {
  switch (timepoint) {
    case ::accord::v1::OUTCOME_TIMEPOINT_UNSPECIFIED: return "UNSPECIFIED";
    case ::accord::v1::OUTCOME_TIMEPOINT_START: return "START";
    case ::accord::v1::OUTCOME_TIMEPOINT_CLOSE: return "CLOSE";
    default: break;
  }
  return "UNKNOWN";
}

absl::StatusOr<int> SdqTotalDifficulties(const SdqScales& s, absl::string_view field) {
  const std::pair<absl::string_view, int> scales[] = {
      {"emotional_symptoms", s.emotional_symptoms},
      {"conduct_problems", s.conduct_problems},
      {"hyperactivity", s.hyperactivity},
      {"peer_problems", s.peer_problems},
  };
  int total = 0;
  for (const auto& [name, score] : scales) {
    if (score < 0 || score > 10) return Invalid(absl::StrCat(field, ".", name), "must be 0-10");
    total += score;
  }
  return total;
}

std::optional<double> SwemwbsMetricScore(double raw_total) {
  if (!IsWhole(raw_total) || raw_total < 7 || raw_total > 35) return std::nullopt;
  return kSwemwbsMetric[static_cast<size_t>(raw_total) - 7];
}

absl::Status ValidateOutcome(const OutcomeValue& o, absl::string_view field) {
  const MeasureSpec* spec = FindMeasure(o.measure);
  if (spec == nullptr) {
    return Invalid(absl::StrCat(field, ".measure"),
                   o.measure == ::accord::v1::OUTCOME_MEASURE_UNSPECIFIED
                       ? std::string("a measure is required")
                       : absl::StrCat("unknown measure ", static_cast<int>(o.measure)));
  }
  if (o.timepoint != ::accord::v1::OUTCOME_TIMEPOINT_START && o.timepoint != ::accord::v1::OUTCOME_TIMEPOINT_CLOSE) {
    return Invalid(absl::StrCat(field, ".timepoint"), "START or CLOSE is required");
  }
  const std::string value_field = absl::StrCat(field, ".value");
  if (!std::isfinite(o.value)) return Invalid(value_field, "must be a finite number");
  if (o.value < spec->min || o.value > spec->max) {
    return Invalid(value_field, absl::StrCat(spec->name, " must be ", Num(spec->min), "-", Num(spec->max)));
  }
  if (spec->whole_numbers && !IsWhole(o.value)) {
    return Invalid(value_field, absl::StrCat(spec->name, " must be a whole number"));
  }

  const std::string items_field = absl::StrCat(field, ".item_scores");
  if (!o.item_scores.empty()) {
    if (spec->items == 0) return Invalid(items_field, absl::StrCat("not part of ", spec->name));
    if (static_cast<int>(o.item_scores.size()) != spec->items) {
      return Invalid(items_field, absl::StrCat(spec->name, " has ", spec->items, " items (found ",
                                               o.item_scores.size(), ")"));
    }
    int sum = 0;
    for (size_t i = 0; i < o.item_scores.size(); ++i) {
      int item = o.item_scores[i];
      if (item < spec->item_min || item > spec->item_max) {
        return Invalid(absl::StrCat(items_field, "[", i, "]"),
                       absl::StrCat("must be ", spec->item_min, "-", spec->item_max));
      }
      sum += item;
    }
    if (sum != o.value) {
      return Invalid(value_field, absl::StrCat("must equal the sum of the item scores (", sum, ")"));
    }
  }

  const std::string sdq_field = absl::StrCat(field, ".sdq_scales");
  if (o.sdq_scales.has_value()) {
    if (o.measure != OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES) {
      return Invalid(sdq_field, absl::StrCat("not part of ", spec->name));
    }
    absl::StatusOr<int> total = SdqTotalDifficulties(*o.sdq_scales, sdq_field);
    if (!total.ok()) return total.status();
    if (*total != o.value) {
      return Invalid(value_field, absl::StrCat("must equal the sum of the four problem scales (", *total, ")"));
    }
  }

  const std::string goals_field = absl::StrCat(field, ".goals_set");
  if (o.measure == OUTCOME_MEASURE_GOALS_MET) {
    if (o.goals_set < 1 || o.goals_set > kMaxGoals) return Invalid(goals_field, "must be 1-20");
    if (o.value > o.goals_set) {
      return Invalid(value_field, absl::StrCat("must not exceed goals_set (", o.goals_set, ")"));
    }
  } else if (o.goals_set != 0) {
    return Invalid(goals_field, absl::StrCat("not part of ", spec->name));
  }
  return absl::OkStatus();
}

absl::Status ValidateOutcomes(const std::vector<OutcomeValue>& outcomes, absl::string_view field) {
  if (outcomes.empty()) return Invalid(field, "at least one outcome is required");
  std::set<std::pair<int, int>> seen;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const OutcomeValue& o = outcomes[i];
    std::string path = absl::StrCat(field, "[", i, "]");
    if (auto s = ValidateOutcome(o, path); !s.ok()) return s;
    if (!seen.emplace(static_cast<int>(o.measure), static_cast<int>(o.timepoint)).second) {
      return Invalid(absl::StrCat(path, ".measure"), absl::StrCat(OutcomeMeasureName(o.measure), " already given for ",
                                                                  OutcomeTimepointName(o.timepoint)));
    }
  }
  return absl::OkStatus();
}

double ReportedScore(const OutcomeValue& o) {
  if (o.measure == OUTCOME_MEASURE_GOALS_MET) {
    return o.goals_set > 0 ? 100.0 * o.value / o.goals_set : 0.0;
  }
  return o.value;
}

std::vector<MeasureSummary> AggregateOutcomes(absl::Span<const OutcomePair> pairs, int minimum_group_size) {
  minimum_group_size = std::max(minimum_group_size, 1);
  std::map<std::pair<std::string, int>, Accumulator> groups;
  for (const OutcomePair& p : pairs) {
    const MeasureSpec* spec = FindMeasure(p.measure);
    if (spec == nullptr) continue;
    bool has_start = p.start.has_value() && std::isfinite(*p.start);
    bool has_close = p.close.has_value() && std::isfinite(*p.close);
    if (!has_start && !has_close) continue;
    Accumulator& acc = groups[{p.service_id, static_cast<int>(p.measure)}];
    if (!has_close) {
      ++acc.start_only;
      continue;
    }
    if (!has_start) {
      ++acc.close_only;
      continue;
    }
    double start = *p.start;
    double close = *p.close;
    ++acc.paired;
    acc.sum_start += start;
    acc.sum_close += close;
    acc.sum_change += close - start;
    if (close == start) {
      ++acc.unchanged;
    } else if ((close > start) == spec->higher_is_better) {
      ++acc.improved;
    } else {
      ++acc.worsened;
    }
    if (p.measure == OUTCOME_MEASURE_SWEMWBS) {
      std::optional<double> ms = SwemwbsMetricScore(start);
      std::optional<double> mc = SwemwbsMetricScore(close);
      if (ms && mc) {
        acc.metric_start += *ms;
        acc.metric_close += *mc;
        acc.metric_change += *mc - *ms;
      } else {
        acc.metric_ok = false;
      }
    }
  }

  std::vector<MeasureSummary> out;
  out.reserve(groups.size());
  for (const auto& [key, acc] : groups) {
    MeasureSummary s;
    s.service_id = key.first;
    s.measure = static_cast<OutcomeMeasure>(key.second);
    s.higher_is_better = FindMeasure(s.measure)->higher_is_better;
    s.paired_count = acc.paired;
    s.start_only_count = acc.start_only;
    s.close_only_count = acc.close_only;
    s.suppressed = acc.paired < minimum_group_size;
    if (!s.suppressed) {
      double n = acc.paired;
      s.means = OutcomeMeans{acc.sum_start / n, acc.sum_close / n, acc.sum_change / n};
      if (s.measure == OUTCOME_MEASURE_SWEMWBS && acc.metric_ok) {
        s.metric_means = OutcomeMeans{acc.metric_start / n, acc.metric_close / n, acc.metric_change / n};
      }
      s.improved_count = acc.improved;
      s.unchanged_count = acc.unchanged;
      s.worsened_count = acc.worsened;
    }
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace accord::domain
