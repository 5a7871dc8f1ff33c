#include "hub/security/authenticator.h"

#include <grpcpp/security/auth_context.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "hub/domain/validation.h"

namespace accord::security {

Authenticator::Authenticator(store::Store& store, std::unique_ptr<ClientCertificateVerifier> verifier)
    : store_(store), verifier_(std::move(verifier)) {}

Authenticator::~Authenticator() = default;

absl::StatusOr<Caller> Authenticator::Authenticate(const grpc::AuthContext& context) const {
  std::vector<grpc::string_ref> pems = context.FindPropertyValues("x509_pem_cert");
  if (pems.empty() || pems.front().empty()) {
    return absl::UnauthenticatedError("no client certificate: connect with the credentials bundle accordctl issued");
  }
  return AuthenticatePem(absl::string_view(pems.front().data(), pems.front().size()));
}

absl::StatusOr<Caller> Authenticator::AuthenticatePem(absl::string_view certificate_pem) const {
  absl::StatusOr<PeerCertificate> peer = verifier_->Verify(certificate_pem, absl::Now());
  if (!peer.ok()) return peer.status();
  absl::StatusOr<store::Credential> cred = store_.FindCredential(peer->serial_hex);
  if (absl::IsNotFound(cred.status())) {
    return absl::UnauthenticatedError(
        absl::StrCat("client certificate ", peer->serial_hex, " is not on this hub's register"));
  }
  if (!cred.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot check the caller's identity: ", cred.status().message()));
  }
  const domain::Partner& partner = cred->partner;
  if (partner.id != peer->common_name) {
    return absl::UnauthenticatedError("client certificate does not match its registered partner");
  }
  if (cred->certificate.revoked) {
    return absl::PermissionDeniedError(absl::StrCat("the certificate of partner ", partner.id, " has been revoked"));
  }
  switch (partner.state) {
    case domain::PartnerState::kActive: break;
    case domain::PartnerState::kSuspended:
      return absl::PermissionDeniedError(
          absl::StrCat("partner ", partner.id, " is suspended: ", partner.state_reason));
    case domain::PartnerState::kRevoked:
      return absl::PermissionDeniedError(absl::StrCat("partner ", partner.id, " is revoked: ", partner.state_reason));
  }
  return Caller{partner, peer->serial_hex};
}

absl::Status RequireRole(const Caller& caller, absl::Span<const domain::Role> roles) {
  std::vector<std::string> names;
  for (domain::Role role : roles) {
    if (caller.partner.HasRole(role)) return absl::OkStatus();
    names.push_back(::accord::v1::Role_Name(role));
  }
  return absl::PermissionDeniedError(absl::StrCat("partner ", caller.partner.id, " does not hold ",
                                                  names.size() == 1 ? "the role " : "any of the roles ",
                                                  absl::StrJoin(names, ", ")));
}

}  // namespace accord::security
