#include "hub/security/verifier.h"

#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_map.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "hub/security/openssl_util.h"

namespace accord::security {
namespace {

constexpr size_t kMaxCached = 10000;

absl::Time NotBefore(const X509* cert) {
  struct tm tm {};
  if (ASN1_TIME_to_tm(X509_get0_notBefore(cert), &tm) != 1) return absl::InfiniteFuture();
  return absl::FromTM(tm, absl::UTCTimeZone());
}

std::string Rfc3339(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

}  // namespace

struct ClientCertificateVerifier::Impl {
  Owned<X509_STORE> store;
  mutable absl::Mutex mu;
  mutable absl::flat_hash_map<std::string, PeerCertificate> chain_ok ABSL_GUARDED_BY(mu);
};

ClientCertificateVerifier::ClientCertificateVerifier(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClientCertificateVerifier::~ClientCertificateVerifier() = default;

absl::StatusOr<std::unique_ptr<ClientCertificateVerifier>> ClientCertificateVerifier::Create(
    absl::string_view ca_certificate_pem) {
  Owned<X509> ca = ReadCertificatePem(ca_certificate_pem);
  if (!ca) return absl::InvalidArgumentError(OpenSslErrorText("CA certificate is not a PEM certificate"));
  auto impl = std::make_unique<Impl>();
  impl->store.reset(X509_STORE_new());
  if (!impl->store || X509_STORE_add_cert(impl->store.get(), ca.get()) != 1) {
    return absl::InternalError(OpenSslErrorText("CA store"));
  }
  return std::unique_ptr<ClientCertificateVerifier>(new ClientCertificateVerifier(std::move(impl)));
}

absl::StatusOr<PeerCertificate> ClientCertificateVerifier::Verify(absl::string_view certificate_pem,
                                                                  absl::Time now) const {
  std::string key(certificate_pem);
  PeerCertificate peer;
  bool cached = false;
  {
    absl::MutexLock lock(&impl_->mu);
    auto it = impl_->chain_ok.find(key);
    if (it != impl_->chain_ok.end()) {
      peer = it->second;
      cached = true;
    }
  }
  if (!cached) {
    Owned<X509> cert = ReadCertificatePem(certificate_pem);
    if (!cert) {
      ERR_clear_error();
      return absl::UnauthenticatedError("the client certificate is not a readable X.509 certificate");
    }
    peer.serial_hex = SerialHex(cert.get());
    peer.common_name = CommonName(cert.get());
    peer.not_before = NotBefore(cert.get());
    peer.not_after = NotAfter(cert.get());
    Owned<X509_STORE_CTX> ctx(X509_STORE_CTX_new());
    if (!ctx || X509_STORE_CTX_init(ctx.get(), impl_->store.get(), cert.get(), nullptr) != 1) {
      return absl::InternalError(OpenSslErrorText("verify context"));
    }
    X509_STORE_CTX_set_purpose(ctx.get(), X509_PURPOSE_SSL_CLIENT);
    // Time is judged below against `now` on every call; the chain check ignores it so a cached
    // result stays true.
    X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx.get()), X509_V_FLAG_NO_CHECK_TIME);
    if (X509_verify_cert(ctx.get()) != 1) {
      int err = X509_STORE_CTX_get_error(ctx.get());
      ERR_clear_error();
      switch (err) {
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
        case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
        case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
        case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
        case X509_V_ERR_CERT_SIGNATURE_FAILURE:
          return absl::UnauthenticatedError(absl::StrCat("client certificate \"", peer.common_name,
                                                         "\" was not issued by this hub's certificate authority"));
        case X509_V_ERR_INVALID_PURPOSE:
          return absl::UnauthenticatedError("the presented certificate is not a client certificate");
        default:
          return absl::UnauthenticatedError(
              absl::StrCat("client certificate rejected: ", X509_verify_cert_error_string(err)));
      }
    }
    absl::MutexLock lock(&impl_->mu);
    if (impl_->chain_ok.size() >= kMaxCached) impl_->chain_ok.clear();
    impl_->chain_ok.emplace(std::move(key), peer);
  }
  if (now >= peer.not_after) {
    return absl::UnauthenticatedError(absl::StrCat("client certificate \"", peer.common_name, "\" expired at ",
                                                   Rfc3339(peer.not_after)));
  }
  if (now < peer.not_before) {
    return absl::UnauthenticatedError(absl::StrCat("client certificate \"", peer.common_name,
                                                   "\" is not valid before ", Rfc3339(peer.not_before)));
  }
  return peer;
}

}  // namespace accord::security
