#include "hub/security/ca.h"

#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "hub/security/openssl_util.h"

namespace accord::security {
namespace {

absl::Status Err(absl::string_view what) { return absl::InternalError(OpenSslErrorText(what)); }

Owned<EVP_PKEY> NewP256Key() { return Owned<EVP_PKEY>(EVP_EC_gen("P-256")); }

absl::Status SetRandomSerial(X509* cert) {
  unsigned char bytes[16];
  if (RAND_bytes(bytes, sizeof bytes) != 1) return Err("RAND_bytes");
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x01;  // and a full 16 bytes, so every serial prints at the same length
  Owned<BIGNUM> bn(BN_bin2bn(bytes, sizeof bytes, nullptr));
  ASN1_INTEGER* serial = X509_get_serialNumber(cert);
  if (!bn || !BN_to_ASN1_INTEGER(bn.get(), serial)) return Err("serial");
  return absl::OkStatus();
}

absl::Status SetValidity(X509* cert, absl::Time not_before, absl::Time not_after) {
  Owned<ASN1_TIME> from(ASN1_TIME_set(nullptr, absl::ToTimeT(not_before)));
  Owned<ASN1_TIME> until(ASN1_TIME_set(nullptr, absl::ToTimeT(not_after)));
  if (!from || !until || !X509_set1_notBefore(cert, from.get()) || !X509_set1_notAfter(cert, until.get())) {
    return Err("validity");
  }
  return absl::OkStatus();
}

absl::Status AddExtension(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  Owned<X509_EXTENSION> ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  if (!ext || !X509_add_ext(cert, ext.get(), -1)) return Err(absl::StrCat("extension ", OBJ_nid2sn(nid)));
  return absl::OkStatus();
}

absl::Status SetSubject(X509* cert, absl::string_view common_name) {
  X509_NAME* name = X509_get_subject_name(cert);
  std::string cn(common_name);
  if (!X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>("Accord"), -1,
                                  -1, 0) ||
      !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                  -1, 0)) {
    return Err("subject");
  }
  return absl::OkStatus();
}

}  // namespace

struct CertificateAuthority::Impl {
  Owned<X509> cert;
  Owned<EVP_PKEY> key;
  std::string cert_pem;
  std::string key_pem;
};

CertificateAuthority::CertificateAuthority(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CertificateAuthority::CertificateAuthority(CertificateAuthority&&) noexcept = default;
CertificateAuthority& CertificateAuthority::operator=(CertificateAuthority&&) noexcept = default;
CertificateAuthority::~CertificateAuthority() = default;

const std::string& CertificateAuthority::certificate_pem() const { return impl_->cert_pem; }
const std::string& CertificateAuthority::private_key_pem() const { return impl_->key_pem; }

absl::StatusOr<CertificateAuthority> CertificateAuthority::Create(absl::string_view common_name, absl::Time now,
                                                                  absl::Duration validity) {
  auto impl = std::make_unique<Impl>();
  impl->key = NewP256Key();
  impl->cert.reset(X509_new());
  if (!impl->key || !impl->cert) return Err("CA key");
  X509* c = impl->cert.get();
  if (!X509_set_version(c, 2)) return Err("version");
  if (auto s = SetRandomSerial(c); !s.ok()) return s;
  if (auto s = SetValidity(c, now - absl::Minutes(5), now + validity); !s.ok()) return s;
  if (auto s = SetSubject(c, common_name); !s.ok()) return s;
  if (!X509_set_issuer_name(c, X509_get_subject_name(c)) || !X509_set_pubkey(c, impl->key.get())) {
    return Err("issuer");
  }
  for (auto [nid, value] : {std::pair{NID_basic_constraints, "critical,CA:TRUE,pathlen:0"},
                            std::pair{NID_key_usage, "critical,keyCertSign,cRLSign"},
                            std::pair{NID_subject_key_identifier, "hash"}}) {
    if (auto s = AddExtension(c, c, nid, value); !s.ok()) return s;
  }
  if (!X509_sign(c, impl->key.get(), EVP_sha256())) return Err("sign CA");
  impl->cert_pem = CertificateToPem(c);
  impl->key_pem = PrivateKeyToPem(impl->key.get());
  return CertificateAuthority(std::move(impl));
}

absl::StatusOr<CertificateAuthority> CertificateAuthority::FromPem(absl::string_view certificate_pem,
                                                                   absl::string_view private_key_pem) {
  auto impl = std::make_unique<Impl>();
  impl->cert = ReadCertificatePem(certificate_pem);
  if (!impl->cert) return absl::InvalidArgumentError(OpenSslErrorText("CA certificate is not a PEM certificate"));
  impl->key = ReadPrivateKeyPem(private_key_pem);
  if (!impl->key) return absl::InvalidArgumentError(OpenSslErrorText("CA key is not a PEM private key"));
  if (X509_check_private_key(impl->cert.get(), impl->key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("CA key does not match the CA certificate");
  }
  impl->cert_pem = std::string(certificate_pem);
  impl->key_pem = std::string(private_key_pem);
  return CertificateAuthority(std::move(impl));
}

namespace {

absl::StatusOr<IssuedCertificate> IssueFor(X509* ca_cert, EVP_PKEY* ca_key, EVP_PKEY* subject_key,
                                           const CertificateProfile& profile) {
  if (profile.common_name.empty()) return absl::InvalidArgumentError("common_name: is required");
  if (profile.not_after <= profile.not_before) return absl::InvalidArgumentError("not_after: must be after not_before");
  Owned<X509> cert(X509_new());
  X509* c = cert.get();
  if (!c || !X509_set_version(c, 2)) return Err("certificate");
  if (auto s = SetRandomSerial(c); !s.ok()) return s;
  if (auto s = SetValidity(c, profile.not_before, profile.not_after); !s.ok()) return s;
  if (auto s = SetSubject(c, profile.common_name); !s.ok()) return s;
  if (!X509_set_issuer_name(c, X509_get_subject_name(ca_cert)) || !X509_set_pubkey(c, subject_key)) {
    return Err("issuer");
  }
  std::vector<std::pair<int, std::string>> exts = {
      {NID_basic_constraints, "critical,CA:FALSE"},
      {NID_key_usage, "critical,digitalSignature,keyAgreement"},
      {NID_ext_key_usage, profile.server ? "serverAuth" : "clientAuth"},
      {NID_subject_key_identifier, "hash"},
      {NID_authority_key_identifier, "keyid:always"},
  };
  std::vector<std::string> sans;
  for (const auto& d : profile.dns_names) sans.push_back("DNS:" + d);
  for (const auto& ip : profile.ip_addresses) sans.push_back("IP:" + ip);
  if (!sans.empty()) exts.emplace_back(NID_subject_alt_name, absl::StrJoin(sans, ","));
  for (const auto& [nid, value] : exts) {
    if (auto s = AddExtension(c, ca_cert, nid, value); !s.ok()) return s;
  }
  if (!X509_sign(c, ca_key, EVP_sha256())) return Err("sign");
  IssuedCertificate out;
  out.certificate_pem = CertificateToPem(c);
  out.serial_hex = SerialHex(c);
  out.not_after = NotAfter(c);
  return out;
}

}  // namespace

absl::StatusOr<IssuedCertificate> CertificateAuthority::Issue(const CertificateProfile& profile) const {
  Owned<EVP_PKEY> key = NewP256Key();
  if (!key) return Err("key");
  auto issued = IssueFor(impl_->cert.get(), impl_->key.get(), key.get(), profile);
  if (!issued.ok()) return issued.status();
  issued->private_key_pem = PrivateKeyToPem(key.get());
  return issued;
}

absl::StatusOr<IssuedCertificate> CertificateAuthority::SignRequest(absl::string_view csr_pem,
                                                                   const CertificateProfile& profile) const {
  Owned<BIO> bio(BIO_new_mem_buf(csr_pem.data(), static_cast<int>(csr_pem.size())));
  Owned<X509_REQ> req(bio ? PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr) : nullptr);
  if (!req) {
    ERR_clear_error();
    return absl::InvalidArgumentError("csr_pem: not a PEM certificate signing request");
  }
  EVP_PKEY* key = X509_REQ_get0_pubkey(req.get());
  if (!key || X509_REQ_verify(req.get(), key) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError("csr_pem: the request's signature does not verify");
  }
  return IssueFor(impl_->cert.get(), impl_->key.get(), key, profile);
}

absl::StatusOr<std::pair<std::string, std::string>> MakeCertificateRequest(absl::string_view common_name) {
  Owned<EVP_PKEY> key = NewP256Key();
  Owned<X509_REQ> req(X509_REQ_new());
  if (!key || !req) return Err("request");
  std::string cn(common_name);
  X509_NAME* name = X509_REQ_get_subject_name(req.get());
  if (!X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                                  -1, 0) ||
      !X509_REQ_set_pubkey(req.get(), key.get()) || !X509_REQ_sign(req.get(), key.get(), EVP_sha256())) {
    return Err("request");
  }
  Owned<BIO> bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509_REQ(bio.get(), req.get());
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::pair{std::string(data, static_cast<size_t>(len)), PrivateKeyToPem(key.get())};
}

}  // namespace accord::security
