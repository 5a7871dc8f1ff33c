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

}  // namespace accord::server
