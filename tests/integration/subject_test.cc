// SubjectService over real mTLS: the person index across partners, each partner's own view,
// family links, and every refusal.
#include <grpcpp/grpcpp.h>

#include "accord/v1/subject.grpc.pb.h"
#include "gtest/gtest.h"
#include "tests/support/hub_process.h"

namespace accord {
namespace {

using testsupport::HubProcess;

// Published example NHS number and UPN with valid check characters.
constexpr char kNhs[] = "9434765919";
constexpr char kUpn[] = "B801200005001";

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  return ctx;
}

class SubjectTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto school = hub_.Enrol("oakfield", "Oakfield Primary School", "SCHOOL", "REFERRER");
    auto camhs = hub_.Enrol("camhs", "Riverside CAMHS", "HEALTH", "PROVIDER");
    auto dpo = hub_.Enrol("dpo", "County DPO", "LOCAL_AUTHORITY", "DPO");
    ASSERT_TRUE(hub_.Start()) << hub_.Log();
    school_ = v1::SubjectService::NewStub(hub_.Channel(school));
    camhs_ = v1::SubjectService::NewStub(hub_.Channel(camhs));
    dpo_ = v1::SubjectService::NewStub(hub_.Channel(dpo));
  }

  static v1::ResolveSubjectRequest Child(const std::string& nhs, const std::string& upn, const std::string& given,
                                         const std::string& family, const std::string& birth,
                                         const std::string& postcode, const std::string& local_id = "") {
    v1::ResolveSubjectRequest req;
    req.mutable_identifiers()->set_nhs_number(nhs);
    req.mutable_identifiers()->set_upn(upn);
    req.mutable_identifiers()->set_local_id(local_id);
    req.mutable_demographics()->set_given_name(given);
    req.mutable_demographics()->set_family_name(family);
    req.mutable_demographics()->set_birth_date(birth);
    req.mutable_demographics()->set_postcode(postcode);
    return req;
  }

  v1::ResolveSubjectResponse Resolve(v1::SubjectService::Stub& stub, const v1::ResolveSubjectRequest& req,
                                     grpc::Status* status = nullptr) {
    v1::ResolveSubjectResponse resp;
    grpc::Status s = stub.ResolveSubject(Ctx().get(), req, &resp);
    if (status) {
      *status = s;
    } else {
      EXPECT_TRUE(s.ok()) << s.error_message();
    }
    return resp;
  }

  HubProcess hub_;
  std::unique_ptr<v1::SubjectService::Stub> school_, camhs_, dpo_;
};

void ExpectInvalid(const grpc::Status& s, const std::string& field) {
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << s.error_message();
  EXPECT_EQ(s.error_message().rfind(field, 0), 0u) << "want " << field << " first in: " << s.error_message();
}

TEST_F(SubjectTest, NationalIdentifiersLinkAcrossPartnersEachKeepingItsOwnRecord) {
  auto created = Resolve(*school_, Child("", kUpn, "Jordan", "Smith", "2014-05-03", "ls1 4ap", "MIS-0042"));
  ASSERT_EQ(created.outcome(), v1::ResolveSubjectResponse::OUTCOME_CREATED);
  EXPECT_EQ(created.subject().demographics().postcode(), "LS1 4AP");  // normalised
  EXPECT_EQ(created.subject().identifiers().local_id(), "MIS-0042");
  // The school later learns the NHS number too: same subject, record completed.
  auto again = Resolve(*school_, Child("943 476 5919", kUpn, "", "", "", ""));
  EXPECT_EQ(again.outcome(), v1::ResolveSubjectResponse::OUTCOME_MATCHED_IDENTIFIER);
  EXPECT_EQ(again.subject().name(), created.subject().name());
  EXPECT_EQ(again.subject().identifiers().nhs_number(), kNhs);
  EXPECT_EQ(again.subject().demographics().given_name(), "Jordan");  // kept from before

  // Health knows the child by NHS number only, under another spelling.
  auto health = Resolve(*camhs_, Child(kNhs, "", "Jordon", "Smyth", "2014-05-03", "", "RIO-9"));
  EXPECT_EQ(health.outcome(), v1::ResolveSubjectResponse::OUTCOME_MATCHED_IDENTIFIER);
  EXPECT_EQ(health.subject().name(), created.subject().name());
  // Each partner sees only what it recorded itself.
  EXPECT_EQ(health.subject().demographics().given_name(), "Jordon");
  EXPECT_TRUE(health.subject().identifiers().upn().empty());
  EXPECT_EQ(health.subject().identifiers().local_id(), "RIO-9");
}

TEST_F(SubjectTest, DemographicsLinkAConfidentMatch) {
  auto first = Resolve(*school_, Child("", "", "Amara", "Okafor", "2012-11-30", "M14 5RT"));
  ASSERT_EQ(first.outcome(), v1::ResolveSubjectResponse::OUTCOME_CREATED);
  auto second = Resolve(*camhs_, Child("", "", "Amara", "Okafor", "2012-11-30", "M14 5RT"));
  EXPECT_EQ(second.outcome(), v1::ResolveSubjectResponse::OUTCOME_MATCHED_DEMOGRAPHICS);
  EXPECT_EQ(second.subject().name(), first.subject().name());
  // A different child with the same name but another birth date is a new subject.
  auto other = Resolve(*camhs_, Child("", "", "Amara", "Okafor", "2009-02-14", "B1 1AA"));
  EXPECT_EQ(other.outcome(), v1::ResolveSubjectResponse::OUTCOME_CREATED);
  EXPECT_NE(other.subject().name(), first.subject().name());
}

TEST_F(SubjectTest, AnAmbiguousMatchCreatesNothingAndNamesTheCandidates) {
  auto twin_a = Resolve(*school_, Child("", "", "Amy", "Jones", "2015-01-01", "LS6 2AB"));
  // Her twin sister is never linked to her automatically: the school is asked first...
  auto beth = Child("", "", "Beth", "Jones", "2015-01-01", "LS6 2AB");
  auto asked = Resolve(*school_, beth);
  ASSERT_EQ(asked.outcome(), v1::ResolveSubjectResponse::OUTCOME_AMBIGUOUS);
  ASSERT_EQ(asked.candidates_size(), 1);
  EXPECT_EQ(asked.candidates(0).subject(), twin_a.subject().name());
  // ...and, having checked, confirms she is a different child.
  beth.set_confirm_new_subject(true);
  auto twin_b = Resolve(*school_, beth);
  ASSERT_EQ(twin_b.outcome(), v1::ResolveSubjectResponse::OUTCOME_CREATED);
  ASSERT_NE(twin_a.subject().name(), twin_b.subject().name());
  // Health has only an initial for the given name: either twin could be meant.
  auto ambiguous = Resolve(*camhs_, Child("", "", "A B", "Jones", "2015-01-01", "LS6 2AB"));
  ASSERT_EQ(ambiguous.outcome(), v1::ResolveSubjectResponse::OUTCOME_AMBIGUOUS);
  EXPECT_FALSE(ambiguous.has_subject());
  ASSERT_GE(ambiguous.candidates_size(), 2);
  for (const auto& c : ambiguous.candidates()) EXPECT_GT(c.matched_fields_size(), 0);
  // Nothing was linked for health: it holds neither twin.
  v1::GetSubjectRequest get;
  get.set_name(twin_a.subject().name());
  v1::GetSubjectResponse got;
  EXPECT_EQ(camhs_->GetSubject(Ctx().get(), get, &got).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SubjectTest, ResolveRefusesBadInputNamingTheFieldAndStoresNothing) {
  grpc::Status s;
  Resolve(*school_, Child("9434765918", "", "Jo", "Smith", "2014-05-03", ""), &s);
  ExpectInvalid(s, "identifiers.nhs_number");
  EXPECT_NE(s.error_message().find("check digit"), std::string::npos) << s.error_message();
  Resolve(*school_, Child("", "A801200005001", "Jo", "Smith", "2014-05-03", ""), &s);
  ExpectInvalid(s, "identifiers.upn");
  Resolve(*school_, Child(kNhs, "", "Jo", "Smith", "2014-05-03", "NOT A POSTCODE"), &s);
  ExpectInvalid(s, "demographics.postcode");
  Resolve(*school_, Child(kNhs, "", "Jo", "Smith", "2014-13-03", ""), &s);
  ExpectInvalid(s, "demographics.birth_date");
  Resolve(*school_, Child("", "", "Jo", "Smith", "", "LS1 4AP"), &s);  // no identifier: all demographics needed
  ExpectInvalid(s, "demographics.birth_date");
  Resolve(*school_, Child("", "", "", "", "", ""), &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  // None of that stored anything: the NHS number is still unknown to the index.
  EXPECT_EQ(Resolve(*school_, Child(kNhs, "", "Jo", "Smith", "2014-05-03", "")).outcome(),
            v1::ResolveSubjectResponse::OUTCOME_CREATED);
}

TEST_F(SubjectTest, ConflictingNationalIdentifiersAreRefused) {
  Resolve(*school_, Child(kNhs, "", "Jo", "Smith", "2014-05-03", ""));
  Resolve(*school_, Child("", kUpn, "Sam", "Brown", "2013-01-09", ""));
  grpc::Status s;
  Resolve(*camhs_, Child(kNhs, kUpn, "Jo", "Smith", "2014-05-03", ""), &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << s.error_message();
}

TEST_F(SubjectTest, ResolveAndGetNeedAHolderRole) {
  grpc::Status s;
  Resolve(*dpo_, Child(kNhs, "", "Jo", "Smith", "2014-05-03", ""), &s);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::PERMISSION_DENIED) << s.error_message();
  EXPECT_NE(s.error_message().find("ROLE_REFERRER, ROLE_PROVIDER"), std::string::npos) << s.error_message();
}

TEST_F(SubjectTest, GetSubjectShowsOnlyWhatTheCallerHolds) {
  auto child = Resolve(*school_, Child(kNhs, "", "Jo", "Smith", "2014-05-03", "LS1 4AP"));
  v1::GetSubjectRequest req;
  req.set_name(child.subject().name());
  v1::GetSubjectResponse resp;
  ASSERT_TRUE(school_->GetSubject(Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.subject().identifiers().nhs_number(), kNhs);
  grpc::Status other = camhs_->GetSubject(Ctx().get(), req, &resp);
  EXPECT_EQ(other.error_code(), grpc::StatusCode::NOT_FOUND) << other.error_message();
  EXPECT_EQ(dpo_->GetSubject(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::PERMISSION_DENIED);
  req.set_name("subjects/NOT-AN-ID");
  ExpectInvalid(school_->GetSubject(Ctx().get(), req, &resp), "name");
  req.set_name("subjects/0123456789abcdef");
  EXPECT_EQ(school_->GetSubject(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(SubjectTest, LinkFamilyMember) {
  auto child = Resolve(*school_, Child(kNhs, "", "Jo", "Smith", "2014-05-03", "LS1 4AP"));
  auto sibling = Resolve(*school_, Child("", "", "Max", "Smith", "2016-08-21", "LS1 4AP"));
  auto parent = Resolve(*school_, Child("", "", "Dana", "Smith", "1988-03-12", "LS1 4AP"));
  v1::LinkFamilyMemberRequest req;
  req.set_subject(child.subject().name());
  req.set_relative(sibling.subject().name());
  req.set_relationship(v1::RELATIONSHIP_SIBLING);
  v1::LinkFamilyMemberResponse resp;
  ASSERT_TRUE(school_->LinkFamilyMember(Ctx().get(), req, &resp).ok());
  req.set_relative(parent.subject().name());
  req.set_relationship(v1::RELATIONSHIP_PARENT_CARER);
  ASSERT_TRUE(school_->LinkFamilyMember(Ctx().get(), req, &resp).ok());
  ASSERT_EQ(resp.subject().family_size(), 2);
  EXPECT_EQ(resp.subject().family(1).relative(), parent.subject().name());
  EXPECT_EQ(resp.subject().family(1).relationship(), v1::RELATIONSHIP_PARENT_CARER);

  EXPECT_EQ(school_->LinkFamilyMember(Ctx().get(), req, &resp).error_code(), grpc::StatusCode::ALREADY_EXISTS);
  req.set_relative(child.subject().name());
  ExpectInvalid(school_->LinkFamilyMember(Ctx().get(), req, &resp), "relative");
  req.set_relative(sibling.subject().name());
  req.set_relationship(v1::RELATIONSHIP_UNSPECIFIED);
  ExpectInvalid(school_->LinkFamilyMember(Ctx().get(), req, &resp), "relationship");
  req.set_relationship(v1::RELATIONSHIP_SIBLING);
  req.set_subject("nope");
  ExpectInvalid(school_->LinkFamilyMember(Ctx().get(), req, &resp), "subject");
  // Health holds the child but not the sibling: it can neither link nor see the link.
  Resolve(*camhs_, Child(kNhs, "", "Jo", "Smith", "2014-05-03", ""));
  req.set_subject(child.subject().name());
  req.set_relationship(v1::RELATIONSHIP_CHILD);
  grpc::Status s = camhs_->LinkFamilyMember(Ctx().get(), req, &resp);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::NOT_FOUND) << s.error_message();
  EXPECT_EQ(s.error_message().rfind("relative", 0), 0u) << s.error_message();
  v1::GetSubjectRequest get;
  get.set_name(child.subject().name());
  v1::GetSubjectResponse got;
  ASSERT_TRUE(camhs_->GetSubject(Ctx().get(), get, &got).ok());
  EXPECT_EQ(got.subject().family_size(), 0);
}

}  // namespace
}  // namespace accord
