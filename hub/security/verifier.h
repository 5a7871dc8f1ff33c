// Checks a client certificate presented in a TLS handshake against the hub's CA.
//
// The TLS layer proves the peer holds the certificate's private key; this class decides whether
// the certificate itself is one the hub accepts, so each refusal gets a precise reason instead of
// a failed handshake. Successful chain checks are cached by certificate; validity times are
// checked on every call.
//
// Thread-safety: Verify may be called concurrently.
#ifndef ACCORD_HUB_SECURITY_VERIFIER_H_
#define ACCORD_HUB_SECURITY_VERIFIER_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace accord::security {

struct PeerCertificate {
  std::string serial_hex;
  std::string common_name;
  absl::Time not_before;
  absl::Time not_after;
};

class ClientCertificateVerifier {
 public:
  // INVALID_ARGUMENT when `ca_certificate_pem` is not a certificate.
  static absl::StatusOr<std::unique_ptr<ClientCertificateVerifier>> Create(absl::string_view ca_certificate_pem);
  ~ClientCertificateVerifier();

  // UNAUTHENTICATED with the reason: not issued by this hub's CA, expired, not yet valid, or not
  // a client certificate.
  absl::StatusOr<PeerCertificate> Verify(absl::string_view certificate_pem, absl::Time now) const;

 private:
  struct Impl;
  explicit ClientCertificateVerifier(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace accord::security

#endif  // ACCORD_HUB_SECURITY_VERIFIER_H_
