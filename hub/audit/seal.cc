#include "hub/audit/seal.h"

#include <openssl/evp.h>
#include <openssl/rand.h>

#include <memory>

#include "absl/strings/str_cat.h"

namespace accord::audit {
namespace {

constexpr size_t kNonceSize = 12;
constexpr size_t kTagSize = 16;
constexpr char kDomain[] = "accord.event.v1";

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using Ctx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

std::string Aad(absl::string_view subject_id) {
  std::string aad(kDomain, sizeof kDomain);  // with its 0x00
  aad.append(subject_id.data(), subject_id.size());
  return aad;
}

const unsigned char* U(absl::string_view s) { return reinterpret_cast<const unsigned char*>(s.data()); }

}  // namespace

absl::StatusOr<std::string> NewSubjectKey() {
  std::string key(kSubjectKeySize, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(key.data()), static_cast<int>(key.size())) != 1) {
    return absl::InternalError("no randomness for a subject key");
  }
  return key;
}

absl::StatusOr<std::string> SealDetails(absl::string_view key, absl::string_view subject_id,
                                        absl::string_view plaintext) {
  if (key.size() != kSubjectKeySize) return absl::InvalidArgumentError("subject key must be 32 bytes");
  std::string out(kNonceSize + plaintext.size() + kTagSize, '\0');
  auto* bytes = reinterpret_cast<unsigned char*>(out.data());
  if (RAND_bytes(bytes, kNonceSize) != 1) return absl::InternalError("no randomness for a nonce");
  Ctx ctx(EVP_CIPHER_CTX_new());
  std::string aad = Aad(subject_id);
  int len = 0;
  if (!ctx || EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), bytes) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), bytes + kNonceSize, &len, U(plaintext), static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), bytes + kNonceSize + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, bytes + kNonceSize + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM sealing failed");
  }
  return out;
}

absl::StatusOr<std::string> OpenDetails(absl::string_view key, absl::string_view subject_id,
                                        absl::string_view sealed) {
  if (key.size() != kSubjectKeySize) return absl::InvalidArgumentError("subject key must be 32 bytes");
  if (sealed.size() < kNonceSize + kTagSize) return absl::DataLossError("sealed details are truncated");
  size_t text_size = sealed.size() - kNonceSize - kTagSize;
  std::string out(text_size, '\0');
  Ctx ctx(EVP_CIPHER_CTX_new());
  std::string aad = Aad(subject_id);
  std::string tag(sealed.substr(kNonceSize + text_size));
  int len = 0;
  if (!ctx || EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, U(key), U(sealed)) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, U(aad), static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &len, U(sealed) + kNonceSize,
                        static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), reinterpret_cast<unsigned char*>(out.data()) + len, &len) != 1) {
    return absl::DataLossError("sealed details do not open: altered, or sealed for another subject or key");
  }
  return out;
}

}  // namespace accord::audit
