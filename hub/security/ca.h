// The hub's own certificate authority: an ECDSA P-256 key and a self-signed certificate that
// issues the hub's server certificate and every partner's client certificate.
//
// Thread-safety: a CertificateAuthority is immutable after creation; its const methods may be
// called concurrently.
#ifndef ACCORD_HUB_SECURITY_CA_H_
#define ACCORD_HUB_SECURITY_CA_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace accord::security {

// What an issued certificate says.
struct CertificateProfile {
  std::string common_name;               // for a partner: its partner id
  bool server = false;                   // serverAuth (the hub) or clientAuth (a partner)
  std::vector<std::string> dns_names;    // subjectAltName DNS entries (server certificates)
  std::vector<std::string> ip_addresses; // subjectAltName IP entries (server certificates)
  absl::Time not_before;
  absl::Time not_after;
};

struct IssuedCertificate {
  std::string certificate_pem;
  std::string private_key_pem;  // empty when issued from a CSR: the key never left the partner
  std::string serial_hex;       // lower-case hex, as the store records it
  absl::Time not_after;
};

class CertificateAuthority {
 public:
  // A new CA key and a self-signed CA certificate valid for [now, now + validity).
  static absl::StatusOr<CertificateAuthority> Create(absl::string_view common_name, absl::Time now,
                                                     absl::Duration validity);
  // Loads an existing CA. INVALID_ARGUMENT when the PEM is unreadable or the key does not match.
  static absl::StatusOr<CertificateAuthority> FromPem(absl::string_view certificate_pem,
                                                      absl::string_view private_key_pem);

  CertificateAuthority(CertificateAuthority&&) noexcept;
  CertificateAuthority& operator=(CertificateAuthority&&) noexcept;
  ~CertificateAuthority();

  const std::string& certificate_pem() const;
  const std::string& private_key_pem() const;

  // Issues a certificate for a new P-256 key generated here.
  absl::StatusOr<IssuedCertificate> Issue(const CertificateProfile& profile) const;
  // Signs a PKCS#10 request (PEM) after checking its self-signature. Only the request's public
  // key is used: the subject and extensions come from `profile`. INVALID_ARGUMENT naming "csr_pem"
  // when the request is malformed or its signature does not verify.
  absl::StatusOr<IssuedCertificate> SignRequest(absl::string_view csr_pem, const CertificateProfile& profile) const;

 private:
  struct Impl;
  explicit CertificateAuthority(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// A PKCS#10 request (PEM) for a new P-256 key, as a partner makes to register: {csr, key}.
absl::StatusOr<std::pair<std::string, std::string>> MakeCertificateRequest(absl::string_view common_name);

}  // namespace accord::security

#endif  // ACCORD_HUB_SECURITY_CA_H_
