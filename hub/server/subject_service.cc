#include "hub/server/subject_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/domain/identifiers.h"
#include "hub/domain/matching.h"
#include "hub/domain/validation.h"
#include "hub/server/unary.h"

namespace accord::server {
namespace {

const std::initializer_list<domain::Role> kHolders = {v1::ROLE_REFERRER, v1::ROLE_PROVIDER};

v1::ResolveSubjectResponse::Outcome ToProto(store::ResolveOutcome outcome) {
  switch (outcome) {
    case store::ResolveOutcome::kMatchedIdentifier: return v1::ResolveSubjectResponse::OUTCOME_MATCHED_IDENTIFIER;
    case store::ResolveOutcome::kMatchedDemographics: return v1::ResolveSubjectResponse::OUTCOME_MATCHED_DEMOGRAPHICS;
    case store::ResolveOutcome::kCreated: return v1::ResolveSubjectResponse::OUTCOME_CREATED;
    case store::ResolveOutcome::kAmbiguous: return v1::ResolveSubjectResponse::OUTCOME_AMBIGUOUS;
  }
  return v1::ResolveSubjectResponse::OUTCOME_UNSPECIFIED;
}

absl::Status CheckText(const std::string& value, absl::string_view field, size_t max) {
  if (value.size() > max) return absl::InvalidArgumentError(absl::StrCat(field, ": at most ", max, " characters"));
  for (unsigned char c : value) {
    if (c < 0x20 || c == 0x7f) return absl::InvalidArgumentError(absl::StrCat(field, ": control characters"));
  }
  return absl::OkStatus();
}

// Validates and normalises what the caller sent into its record of the person.
absl::StatusOr<store::SubjectRecord> RecordFrom(const v1::ResolveSubjectRequest& req, const std::string& partner_id,
                                                absl::Time now) {
  store::SubjectRecord record;
  record.partner_id = partner_id;
  record.create_time = now;
  domain::PersonRecord& p = record.person;
  const v1::SubjectIdentifiers& ids = req.identifiers();
  const v1::Demographics& demo = req.demographics();
  if (!ids.nhs_number().empty()) {
    auto nhs = domain::ValidateNhsNumber(ids.nhs_number(), "identifiers.nhs_number");
    if (!nhs.ok()) return nhs.status();
    p.nhs_number = *nhs;
  }
  if (!ids.upn().empty()) {
    auto upn = domain::ValidateUpn(ids.upn(), "identifiers.upn");
    if (!upn.ok()) return upn.status();
    p.upn = *upn;
  }
  if (absl::Status s = CheckText(ids.local_id(), "identifiers.local_id", 128); !s.ok()) return s;
  record.local_id = ids.local_id();
  if (!demo.postcode().empty()) {
    auto postcode = domain::ValidatePostcode(demo.postcode(), "demographics.postcode");
    if (!postcode.ok()) return postcode.status();
    p.postcode = *postcode;
  }
  p.given_name = demo.given_name();
  p.family_name = demo.family_name();
  p.birth_date = demo.birth_date();
  domain::MatchQuery query{p.nhs_number, p.upn, p.given_name, p.family_name, p.birth_date, p.postcode};
  if (p.nhs_number.empty() && p.upn.empty()) {
    // Without a national identifier only demographics can find the person: all of them are needed.
    if (absl::Status s = domain::ValidateDemographics(query, now); !s.ok()) return s;
  } else {
    if (absl::Status s = CheckText(p.given_name, "demographics.given_name", 100); !s.ok()) return s;
    if (absl::Status s = CheckText(p.family_name, "demographics.family_name", 100); !s.ok()) return s;
    if (!p.birth_date.empty()) {
      if (absl::Status s = domain::ValidateBirthDate(p.birth_date, now, "demographics.birth_date"); !s.ok()) return s;
    }
  }
  return record;
}

}  // namespace

SubjectService::SubjectService(store::Store& store, const security::Authenticator& auth, Workers& workers)
    : store_(store), auth_(auth), workers_(workers) {}

absl::StatusOr<v1::Subject> SubjectService::View(const std::string& subject_id, const std::string& partner_id) {
  absl::StatusOr<store::SubjectRecord> record = store_.GetSubjectRecord(subject_id, partner_id);
  if (!record.ok()) return record.status();
  absl::StatusOr<std::vector<store::FamilyLink>> family = store_.ListFamilyLinks(subject_id, partner_id);
  if (!family.ok()) return family.status();
  return ToProto(*record, *family);
}

grpc::ServerUnaryReactor* SubjectService::ResolveSubject(grpc::CallbackServerContext* ctx,
                                                         const v1::ResolveSubjectRequest* req,
                                                         v1::ResolveSubjectResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kHolders, "ResolveSubject",
                       [=, this](const security::Caller& caller) { return DoResolve(caller, *req, *resp); });
}

absl::Status SubjectService::DoResolve(const security::Caller& caller, const v1::ResolveSubjectRequest& req,
                                       v1::ResolveSubjectResponse& resp) {
  absl::StatusOr<store::SubjectRecord> incoming = RecordFrom(req, caller.partner.id, absl::Now());
  if (!incoming.ok()) return incoming.status();
  const domain::PersonRecord& p = incoming->person;
  domain::MatchQuery query{p.nhs_number, p.upn, p.given_name, p.family_name, p.birth_date, p.postcode};
  absl::StatusOr<store::ResolveResult> result = store_.ResolveSubject(
      *incoming, [&query](absl::Span<const domain::PersonRecord> records) {
        return domain::MatchDemographics(query, records);
      },
      req.confirm_new_subject(),
      [&](const store::ResolveResult& r) {
        store::NewEvent e;
        e.subject_id = r.record.person.subject_id;
        e.event.set_kind(v1::EVENT_KIND_SUBJECT_LINKED);
        e.event.set_actor(domain::PartnerName(caller.partner.id));
        e.event.set_subject(domain::SubjectName(e.subject_id));
        e.event.set_basis(v1::BASIS_NONE);
        e.event.add_reason_codes(v1::ResolveSubjectResponse::Outcome_Name(ToProto(r.outcome)).substr(8));
        e.event.set_request("SubjectService/ResolveSubject");
        return std::vector<store::NewEvent>{std::move(e)};
      });
  if (!result.ok()) return result.status();
  resp.set_outcome(ToProto(result->outcome));
  if (result->outcome == store::ResolveOutcome::kAmbiguous) {
    for (const domain::MatchCandidate& c : result->candidates) {
      v1::MatchCandidate* out = resp.add_candidates();
      out->set_subject(domain::SubjectName(c.subject_id));
      out->set_score(c.score);
      for (const std::string& f : c.matched_fields) out->add_matched_fields(f);
    }
    return absl::OkStatus();
  }
  absl::StatusOr<v1::Subject> subject = View(result->record.person.subject_id, caller.partner.id);
  if (!subject.ok()) return subject.status();
  *resp.mutable_subject() = *subject;
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* SubjectService::GetSubject(grpc::CallbackServerContext* ctx,
                                                     const v1::GetSubjectRequest* req, v1::GetSubjectResponse* resp) {
  return HandleUnary(ctx, auth_, kHolders, "GetSubject", [&](const security::Caller& caller) -> absl::Status {
    absl::StatusOr<std::string> id = domain::ParseSubjectName(req->name(), "name");
    if (!id.ok()) return id.status();
    absl::StatusOr<v1::Subject> subject = View(*id, caller.partner.id);
    if (!subject.ok()) return subject.status();
    *resp->mutable_subject() = *subject;
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* SubjectService::LinkFamilyMember(grpc::CallbackServerContext* ctx,
                                                           const v1::LinkFamilyMemberRequest* req,
                                                           v1::LinkFamilyMemberResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kHolders, "LinkFamilyMember",
                       [=, this](const security::Caller& caller) { return DoLink(caller, *req, *resp); });
}

absl::Status SubjectService::DoLink(const security::Caller& caller, const v1::LinkFamilyMemberRequest& req,
                                    v1::LinkFamilyMemberResponse& resp) {
  absl::StatusOr<std::string> subject = domain::ParseSubjectName(req.subject(), "subject");
  if (!subject.ok()) return subject.status();
  absl::StatusOr<std::string> relative = domain::ParseSubjectName(req.relative(), "relative");
  if (!relative.ok()) return relative.status();
  if (*subject == *relative) return absl::InvalidArgumentError("relative: a subject cannot be its own relative");
  if (req.relationship() == v1::RELATIONSHIP_UNSPECIFIED || !v1::Relationship_IsValid(req.relationship())) {
    return absl::InvalidArgumentError("relationship: SIBLING, PARENT_CARER or CHILD is required");
  }
  for (auto [id, field] : {std::pair{&*subject, "subject"}, std::pair{&*relative, "relative"}}) {
    absl::StatusOr<store::SubjectRecord> held = store_.GetSubjectRecord(*id, caller.partner.id);
    if (absl::IsNotFound(held.status())) {
      return absl::NotFoundError(absl::StrCat(field, ": no subject ", *id, " held by partner ", caller.partner.id));
    }
    if (!held.ok()) return held.status();
  }
  store::FamilyLink link{*subject, *relative, req.relationship(), caller.partner.id, absl::Now()};
  if (absl::Status s = store_.AddFamilyLink(link); !s.ok()) return s;
  absl::StatusOr<v1::Subject> view = View(*subject, caller.partner.id);
  if (!view.ok()) return view.status();
  *resp.mutable_subject() = *view;
  return absl::OkStatus();
}

}  // namespace accord::server
