// The model <-> accord.v1 conversions keep every field (the store relies on it), and VisibleTo
// hides withheld changes from the other party only.
#include "hub/domain/codec.h"

#include "gtest/gtest.h"

namespace accord::domain {
namespace {

Referral FullReferral() {
  Referral r;
  r.id = "0190abc";
  r.service_id = "counselling";
  r.referrer_id = "school";
  r.provider_id = "counselling-trust";
  r.subject_id = "s1";
  r.needs = {{::accord::v1::NEED_TYPE_ANXIETY, ::accord::v1::LEVEL_OF_NEED_TARGETED}};
  r.background = "Panic attacks";
  r.urgency = ::accord::v1::URGENCY_URGENT;
  r.consent_id = "c1";
  r.categories = {::accord::v1::DATA_CATEGORY_IDENTITY, ::accord::v1::DATA_CATEGORY_MENTAL_HEALTH};
  r.idempotency_key = "6f1c2f0e-8a44-4c61-9d0b-3f2a7e51c001";
  r.state = ::accord::v1::REFERRAL_STATE_DECLINED;
  r.decline = Decline{::accord::v1::DECLINE_REASON_ABOVE_THRESHOLD, "needs a family response", "early-help",
                      ::accord::v1::SECTOR_UNSPECIFIED};
  r.expected_wait = absl::Hours(24 * 21);
  r.previous_id = "0190abb";
  r.link = ::accord::v1::REFERRAL_LINK_REDIRECT;
  r.concurrent_service_ids = {"mentoring"};
  r.concurrent_undisclosed = 1;
  absl::Time t = absl::FromUnixMillis(1'764'000'000'123);
  r.history = {{::accord::v1::REFERRAL_STATE_SUBMITTED, "school", t},
               {::accord::v1::REFERRAL_STATE_DELIVERED, "counselling-trust", t + absl::Seconds(1)},
               {::accord::v1::REFERRAL_STATE_DECLINED, "counselling-trust", t + absl::Seconds(2), true}};
  r.create_time = t;
  r.update_time = t + absl::Seconds(2);
  return r;
}

TEST(CodecTest, ReferralsRoundTripEveryContractField) {
  Referral r = FullReferral();
  Referral back = ReferralFromProto(ReferralToProto(r));
  EXPECT_EQ(back.id, r.id);
  EXPECT_EQ(back.service_id, r.service_id);
  EXPECT_EQ(back.referrer_id, r.referrer_id);
  EXPECT_EQ(back.provider_id, r.provider_id);
  EXPECT_EQ(back.subject_id, r.subject_id);
  EXPECT_EQ(back.needs, r.needs);
  EXPECT_EQ(back.consent_id, r.consent_id);
  EXPECT_EQ(back.categories, r.categories);
  EXPECT_EQ(back.decline->redirect_service_id, "early-help");
  EXPECT_EQ(back.decline->text, "needs a family response");
  EXPECT_EQ(*back.expected_wait, absl::Hours(24 * 21));
  EXPECT_EQ(back.previous_id, r.previous_id);
  EXPECT_EQ(back.link, r.link);
  EXPECT_EQ(back.concurrent_service_ids, r.concurrent_service_ids);
  EXPECT_EQ(back.concurrent_undisclosed, 1);
  ASSERT_EQ(back.history.size(), 3u);
  EXPECT_EQ(back.history[2].time, r.history[2].time);
  EXPECT_FALSE(back.history[2].withheld);  // not part of the contract
  EXPECT_TRUE(SameSubmission(back, r));
}

TEST(CodecTest, ServicesAndOutcomesRoundTrip) {
  Service s;
  s.id = "counselling";
  s.provider_id = "trust";
  s.display_name = "Counselling";
  s.eligibility.maximum_age = 18;
  s.eligibility.need_types = {::accord::v1::NEED_TYPE_ANXIETY};
  s.eligibility.maximum_level = ::accord::v1::LEVEL_OF_NEED_TARGETED;
  s.areas = {ServiceArea{"Leeds", {"LS6"}, {"E08000035"}, ""}};
  s.contacts = {Contact{"Team", "", "a@b.org", ""}};
  s.availability = Availability{true, 3, absl::Hours(24 * 7), absl::FromUnixMillis(5000)};
  Service back = ServiceFromProto(ServiceToProto(s));
  EXPECT_EQ(back.id, s.id);
  EXPECT_EQ(back.provider_id, s.provider_id);
  EXPECT_EQ(back.eligibility.maximum_age, 18);
  EXPECT_EQ(back.areas[0].postcode_prefixes, s.areas[0].postcode_prefixes);
  EXPECT_EQ(back.availability.waiting_time, absl::Hours(24 * 7));
  EXPECT_EQ(back.availability.update_time, absl::FromUnixMillis(5000));

  OutcomeValue o{::accord::v1::OUTCOME_MEASURE_SDQ_TOTAL_DIFFICULTIES, ::accord::v1::OUTCOME_TIMEPOINT_CLOSE, 12,
                 {}, SdqScales{3, 3, 3, 3}, 0};
  OutcomeValue ob = OutcomeFromProto(OutcomeToProto(o));
  EXPECT_EQ(ob.value, 12);
  ASSERT_TRUE(ob.sdq_scales.has_value());
  EXPECT_EQ(ob.sdq_scales->peer_problems, 3);
}

TEST(VisibleToTest, AWithheldChangeIsHiddenFromTheOtherPartyOnly) {
  Referral r = FullReferral();
  Referral school = VisibleTo(r, "school");
  EXPECT_EQ(school.state, ::accord::v1::REFERRAL_STATE_DELIVERED);
  EXPECT_EQ(school.history.size(), 2u);
  EXPECT_FALSE(school.decline.has_value());
  Referral provider = VisibleTo(r, "counselling-trust");
  EXPECT_EQ(provider.state, ::accord::v1::REFERRAL_STATE_DECLINED);
  EXPECT_TRUE(provider.decline.has_value());
  r.history.back().withheld = false;
  EXPECT_EQ(VisibleTo(r, "school").state, ::accord::v1::REFERRAL_STATE_DECLINED);
}

TEST(CarriedHistoryTest, CarriesEarlierReferralsOnlyWithinTheNewCategories) {
  Referral now = FullReferral();
  Referral near = FullReferral();
  near.categories = {::accord::v1::DATA_CATEGORY_IDENTITY};
  Referral far = FullReferral();
  far.categories = {::accord::v1::DATA_CATEGORY_SAFEGUARDING};
  Referral farther = FullReferral();
  std::vector<EarlierReferral> carried = CarriedHistory(now, {near, far, farther});
  ASSERT_EQ(carried.size(), 1u);  // stops at the first that carries more
  EXPECT_EQ(carried[0].service_id, "counselling");
  EXPECT_EQ(carried[0].decline_reason, ::accord::v1::DECLINE_REASON_ABOVE_THRESHOLD);
  Referral back = ReferralFromProto(ReferralToProto([&] {
    Referral r = now;
    r.earlier = carried;
    return r;
  }()));
  ASSERT_EQ(back.earlier.size(), 1u);
  EXPECT_EQ(back.earlier[0].needs, near.needs);
  EXPECT_TRUE(CarriedHistory(now, {}).empty());
}

TEST(VisibleToTest, OpenStates) {
  EXPECT_TRUE(IsOpen(::accord::v1::REFERRAL_STATE_SUBMITTED));
  EXPECT_TRUE(IsOpen(::accord::v1::REFERRAL_STATE_ACTIVE));
  EXPECT_FALSE(IsOpen(::accord::v1::REFERRAL_STATE_DECLINED));
  EXPECT_FALSE(IsOpen(::accord::v1::REFERRAL_STATE_WITHDRAWN));
  EXPECT_FALSE(IsOpen(::accord::v1::REFERRAL_STATE_CLOSED));
}

}  // namespace
}  // namespace accord::domain
