#include "hub/server/partner_admin_service.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "hub/domain/validation.h"
#include "hub/log/log.h"
#include "hub/server/paging.h"
#include "hub/server/unary.h"

namespace accord::server {
namespace {

const std::initializer_list<domain::Role> kAdmin = {v1::ROLE_ADMIN};
constexpr absl::Duration kPartnerCertificateValidity = absl::Hours(24 * 365);

}  // namespace

PartnerAdminService::PartnerAdminService(store::Store& store, const security::Authenticator& auth, Workers& workers,
                                         const security::CertificateAuthority* ca, int max_page_size)
    : store_(store), auth_(auth), workers_(workers), ca_(ca), max_page_size_(max_page_size) {}

grpc::ServerUnaryReactor* PartnerAdminService::RegisterPartner(grpc::CallbackServerContext* ctx,
                                                               const v1::RegisterPartnerRequest* req,
                                                               v1::RegisterPartnerResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kAdmin, "RegisterPartner",
                       [=, this](const security::Caller& caller) { return DoRegisterPartner(caller, *req, *resp); });
}

absl::Status PartnerAdminService::DoRegisterPartner(const security::Caller& caller,
                                                    const v1::RegisterPartnerRequest& req,
                                                    v1::RegisterPartnerResponse& resp) {
  domain::Partner partner = FromProto(req.partner());
  if (absl::Status s = domain::ValidateNewPartner(partner); !s.ok()) return s;
  partner.id = req.partner_id().empty() ? domain::PartnerIdFromName(partner.display_name) : req.partner_id();
  if (absl::Status s = domain::ValidatePartnerId(partner.id); !s.ok()) return s;
  partner.create_time = absl::Now();

  if (req.csr_pem().empty()) {
    if (absl::Status s = store_.CreatePartner(partner); !s.ok()) return s;
  } else {
    if (ca_ == nullptr) {
      return absl::FailedPreconditionError("csr_pem: this hub has no CA key configured (tls.ca_key_file)");
    }
    security::CertificateProfile profile;
    profile.common_name = partner.id;
    profile.not_before = partner.create_time - absl::Minutes(5);
    profile.not_after = partner.create_time + kPartnerCertificateValidity;
    absl::StatusOr<security::IssuedCertificate> issued = ca_->SignRequest(req.csr_pem(), profile);
    if (!issued.ok()) return issued.status();
    domain::Certificate cert{issued->serial_hex, partner.id, issued->not_after, false};
    if (absl::Status s = store_.CreatePartnerWithCertificate(partner, cert); !s.ok()) return s;
    resp.set_certificate_pem(issued->certificate_pem);
  }
  if (ca_ != nullptr) resp.set_ca_certificate_pem(ca_->certificate_pem());
  *resp.mutable_partner() = ToProto(partner);
  log::Info("partner_registered", {{"partner", partner.id}, {"by", caller.partner.id},
                                   {"sector", v1::Sector_Name(partner.sector)}});
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PartnerAdminService::GetPartner(grpc::CallbackServerContext* ctx,
                                                          const v1::GetPartnerRequest* req,
                                                          v1::GetPartnerResponse* resp) {
  auto snapshot = store_.SnapshotReads();  // reads only: the caller and the answer in one transaction
  return HandleUnary(ctx, auth_, kAdmin, "GetPartner", [&](const security::Caller&) -> absl::Status {
    absl::StatusOr<std::string> id = domain::ParsePartnerName(req->name());
    if (!id.ok()) return id.status();
    absl::StatusOr<domain::Partner> partner = store_.GetPartner(*id);
    if (!partner.ok()) return partner.status();
    *resp->mutable_partner() = ToProto(*partner);
    return absl::OkStatus();
  });
}

grpc::ServerUnaryReactor* PartnerAdminService::ListPartners(grpc::CallbackServerContext* ctx,
                                                            const v1::ListPartnersRequest* req,
                                                            v1::ListPartnersResponse* resp) {
  auto snapshot = store_.SnapshotReads();  // reads only: the caller and the answer in one transaction
  return HandleUnary(ctx, auth_, kAdmin, "ListPartners",
                     [&](const security::Caller&) { return DoListPartners(*req, *resp); });
}

absl::Status PartnerAdminService::DoListPartners(const v1::ListPartnersRequest& req, v1::ListPartnersResponse& resp) {
  return ServePage(
      req.page_size(), req.page_token(), max_page_size_,
      [&](const std::string& after, int limit) { return store_.ListPartners(after, limit); },
      [&](const domain::Partner& p) { *resp.add_partners() = ToProto(p); }, resp.mutable_next_page_token());
}

grpc::ServerUnaryReactor* PartnerAdminService::SuspendPartner(grpc::CallbackServerContext* ctx,
                                                              const v1::SuspendPartnerRequest* req,
                                                              v1::SuspendPartnerResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kAdmin, "SuspendPartner", [=, this](const security::Caller& caller) {
    return DoSetSuspended(caller, req->name(), true, req->reason(), *resp->mutable_partner());
  });
}

grpc::ServerUnaryReactor* PartnerAdminService::ReinstatePartner(grpc::CallbackServerContext* ctx,
                                                                const v1::ReinstatePartnerRequest* req,
                                                                v1::ReinstatePartnerResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kAdmin, "ReinstatePartner", [=, this](const security::Caller& caller) {
    return DoSetSuspended(caller, req->name(), false, "", *resp->mutable_partner());
  });
}

absl::Status PartnerAdminService::DoSetSuspended(const security::Caller& caller, const std::string& name,
                                                 bool suspended, const std::string& reason, v1::Partner& out) {
  absl::StatusOr<std::string> id = domain::ParsePartnerName(name);
  if (!id.ok()) return id.status();
  if (suspended) {
    if (absl::Status s = domain::ValidateReason(reason, "reason"); !s.ok()) return s;
    if (*id == caller.partner.id) {
      return absl::FailedPreconditionError("name: an administrator cannot suspend its own partner");
    }
  }
  absl::StatusOr<domain::Partner> partner = store_.SetPartnerSuspended(*id, suspended, reason);
  if (!partner.ok()) return partner.status();
  out = ToProto(*partner);
  log::Info(suspended ? "partner_suspended" : "partner_reinstated",
            {{"partner", *id}, {"by", caller.partner.id}, {"reason", reason}});
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PartnerAdminService::CreateSharingAgreement(grpc::CallbackServerContext* ctx,
                                                                      const v1::CreateSharingAgreementRequest* req,
                                                                      v1::CreateSharingAgreementResponse* resp) {
  return HandleUnaryOn(workers_, ctx, auth_, kAdmin, "CreateSharingAgreement",
                       [=, this](const security::Caller& caller) { return DoCreateAgreement(caller, *req, *resp); });
}

absl::Status PartnerAdminService::DoCreateAgreement(const security::Caller& caller,
                                                    const v1::CreateSharingAgreementRequest& req,
                                                    v1::CreateSharingAgreementResponse& resp) {
  absl::StatusOr<domain::SharingAgreement> agreement = FromProto(req.sharing_agreement());
  if (!agreement.ok()) return agreement.status();
  absl::Time now = absl::Now();
  if (!req.sharing_agreement().has_valid_from()) agreement->valid_from = now;
  agreement->creator_id = caller.partner.id;
  agreement->create_time = now;
  if (absl::Status s = domain::ValidateAgreement(*agreement); !s.ok()) return s;
  absl::StatusOr<domain::SharingAgreement> stored = store_.CreateAgreement(*agreement);
  if (!stored.ok()) return stored.status();
  *resp.mutable_sharing_agreement() = ToProto(*stored);
  log::Info("sharing_agreement_created", {{"agreement", stored->id}, {"by", caller.partner.id}});
  return absl::OkStatus();
}

grpc::ServerUnaryReactor* PartnerAdminService::ListSharingAgreements(grpc::CallbackServerContext* ctx,
                                                                     const v1::ListSharingAgreementsRequest* req,
                                                                     v1::ListSharingAgreementsResponse* resp) {
  auto snapshot = store_.SnapshotReads();  // reads only: the caller and the answer in one transaction
  return HandleUnary(ctx, auth_, kAdmin, "ListSharingAgreements",
                     [&](const security::Caller&) { return DoListAgreements(*req, *resp); });
}

absl::Status PartnerAdminService::DoListAgreements(const v1::ListSharingAgreementsRequest& req,
                                                   v1::ListSharingAgreementsResponse& resp) {
  return ServePage(
      req.page_size(), req.page_token(), max_page_size_,
      [&](const std::string& after, int limit) { return store_.ListAgreements(after, limit); },
      [&](const domain::SharingAgreement& a) { *resp.add_sharing_agreements() = ToProto(a); },
      resp.mutable_next_page_token());
}

}  // namespace accord::server
