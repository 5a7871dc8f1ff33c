#include "hub/server/convert.h"

#include "absl/strings/str_cat.h"
#include "hub/domain/validation.h"

namespace accord::server {
namespace {

v1::PartnerState ToProto(domain::PartnerState state) {
  switch (state) {
    case domain::PartnerState::kActive: return v1::PARTNER_STATE_ACTIVE;
    case domain::PartnerState::kSuspended: return v1::PARTNER_STATE_SUSPENDED;
    case domain::PartnerState::kRevoked: return v1::PARTNER_STATE_REVOKED;
  }
  return v1::PARTNER_STATE_UNSPECIFIED;
}

v1::Party ToProto(const domain::Party& party) {
  v1::Party out;
  if (party.IsPartner()) {
    out.set_partner(domain::PartnerName(party.partner_id));
  } else {
    out.set_sector(party.sector);
  }
  return out;
}

absl::StatusOr<domain::Party> FromProto(const v1::Party& party, absl::string_view field) {
  domain::Party out;
  switch (party.kind_case()) {
    case v1::Party::kPartner: {
      auto id = domain::ParsePartnerName(party.partner(), absl::StrCat(field, ".partner"));
      if (!id.ok()) return id.status();
      out.partner_id = *id;
      break;
    }
    case v1::Party::kSector: out.sector = party.sector(); break;
    case v1::Party::KIND_NOT_SET: break;  // ValidateAgreement names it
  }
  return out;
}

v1::ConsentGiver ToProto(domain::ConsentGiver giver) {
  switch (giver) {
    case domain::ConsentGiver::kYoungPerson: return v1::CONSENT_GIVER_YOUNG_PERSON;
    case domain::ConsentGiver::kParentCarer: return v1::CONSENT_GIVER_PARENT_CARER;
    case domain::ConsentGiver::kUnspecified: break;
  }
  return v1::CONSENT_GIVER_UNSPECIFIED;
}

domain::ConsentGiver FromProto(v1::ConsentGiver giver) {
  switch (giver) {
    case v1::CONSENT_GIVER_YOUNG_PERSON: return domain::ConsentGiver::kYoungPerson;
    case v1::CONSENT_GIVER_PARENT_CARER: return domain::ConsentGiver::kParentCarer;
    default: return domain::ConsentGiver::kUnspecified;
  }
}

v1::ConsentState ToProto(domain::ConsentStatus status) {
  switch (status) {
    case domain::ConsentStatus::kActive: return v1::CONSENT_STATE_ACTIVE;
    case domain::ConsentStatus::kWithdrawn: return v1::CONSENT_STATE_WITHDRAWN;
    case domain::ConsentStatus::kExpired: return v1::CONSENT_STATE_EXPIRED;
    case domain::ConsentStatus::kNotYetValid: return v1::CONSENT_STATE_NOT_YET_VALID;
  }
  return v1::CONSENT_STATE_UNSPECIFIED;
}

}  // namespace

grpc::Status ToGrpc(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

google::protobuf::Timestamp ToProto(absl::Time t) {
  google::protobuf::Timestamp out;
  timespec ts = absl::ToTimespec(t);
  out.set_seconds(ts.tv_sec);
  out.set_nanos(static_cast<int32_t>(ts.tv_nsec));
  return out;
}

absl::Time FromProto(const google::protobuf::Timestamp& t) {
  return absl::FromUnixSeconds(t.seconds()) + absl::Nanoseconds(t.nanos());
}

v1::Partner ToProto(const domain::Partner& p) {
  v1::Partner out;
  out.set_name(domain::PartnerName(p.id));
  out.set_display_name(p.display_name);
  out.set_sector(p.sector);
  for (domain::Role r : p.roles) out.add_roles(r);
  out.set_state(ToProto(p.state));
  out.set_state_reason(p.state_reason);
  *out.mutable_create_time() = ToProto(p.create_time);
  return out;
}

domain::Partner FromProto(const v1::Partner& p) {
  domain::Partner out;
  out.display_name = p.display_name();
  out.sector = p.sector();
  for (int r : p.roles()) out.roles.push_back(static_cast<domain::Role>(r));
  return out;
}

v1::SharingAgreement ToProto(const domain::SharingAgreement& a) {
  v1::SharingAgreement out;
  out.set_name(domain::AgreementName(a.id));
  *out.mutable_discloser() = ToProto(a.discloser);
  *out.mutable_recipient() = ToProto(a.recipient);
  for (auto p : a.purposes) out.add_purposes(p);
  for (auto c : a.categories) out.add_data_categories(c);
  *out.mutable_valid_from() = ToProto(a.valid_from);
  *out.mutable_valid_until() = ToProto(a.valid_until);
  out.set_description(a.description);
  if (!a.creator_id.empty()) out.set_creator(domain::PartnerName(a.creator_id));
  *out.mutable_create_time() = ToProto(a.create_time);
  return out;
}

absl::StatusOr<domain::SharingAgreement> FromProto(const v1::SharingAgreement& a) {
  domain::SharingAgreement out;
  auto discloser = FromProto(a.discloser(), "sharing_agreement.discloser");
  if (!discloser.ok()) return discloser.status();
  auto recipient = FromProto(a.recipient(), "sharing_agreement.recipient");
  if (!recipient.ok()) return recipient.status();
  out.discloser = *discloser;
  out.recipient = *recipient;
  for (int p : a.purposes()) out.purposes.push_back(static_cast<domain::Purpose>(p));
  for (int c : a.data_categories()) out.categories.push_back(static_cast<domain::DataCategory>(c));
  out.valid_from = a.has_valid_from() ? FromProto(a.valid_from()) : absl::InfinitePast();
  out.valid_until = a.has_valid_until() ? FromProto(a.valid_until()) : absl::InfinitePast();
  out.description = a.description();
  return out;
}

v1::Subject ToProto(const store::SubjectRecord& record, const std::vector<store::FamilyLink>& family) {
  v1::Subject out;
  out.set_name(domain::SubjectName(record.person.subject_id));
  out.mutable_identifiers()->set_nhs_number(record.person.nhs_number);
  out.mutable_identifiers()->set_upn(record.person.upn);
  out.mutable_identifiers()->set_local_id(record.local_id);
  out.mutable_demographics()->set_given_name(record.person.given_name);
  out.mutable_demographics()->set_family_name(record.person.family_name);
  out.mutable_demographics()->set_birth_date(record.person.birth_date);
  out.mutable_demographics()->set_postcode(record.person.postcode);
  for (const store::FamilyLink& link : family) {
    v1::FamilyLink* l = out.add_family();
    l->set_relative(domain::SubjectName(link.relative_id));
    l->set_relationship(static_cast<v1::Relationship>(link.relationship));
  }
  *out.mutable_create_time() = ToProto(record.create_time);
  return out;
}

v1::Consent ToProto(const domain::Consent& c, absl::Time now) {
  v1::Consent out;
  out.set_name(domain::ConsentName(c.id));
  out.set_subject(domain::SubjectName(c.subject_id));
  out.set_given_by(ToProto(c.given_by));
  for (auto p : c.purposes) out.add_purposes(p);
  for (auto k : c.categories) out.add_data_categories(k);
  for (const domain::Party& p : c.recipients) *out.add_recipients() = ToProto(p);
  *out.mutable_valid_from() = ToProto(c.valid_from);
  *out.mutable_valid_until() = ToProto(c.valid_until);
  out.set_state(ToProto(domain::ConsentStatusAt(c, now)));
  if (c.withdrawn_at) *out.mutable_withdraw_time() = ToProto(*c.withdrawn_at);
  out.set_recorder(domain::PartnerName(c.recorded_by));
  out.set_evidence(c.evidence);
  *out.mutable_create_time() = ToProto(c.create_time);
  return out;
}

absl::StatusOr<domain::Consent> FromProto(const v1::Consent& c) {
  domain::Consent out;
  auto subject = domain::ParseSubjectName(c.subject(), "consent.subject");
  if (!subject.ok()) return subject.status();
  out.subject_id = *subject;
  out.given_by = FromProto(c.given_by());
  for (int p : c.purposes()) out.purposes.push_back(static_cast<domain::Purpose>(p));
  for (int k : c.data_categories()) out.categories.push_back(static_cast<domain::DataCategory>(k));
  for (int i = 0; i < c.recipients_size(); ++i) {
    auto party = FromProto(c.recipients(i), absl::StrCat("consent.recipients[", i, "]"));
    if (!party.ok()) return party.status();
    out.recipients.push_back(*party);
  }
  out.valid_from = c.has_valid_from() ? FromProto(c.valid_from()) : absl::InfinitePast();
  out.valid_until = c.has_valid_until() ? FromProto(c.valid_until()) : absl::UnixEpoch();
  out.evidence = c.evidence();
  return out;
}

}  // namespace accord::server
