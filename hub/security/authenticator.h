// Who is calling: the partner behind a call's verified client certificate, checked against the
// store on every call so a suspension or revocation takes effect on the very next call.
// Caller identity never comes from a request field.
//
// Thread-safety: Authenticate may be called concurrently. The Store and verifier must
// outlive the Authenticator.
#ifndef ACCORD_HUB_SECURITY_AUTHENTICATOR_H_
#define ACCORD_HUB_SECURITY_AUTHENTICATOR_H_

#include <initializer_list>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "hub/domain/types.h"
#include "hub/security/verifier.h"
#include "hub/store/store.h"

namespace grpc {
class AuthContext;
}

namespace accord::security {

struct Caller {
  domain::Partner partner;
  std::string certificate_serial;
};

// PERMISSION_DENIED naming the partner and the role(s) unless the caller holds one of `roles`.
absl::Status RequireRole(const Caller& caller, absl::Span<const domain::Role> roles);

class Authenticator {
 public:
  Authenticator(store::Store& store, std::unique_ptr<ClientCertificateVerifier> verifier);
  ~Authenticator();

  // UNAUTHENTICATED: no client certificate, one from another CA, an expired one, one the hub has
  // no record of. PERMISSION_DENIED: a revoked certificate, a suspended or revoked partner.
  // UNAVAILABLE when the store cannot answer (nothing is allowed then).
  absl::StatusOr<Caller> Authenticate(const grpc::AuthContext& context) const;

  // The same checks on a certificate already in hand (PEM), e.g. from a test.
  absl::StatusOr<Caller> AuthenticatePem(absl::string_view certificate_pem) const;

 private:
  store::Store& store_;
  std::unique_ptr<ClientCertificateVerifier> verifier_;
};

}  // namespace accord::security

#endif  // ACCORD_HUB_SECURITY_AUTHENTICATOR_H_
