// DirectoryService over real mTLS: providers publish and update their own services only; every
// partner searches by needs, age and area and gets ranked fits with reasons (and near misses when
// asked); bad input is refused naming the field and stores nothing.
#include <grpcpp/grpcpp.h>

#include "accord/v1/directory.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

void ExpectInvalid(const grpc::Status& s, const std::string& field) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message().rfind(field, 0), 0u) << "want " << field << " first in: " << s.error_message();
}

// A counselling service for 11-18 year olds in Leeds with anxiety or low mood, up to level 3.
::accord::v1::Service Counselling(int wait_days, bool open = true) {
  ::accord::v1::Service s;
  s.set_display_name("Oakfield Young People's Counselling");
  s.set_description("Six to twelve sessions of counselling in school or at our centre.");
  s.set_url("https://counselling.example.org");
  s.mutable_organization()->set_display_name("Oakfield Counselling Trust");
  v1::Eligibility* e = s.mutable_eligibility();
  e->set_minimum_age(11);
  e->set_maximum_age(18);
  e->add_need_types(v1::NEED_TYPE_ANXIETY);
  e->add_need_types(v1::NEED_TYPE_LOW_MOOD);
  e->set_maximum_level_of_need(v1::LEVEL_OF_NEED_TARGETED);
  v1::ServiceArea* area = s.add_service_areas();
  area->set_description("Leeds");
  area->add_postcode_prefixes("LS");
  area->add_local_authorities("E08000035");
  v1::Contact* c = s.add_contacts();
  c->set_name("Referrals team");
  c->set_email("referrals@counselling.example.org");
  v1::Availability* a = s.mutable_availability();
  a->set_accepting_referrals(open);
  a->set_capacity(3);
  a->mutable_waiting_time()->set_seconds(int64_t{wait_days} * 86400);
  return s;
}

class DirectoryTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto school = hub_.Enrol("oakfield", "Oakfield High School", "SCHOOL", "REFERRER");
    auto counselling = hub_.Enrol("counselling", "Oakfield Counselling Trust", "VOLUNTARY", "PROVIDER");
    auto mentoring = hub_.Enrol("mentoring", "Northside Mentoring", "VOLUNTARY", "PROVIDER");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    school_ = v1::DirectoryService::NewStub(hub_.Channel(school));
    counselling_ = v1::DirectoryService::NewStub(hub_.Channel(counselling));
    mentoring_ = v1::DirectoryService::NewStub(hub_.Channel(mentoring));
  }

  v1::Service Publish(v1::DirectoryService::Stub& stub, const ::accord::v1::Service& service,
                      const std::string& id = "", grpc::Status* status = nullptr) {
    v1::PublishServiceRequest req;
    *req.mutable_service() = service;
    req.set_service_id(id);
    v1::PublishServiceResponse resp;
    grpc::Status s = stub.PublishService(Ctx().get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp.service();
  }

  v1::SearchServicesRequest Query(v1::LevelOfNeed level = v1::LEVEL_OF_NEED_ADDITIONAL) {
    v1::SearchServicesRequest req;
    v1::Need* n = req.add_needs();
    n->set_type(v1::NEED_TYPE_ANXIETY);
    n->set_level(level);
    req.set_age_years(14);
    req.set_postcode("LS6 2AB");
    return req;
  }

  v1::SearchServicesResponse Search(const v1::SearchServicesRequest& req, grpc::Status* status = nullptr) {
    v1::SearchServicesResponse resp;
    grpc::Status s = school_->SearchServices(Ctx().get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  HubProcess hub_;
  std::unique_ptr<v1::DirectoryService::Stub> school_, counselling_, mentoring_;
};

TEST_F(DirectoryTest, ProvidersPublishAndEveryoneSearchesRankedWithReasons) {
  v1::Service slow = Publish(*counselling_, Counselling(60), "slow-counselling");
  v1::Service fast = Publish(*mentoring_, Counselling(7), "fast-mentoring");
  EXPECT_EQ(slow.name(), "services/slow-counselling");
  EXPECT_EQ(slow.provider(), "partners/counselling");
  EXPECT_EQ(fast.provider(), "partners/mentoring");
  EXPECT_TRUE(fast.has_create_time());

  v1::SearchServicesResponse found = Search(Query());
  ASSERT_EQ(found.matches_size(), 2);
  EXPECT_EQ(found.matches(0).service().name(), "services/fast-mentoring");  // the shorter wait first
  EXPECT_EQ(found.matches(1).service().name(), "services/slow-counselling");
  ASSERT_EQ(found.matches(0).reasons_size(), 5);
  for (const v1::FitReason& r : found.matches(0).reasons()) EXPECT_TRUE(r.met()) << r.code();
  EXPECT_EQ(found.matches(0).reasons(4).code(), "IN_AREA_BY_POSTCODE");
  EXPECT_EQ(found.matches(0).needs_addressed(0), v1::NEED_TYPE_ANXIETY);

  v1::GetServiceRequest get;
  get.set_name("services/slow-counselling");
  v1::GetServiceResponse got;
  ASSERT_TRUE(school_->GetService(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.service().display_name(), "Oakfield Young People's Counselling");
  EXPECT_EQ(got.service().service_areas(0).postcode_prefixes(0), "LS");
}

TEST_F(DirectoryTest, SearchResultsPageInRankOrder) {
  for (int i = 0; i < 5; ++i) Publish(*counselling_, Counselling(10 * (i + 1)), "counselling-" + std::to_string(i));
  v1::SearchServicesRequest q = Query();
  q.set_page_size(2);
  std::vector<std::string> names;
  for (int page = 0; page < 5; ++page) {
    v1::SearchServicesResponse resp = Search(q);
    for (const auto& m : resp.matches()) names.push_back(m.service().name());
    if (resp.next_page_token().empty()) break;
    q.set_page_token(resp.next_page_token());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"services/counselling-0", "services/counselling-1",
                                             "services/counselling-2", "services/counselling-3",
                                             "services/counselling-4"}));
  q.set_page_token("garbage");
  grpc::Status s;
  Search(q, &s);
  ExpectInvalid(s, "page_token");
}

TEST_F(DirectoryTest, AvailabilityTakesEffectForTheNextSearchAndClosedServicesAreNearMisses) {
  Publish(*counselling_, Counselling(30), "counselling");
  v1::UpdateAvailabilityRequest close;
  close.set_name("services/counselling");
  close.mutable_availability()->set_accepting_referrals(false);
  v1::UpdateAvailabilityResponse closed;
  ASSERT_TRUE(counselling_->UpdateAvailability(Ctx().get(), close, &closed).ok());
  EXPECT_FALSE(closed.service().availability().accepting_referrals());

  v1::SearchServicesRequest q = Query();
  EXPECT_EQ(Search(q).matches_size(), 0);
  q.set_include_near_misses(true);
  v1::SearchServicesResponse near = Search(q);
  ASSERT_EQ(near.near_misses_size(), 1);
  EXPECT_FALSE(near.near_misses(0).reasons(0).met());
  EXPECT_EQ(near.near_misses(0).reasons(0).code(), "CLOSED_TO_REFERRALS");

  // Above the threshold: a near miss that says so.
  Publish(*mentoring_, Counselling(5), "mentoring");
  v1::SearchServicesRequest high = Query(v1::LEVEL_OF_NEED_SPECIALIST);
  high.set_include_near_misses(true);
  v1::SearchServicesResponse above = Search(high);
  EXPECT_EQ(above.matches_size(), 0);
  bool saw_threshold = false;
  for (const auto& m : above.near_misses()) {
    for (const auto& r : m.reasons()) saw_threshold |= r.code() == "ABOVE_THRESHOLD";
  }
  EXPECT_TRUE(saw_threshold);
}

TEST_F(DirectoryTest, RepublishingReplacesTheDescriptionAndKeepsAvailability) {
  Publish(*counselling_, Counselling(30), "counselling");
  ::accord::v1::Service again = Counselling(30);
  again.clear_availability();
  again.set_description("Now also online.");
  v1::Service republished = Publish(*counselling_, again, "counselling");
  EXPECT_EQ(republished.description(), "Now also online.");
  EXPECT_TRUE(republished.availability().accepting_referrals());
  EXPECT_EQ(republished.availability().capacity(), 3);
}

TEST_F(DirectoryTest, OnlyProvidersPublishAndOnlyTheirOwnServices) {
  grpc::Status s;
  Publish(*school_, Counselling(30), "school-service", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();

  Publish(*counselling_, Counselling(30), "counselling");
  Publish(*mentoring_, Counselling(1), "counselling", &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::ALREADY_EXISTS) << s.error_message();

  v1::UpdateAvailabilityRequest req;
  req.set_name("services/counselling");
  req.mutable_availability()->set_accepting_referrals(false);
  v1::UpdateAvailabilityResponse resp;
  s = mentoring_->UpdateAvailability(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  s = school_->UpdateAvailability(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  req.set_name("services/nobody");
  s = counselling_->UpdateAvailability(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();

  // Nothing changed: still open.
  v1::GetServiceRequest get;
  get.set_name("services/counselling");
  v1::GetServiceResponse got;
  ASSERT_TRUE(school_->GetService(Ctx().get(), get, &got).ok());
  EXPECT_TRUE(got.service().availability().accepting_referrals());
  EXPECT_EQ(got.service().provider(), "partners/counselling");
}

TEST_F(DirectoryTest, BadInputNamesTheFieldAndStoresNothing) {
  grpc::Status s;
  ::accord::v1::Service no_max = Counselling(30);
  no_max.mutable_eligibility()->clear_maximum_age();
  Publish(*counselling_, no_max, "bad", &s);
  ExpectInvalid(s, "service.eligibility.maximum_age");
  ::accord::v1::Service bad_area = Counselling(30);
  bad_area.mutable_service_areas(0)->add_postcode_prefixes("not a postcode");
  Publish(*counselling_, bad_area, "bad", &s);
  ExpectInvalid(s, "service.service_areas[0].postcode_prefixes[1]");
  Publish(*counselling_, Counselling(30), "Bad_Id", &s);
  ExpectInvalid(s, "service_id");
  v1::GetServiceRequest get;
  get.set_name("services/bad");
  v1::GetServiceResponse got;
  EXPECT_EQ(school_->GetService(Ctx().get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
  get.set_name("bad");
  ExpectInvalid(school_->GetService(Ctx().get(), get, &got), "name");

  Publish(*counselling_, Counselling(30), "counselling");
  v1::UpdateAvailabilityRequest req;
  req.set_name("services/counselling");
  req.mutable_availability()->set_accepting_referrals(false);
  req.mutable_availability()->mutable_waiting_time()->set_seconds(int64_t{800} * 86400);
  v1::UpdateAvailabilityResponse resp;
  ExpectInvalid(counselling_->UpdateAvailability(Ctx().get(), req, &resp), "availability.waiting_time");
  get.set_name("services/counselling");
  ASSERT_TRUE(school_->GetService(Ctx().get(), get, &got).ok());
  EXPECT_TRUE(got.service().availability().accepting_referrals());

  v1::SearchServicesRequest q = Query();
  q.mutable_needs(0)->set_level(static_cast<v1::LevelOfNeed>(7));
  Search(q, &s);
  ExpectInvalid(s, "needs[0].level");
  q = Query();
  q.clear_age_years();
  Search(q, &s);
  ExpectInvalid(s, "age_years");
  q = Query();
  q.clear_postcode();
  Search(q, &s);
  ExpectInvalid(s, "postcode");
}

}  // namespace
}  // namespace accord
