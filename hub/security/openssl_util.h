// Owning pointers and error text for OpenSSL objects. Private to hub/security.
#ifndef ACCORD_HUB_SECURITY_OPENSSL_UTIL_H_
#define ACCORD_HUB_SECURITY_OPENSSL_UTIL_H_

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/x509.h>

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace accord::security {

struct OpenSslFree {
  void operator()(EVP_PKEY* p) const { EVP_PKEY_free(p); }
  void operator()(X509* p) const { X509_free(p); }
  void operator()(X509_REQ* p) const { X509_REQ_free(p); }
  void operator()(X509_STORE* p) const { X509_STORE_free(p); }
  void operator()(X509_STORE_CTX* p) const { X509_STORE_CTX_free(p); }
  void operator()(BIO* p) const { BIO_free(p); }
  void operator()(BIGNUM* p) const { BN_free(p); }
  void operator()(ASN1_STRING* p) const { ASN1_STRING_free(p); }  // also ASN1_INTEGER, ASN1_TIME
  void operator()(X509_EXTENSION* p) const { X509_EXTENSION_free(p); }
};
template <typename T>
using Owned = std::unique_ptr<T, OpenSslFree>;

// The OpenSSL error queue as text (and cleared), prefixed with `what`.
std::string OpenSslErrorText(absl::string_view what);

// PEM text ↔ objects. Reading returns null on malformed input.
Owned<X509> ReadCertificatePem(absl::string_view pem);
Owned<EVP_PKEY> ReadPrivateKeyPem(absl::string_view pem);
std::string CertificateToPem(X509* cert);
std::string PrivateKeyToPem(EVP_PKEY* key);

// Lower-case hex of a certificate's serial number.
std::string SerialHex(const X509* cert);
// A certificate's notAfter as absl::Time.
absl::Time NotAfter(const X509* cert);
// The certificate's subject common name, or empty.
std::string CommonName(const X509* cert);

}  // namespace accord::security

#endif  // ACCORD_HUB_SECURITY_OPENSSL_UTIL_H_
