// Outcome measures: each measure's range at and just beyond its bounds, item and scale sums, goals,
// the SWEMWBS metric conversion, and the anonymous pre/post aggregate.
#include "hub/domain/outcomes.h"

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace accord::domain {
namespace {

using ::accord::v1::OUTCOME_MEASURE_ATTENDANCE_PERCENT;
using ::accord::v1::OUTCOME_MEASURE_GOALS_MET;
using ::accord::v1::OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES;
using ::accord::v1::OUTCOME_MEASURE_SWEMWBS;
using ::accord::v1::OUTCOME_MEASURE_UNSPECIFIED;
using ::accord::v1::OUTCOME_MEASURE_WEMWBS;
using ::accord::v1::OUTCOME_TIMEPOINT_CLOSE;
using ::accord::v1::OUTCOME_TIMEPOINT_START;
using ::accord::v1::OUTCOME_TIMEPOINT_UNSPECIFIED;
using ::testing::DoubleNear;
using ::testing::StartsWith;

OutcomeValue Value(OutcomeMeasure measure, double value, OutcomeTimepoint when = OUTCOME_TIMEPOINT_START) {
  OutcomeValue o;
  o.measure = measure;
  o.timepoint = when;
  o.value = value;
  if (measure == OUTCOME_MEASURE_GOALS_MET) o.goals_set = 20;
  return o;
}

void ExpectInvalid(const absl::Status& status, absl::string_view path) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(std::string(status.message()), StartsWith(absl::StrCat(path, ": "))) << status;
}

TEST(Measures, RangesAsPublished) {
  struct Range {
    OutcomeMeasure measure;
    double min, max;
  };
  const Range ranges[] = {
      {OUTCOME_MEASURE_SWEMWBS, 7, 35},
      {OUTCOME_MEASURE_WEMWBS, 14, 70},
      {OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES, 0, 40},
      {OUTCOME_MEASURE_ATTENDANCE_PERCENT, 0, 100},
      {OUTCOME_MEASURE_GOALS_MET, 0, 20},
  };
  ASSERT_EQ(AllMeasures().size(), 5u);
  for (const Range& r : ranges) {
    SCOPED_TRACE(OutcomeMeasureName(r.measure));
    EXPECT_TRUE(ValidateOutcome(Value(r.measure, r.min)).ok());
    EXPECT_TRUE(ValidateOutcome(Value(r.measure, r.max)).ok());
    ExpectInvalid(ValidateOutcome(Value(r.measure, r.min - 1)), "outcome.value");
    ExpectInvalid(ValidateOutcome(Value(r.measure, r.max + 1)), "outcome.value");
    ExpectInvalid(ValidateOutcome(Value(r.measure, std::nan(""))), "outcome.value");
    ExpectInvalid(ValidateOutcome(Value(r.measure, std::numeric_limits<double>::infinity())), "outcome.value");
  }
  EXPECT_EQ(ValidateOutcome(Value(OUTCOME_MEASURE_SWEMWBS, 36)).message(), "outcome.value: SWEMWBS must be 7-35");
  EXPECT_EQ(ValidateOutcome(Value(OUTCOME_MEASURE_WEMWBS, 13), "outcomes[2]").message(),
            "outcomes[2].value: WEMWBS must be 14-70");
}

TEST(Measures, WholeNumbersExceptAttendance) {
  EXPECT_TRUE(ValidateOutcome(Value(OUTCOME_MEASURE_ATTENDANCE_PERCENT, 87.5)).ok());
  for (OutcomeMeasure m : {OUTCOME_MEASURE_SWEMWBS, OUTCOME_MEASURE_WEMWBS, OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES,
                           OUTCOME_MEASURE_GOALS_MET}) {
    ExpectInvalid(ValidateOutcome(Value(m, 15.5)), "outcome.value");
  }
}

TEST(Measures, MeasureAndTimepointAreRequired) {
  ExpectInvalid(ValidateOutcome(Value(OUTCOME_MEASURE_UNSPECIFIED, 10)), "outcome.measure");
  ExpectInvalid(ValidateOutcome(Value(static_cast<OutcomeMeasure>(99), 10)), "outcome.measure");
  ExpectInvalid(ValidateOutcome(Value(OUTCOME_MEASURE_SWEMWBS, 10, OUTCOME_TIMEPOINT_UNSPECIFIED)),
                "outcome.timepoint");
  ExpectInvalid(ValidateOutcome(Value(OUTCOME_MEASURE_SWEMWBS, 10, static_cast<OutcomeTimepoint>(5))),
                "outcome.timepoint");
}

TEST(Items, SwemwbsAndWemwbsItemsSumToTheTotal) {
  OutcomeValue s = Value(OUTCOME_MEASURE_SWEMWBS, 21);
  s.item_scores = {3, 3, 3, 3, 3, 3, 3};
  EXPECT_TRUE(ValidateOutcome(s).ok());
  s.item_scores = {3, 3, 3, 3, 3, 3};
  ExpectInvalid(ValidateOutcome(s), "outcome.item_scores");
  s.item_scores = {3, 3, 3, 6, 3, 3, 0};
  ExpectInvalid(ValidateOutcome(s), "outcome.item_scores[3]");
  s.item_scores = {3, 3, 3, 3, 3, 3, 4};
  ExpectInvalid(ValidateOutcome(s), "outcome.value");

  OutcomeValue w = Value(OUTCOME_MEASURE_WEMWBS, 70);
  w.item_scores = std::vector<int>(14, 5);
  EXPECT_TRUE(ValidateOutcome(w).ok());
  w.item_scores[0] = 0;
  ExpectInvalid(ValidateOutcome(w), "outcome.item_scores[0]");

  OutcomeValue a = Value(OUTCOME_MEASURE_ATTENDANCE_PERCENT, 90);
  a.item_scores = {1};
  ExpectInvalid(ValidateOutcome(a), "outcome.item_scores");
}

TEST(Sdq, TotalDifficultiesIsTheSumOfTheFourProblemScales) {
  EXPECT_EQ(*SdqTotalDifficulties(SdqScales{6, 3, 8, 2}), 19);
  EXPECT_EQ(*SdqTotalDifficulties(SdqScales{10, 10, 10, 10}), 40);
  ExpectInvalid(SdqTotalDifficulties(SdqScales{6, 11, 8, 2}).status(), "sdq_scales.conduct_problems");
  ExpectInvalid(SdqTotalDifficulties(SdqScales{-1, 0, 0, 0}).status(), "sdq_scales.emotional_symptoms");
  ExpectInvalid(SdqTotalDifficulties(SdqScales{0, 0, 0, 11}).status(), "sdq_scales.peer_problems");

  OutcomeValue o = Value(OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES, 19);
  o.sdq_scales = SdqScales{6, 3, 8, 2};
  EXPECT_TRUE(ValidateOutcome(o).ok());
  o.value = 20;
  ExpectInvalid(ValidateOutcome(o), "outcome.value");
  o.sdq_scales = SdqScales{6, 3, 12, 2};
  ExpectInvalid(ValidateOutcome(o), "outcome.sdq_scales.hyperactivity");

  OutcomeValue wrong = Value(OUTCOME_MEASURE_SWEMWBS, 20);
  wrong.sdq_scales = SdqScales{};
  ExpectInvalid(ValidateOutcome(wrong), "outcome.sdq_scales");
}

TEST(Goals, MetOutOfSet) {
  OutcomeValue g = Value(OUTCOME_MEASURE_GOALS_MET, 2);
  g.goals_set = 3;
  EXPECT_TRUE(ValidateOutcome(g).ok());
  EXPECT_NEAR(ReportedScore(g), 66.667, 0.001);
  g.value = 4;
  ExpectInvalid(ValidateOutcome(g), "outcome.value");
  g.goals_set = 0;
  ExpectInvalid(ValidateOutcome(g), "outcome.goals_set");
  g.goals_set = 21;
  ExpectInvalid(ValidateOutcome(g), "outcome.goals_set");

  OutcomeValue other = Value(OUTCOME_MEASURE_WEMWBS, 40);
  other.goals_set = 3;
  ExpectInvalid(ValidateOutcome(other), "outcome.goals_set");
  EXPECT_EQ(ReportedScore(other), 40);
}

TEST(Batch, AtLeastOneAndNoMeasureTwicePerTimepoint) {
  ExpectInvalid(ValidateOutcomes({}), "outcomes");
  std::vector<OutcomeValue> batch = {Value(OUTCOME_MEASURE_SWEMWBS, 20, OUTCOME_TIMEPOINT_START),
                                     Value(OUTCOME_MEASURE_SWEMWBS, 24, OUTCOME_TIMEPOINT_CLOSE),
                                     Value(OUTCOME_MEASURE_ATTENDANCE_PERCENT, 80.5)};
  EXPECT_TRUE(ValidateOutcomes(batch).ok());
  batch.push_back(Value(OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES, 41));
  ExpectInvalid(ValidateOutcomes(batch), "outcomes[3].value");
  batch.back() = Value(OUTCOME_MEASURE_SWEMWBS, 22, OUTCOME_TIMEPOINT_START);
  absl::Status repeated = ValidateOutcomes(batch);
  ExpectInvalid(repeated, "outcomes[3].measure");
  EXPECT_EQ(repeated.message(), "outcomes[3].measure: SWEMWBS already given for START");
}

TEST(Swemwbs, MetricConversionTable) {
  EXPECT_EQ(*SwemwbsMetricScore(7), 7.00);
  EXPECT_EQ(*SwemwbsMetricScore(8), 9.51);
  EXPECT_EQ(*SwemwbsMetricScore(21), 19.25);
  EXPECT_EQ(*SwemwbsMetricScore(35), 35.00);
  EXPECT_FALSE(SwemwbsMetricScore(6).has_value());
  EXPECT_FALSE(SwemwbsMetricScore(36).has_value());
  EXPECT_FALSE(SwemwbsMetricScore(20.5).has_value());
  double previous = 0;
  for (int raw = 7; raw <= 35; ++raw) {
    double metric = *SwemwbsMetricScore(raw);
    EXPECT_GT(metric, previous) << raw;
    EXPECT_GE(metric, 7.0);
    EXPECT_LE(metric, 35.0);
    previous = metric;
  }
}

TEST(Names, Stable) {
  EXPECT_EQ(OutcomeMeasureName(OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES), "SDQ_TOTAL_DIFFICULTIES");
  EXPECT_EQ(OutcomeMeasureName(static_cast<OutcomeMeasure>(50)), "UNKNOWN");
  EXPECT_EQ(OutcomeTimepointName(OUTCOME_TIMEPOINT_CLOSE), "CLOSE");
  for (const MeasureSpec& spec : AllMeasures()) {
    EXPECT_EQ(absl::StrCat("OUTCOME_MEASURE_", spec.name), ::accord::v1::OutcomeMeasure_Name(spec.measure));
  }
}

// ---- the aggregate ------------------------------------------------------------------------------------

OutcomePair Pair(std::string service, OutcomeMeasure m, std::optional<double> start, std::optional<double> close) {
  return OutcomePair{std::move(service), m, start, close};
}

TEST(Aggregate, MeansAndChangeOverPairedChildrenOnly) {
  std::vector<OutcomePair> pairs = {
      Pair("counselling", OUTCOME_MEASURE_WEMWBS, 30, 40),  // +10
      Pair("counselling", OUTCOME_MEASURE_WEMWBS, 40, 44),  // +4
      Pair("counselling", OUTCOME_MEASURE_WEMWBS, 50, 48),  // -2
      Pair("counselling", OUTCOME_MEASURE_WEMWBS, 20, 20),  // 0
      Pair("counselling", OUTCOME_MEASURE_WEMWBS, 35, 43),  // +8
      Pair("counselling", OUTCOME_MEASURE_WEMWBS, 25, std::nullopt),
      Pair("counselling", OUTCOME_MEASURE_WEMWBS, std::nullopt, 60),
  };
  std::vector<MeasureSummary> report = AggregateOutcomes(pairs, 5);
  ASSERT_EQ(report.size(), 1u);
  const MeasureSummary& s = report[0];
  EXPECT_EQ(s.service_id, "counselling");
  EXPECT_EQ(s.measure, OUTCOME_MEASURE_WEMWBS);
  EXPECT_EQ(s.paired_count, 5);
  EXPECT_EQ(s.start_only_count, 1);
  EXPECT_EQ(s.close_only_count, 1);
  EXPECT_FALSE(s.suppressed);
  EXPECT_DOUBLE_EQ(s.means.mean_start, 35);
  EXPECT_DOUBLE_EQ(s.means.mean_close, 39);
  EXPECT_DOUBLE_EQ(s.means.mean_change, 4);
  EXPECT_EQ(s.improved_count, 3);
  EXPECT_EQ(s.unchanged_count, 1);
  EXPECT_EQ(s.worsened_count, 1);
  EXPECT_TRUE(s.higher_is_better);
  EXPECT_FALSE(s.metric_means.has_value());
}

TEST(Aggregate, SdqImprovesDownwards) {
  std::vector<OutcomePair> pairs = {
      Pair("s", OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES, 20, 12),
      Pair("s", OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES, 18, 21),
  };
  MeasureSummary s = AggregateOutcomes(pairs, 1).at(0);
  EXPECT_FALSE(s.higher_is_better);
  EXPECT_EQ(s.improved_count, 1);
  EXPECT_EQ(s.worsened_count, 1);
  EXPECT_DOUBLE_EQ(s.means.mean_change, -2.5);
}

TEST(Aggregate, SwemwbsAlsoInMetricScores) {
  std::vector<OutcomePair> pairs = {
      Pair("s", OUTCOME_MEASURE_SWEMWBS, 7, 21),   // metric 7.00 -> 19.25
      Pair("s", OUTCOME_MEASURE_SWEMWBS, 21, 35),  // metric 19.25 -> 35.00
  };
  MeasureSummary s = AggregateOutcomes(pairs, 1).at(0);
  EXPECT_DOUBLE_EQ(s.means.mean_change, 14);
  ASSERT_TRUE(s.metric_means.has_value());
  EXPECT_THAT(s.metric_means->mean_start, DoubleNear(13.125, 1e-9));
  EXPECT_THAT(s.metric_means->mean_close, DoubleNear(27.125, 1e-9));
  EXPECT_THAT(s.metric_means->mean_change, DoubleNear(14.0, 1e-9));
}

TEST(Aggregate, SmallGroupsHaveTheirMeansWithheld) {
  std::vector<OutcomePair> pairs = {
      Pair("tiny", OUTCOME_MEASURE_ATTENDANCE_PERCENT, 60, 90),
      Pair("tiny", OUTCOME_MEASURE_ATTENDANCE_PERCENT, 70, 75),
  };
  MeasureSummary s = AggregateOutcomes(pairs).at(0);  // default minimum group size
  EXPECT_EQ(kDefaultMinimumGroupSize, 5);
  EXPECT_TRUE(s.suppressed);
  EXPECT_EQ(s.paired_count, 2);
  EXPECT_EQ(s.means.mean_start, 0);
  EXPECT_EQ(s.means.mean_close, 0);
  EXPECT_EQ(s.means.mean_change, 0);
  EXPECT_EQ(s.improved_count, 0);
  MeasureSummary shown = AggregateOutcomes(pairs, 2).at(0);
  EXPECT_FALSE(shown.suppressed);
  EXPECT_DOUBLE_EQ(shown.means.mean_change, 17.5);
  EXPECT_FALSE(AggregateOutcomes(pairs, 0).at(0).suppressed) << "a minimum below 1 counts as 1";
}

TEST(Aggregate, OnePerServiceAndMeasureInOrderIgnoringUnusable) {
  const double nan = std::nan("");
  std::vector<OutcomePair> pairs = {
      Pair("b-service", OUTCOME_MEASURE_WEMWBS, 30, 40),
      Pair("a-service", OUTCOME_MEASURE_GOALS_MET, 0, 100),
      Pair("a-service", OUTCOME_MEASURE_SWEMWBS, 20, 25),
      Pair("a-service", OUTCOME_MEASURE_UNSPECIFIED, 1, 2),  // ignored
      Pair("a-service", static_cast<OutcomeMeasure>(77), 1, 2),  // ignored
      Pair("c-service", OUTCOME_MEASURE_WEMWBS, std::nullopt, std::nullopt),  // ignored
      Pair("a-service", OUTCOME_MEASURE_SWEMWBS, nan, 30),  // counts as close only
  };
  std::vector<MeasureSummary> report = AggregateOutcomes(pairs, 1);
  ASSERT_EQ(report.size(), 3u);
  EXPECT_EQ(report[0].service_id, "a-service");
  EXPECT_EQ(report[0].measure, OUTCOME_MEASURE_SWEMWBS);
  EXPECT_EQ(report[0].paired_count, 1);
  EXPECT_EQ(report[0].close_only_count, 1);
  EXPECT_EQ(report[1].service_id, "a-service");
  EXPECT_EQ(report[1].measure, OUTCOME_MEASURE_GOALS_MET);
  EXPECT_DOUBLE_EQ(report[1].means.mean_change, 100);
  EXPECT_EQ(report[2].service_id, "b-service");
  EXPECT_TRUE(AggregateOutcomes({}).empty());
}

}  // namespace
}  // namespace accord::domain
