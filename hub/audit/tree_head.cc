#include "hub/audit/tree_head.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include <climits>
#include <utility>

#include "absl/strings/str_cat.h"

namespace accord::audit {
namespace {

constexpr std::string_view kTreeHeadPrefix("accord.audit.tree_head.v1\0", 26);
static_assert(kTreeHeadPrefix.size() + 8 + 8 + kHashSize == kTreeHeadBytesSize);

struct BioFree {
  void operator()(BIO* bio) const { BIO_free(bio); }
};
struct MdCtxFree {
  void operator()(EVP_MD_CTX* ctx) const { EVP_MD_CTX_free(ctx); }
};
struct PkeyCtxFree {
  void operator()(EVP_PKEY_CTX* ctx) const { EVP_PKEY_CTX_free(ctx); }
};
using BioPtr = std::unique_ptr<BIO, BioFree>;
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using PkeyCtxPtr = std::unique_ptr<EVP_PKEY_CTX, PkeyCtxFree>;

std::shared_ptr<EVP_PKEY> Own(EVP_PKEY* key) {
  return std::shared_ptr<EVP_PKEY>(key, EVP_PKEY_free);
}

// Drains this thread's OpenSSL error queue into a status, so no stale error leaks into the next
// OpenSSL call made on the thread.
absl::Status OpenSslError(absl::StatusCode code, std::string_view what) {
  std::string message(what);
  while (unsigned long err = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(err, buf, sizeof(buf));
    absl::StrAppend(&message, ": ", buf);
  }
  return absl::Status(code, message);
}

absl::Status MovedFrom() { return absl::FailedPreconditionError("key has been moved from"); }

// The OpenSSL password callback: never prompt, so an encrypted PEM fails to load.
int NoPassword(char*, int, int, void*) { return -1; }

absl::StatusOr<BioPtr> ReadBio(std::string_view data) {
  if (data.size() > static_cast<size_t>(INT_MAX)) {
    return absl::InvalidArgumentError("PEM is too large");
  }
  BioPtr bio(BIO_new_mem_buf(data.data(), static_cast<int>(data.size())));
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new_mem_buf");
  return bio;
}

absl::StatusOr<std::string> WritePem(EVP_PKEY* key, bool private_key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new");
  const int ok = private_key
                     ? PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr,
                                                nullptr)
                     : PEM_write_bio_PUBKEY(bio.get(), key);
  if (ok != 1) return OpenSslError(absl::StatusCode::kInternal, "writing PEM");
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio.get(), &data);
  if (len <= 0 || data == nullptr) return absl::InternalError("writing PEM: empty output");
  return std::string(data, static_cast<size_t>(len));
}

absl::Status RequireEd25519(EVP_PKEY* key) {
  if (EVP_PKEY_get_base_id(key) != EVP_PKEY_ED25519) {
    return absl::InvalidArgumentError("key is not an Ed25519 key");
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> RawPublic(EVP_PKEY* key) {
  std::string raw(kEd25519KeySize, '\0');
  size_t len = raw.size();
  if (EVP_PKEY_get_raw_public_key(key, reinterpret_cast<unsigned char*>(raw.data()), &len) != 1 ||
      len != kEd25519KeySize) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_PKEY_get_raw_public_key");
  }
  return raw;
}

void PutBigEndian(uint64_t value, std::string* out) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>(value >> shift));
}

uint64_t GetBigEndian(std::string_view bytes) {
  uint64_t value = 0;
  for (size_t i = 0; i < 8; ++i) value = value << 8 | static_cast<uint8_t>(bytes[i]);
  return value;
}

}  // namespace

// ---- VerifyingKey ----

absl::StatusOr<VerifyingKey> VerifyingKey::FromPem(std::string_view pem) {
  absl::StatusOr<BioPtr> bio = ReadBio(pem);
  if (!bio.ok()) return bio.status();
  EVP_PKEY* raw = PEM_read_bio_PUBKEY(bio->get(), nullptr, NoPassword, nullptr);
  if (raw == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not a PEM public key");
  }
  std::shared_ptr<EVP_PKEY> key = Own(raw);
  if (absl::Status s = RequireEd25519(key.get()); !s.ok()) return s;
  return VerifyingKey(std::move(key));
}

absl::StatusOr<VerifyingKey> VerifyingKey::FromRaw(std::string_view raw) {
  if (raw.size() != kEd25519KeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 public key: want 32 bytes, got ", raw.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_public_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not an Ed25519 public key");
  }
  return VerifyingKey(Own(key));
}

absl::StatusOr<std::string> VerifyingKey::ToPem() const {
  if (key_ == nullptr) return MovedFrom();
  return WritePem(key_.get(), /*private_key=*/false);
}

absl::StatusOr<std::string> VerifyingKey::Raw() const {
  if (key_ == nullptr) return MovedFrom();
  return RawPublic(key_.get());
}

absl::StatusOr<std::string> VerifyingKey::KeyId() const {
  absl::StatusOr<std::string> raw = Raw();
  if (!raw.ok()) return raw.status();
  Hash digest;
  unsigned int len = 0;
  if (EVP_Digest(raw->data(), raw->size(), digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != kHashSize) {
    return OpenSslError(absl::StatusCode::kInternal, "SHA-256");
  }
  return HashToHex(digest);
}

absl::Status VerifyingKey::Verify(std::string_view message, std::string_view signature) const {
  if (key_ == nullptr) return MovedFrom();
  if (signature.size() != kEd25519SignatureSize) {
    return absl::DataLossError(
        absl::StrCat("signature: want 64 bytes, got ", signature.size()));
  }
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return OpenSslError(absl::StatusCode::kInternal, "EVP_MD_CTX_new");
  if (EVP_DigestVerifyInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_DigestVerifyInit");
  }
  const int ok = EVP_DigestVerify(
      ctx.get(), reinterpret_cast<const unsigned char*>(signature.data()), signature.size(),
      reinterpret_cast<const unsigned char*>(message.data()), message.size());
  if (ok != 1) {
    ERR_clear_error();
    return absl::DataLossError("signature does not verify");
  }
  return absl::OkStatus();
}

// ---- SigningKey ----

absl::StatusOr<SigningKey> SigningKey::Generate() {
  PkeyCtxPtr ctx(EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, nullptr));
  if (ctx == nullptr) return OpenSslError(absl::StatusCode::kInternal, "EVP_PKEY_CTX_new_id");
  EVP_PKEY* key = nullptr;
  if (EVP_PKEY_keygen_init(ctx.get()) != 1 || EVP_PKEY_keygen(ctx.get(), &key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "Ed25519 key generation");
  }
  return SigningKey(Own(key));
}

absl::StatusOr<SigningKey> SigningKey::FromPem(std::string_view pem) {
  absl::StatusOr<BioPtr> bio = ReadBio(pem);
  if (!bio.ok()) return bio.status();
  EVP_PKEY* raw = PEM_read_bio_PrivateKey(bio->get(), nullptr, NoPassword, nullptr);
  if (raw == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "not an unencrypted PEM private key");
  }
  std::shared_ptr<EVP_PKEY> key = Own(raw);
  if (absl::Status s = RequireEd25519(key.get()); !s.ok()) return s;
  return SigningKey(std::move(key));
}

absl::StatusOr<SigningKey> SigningKey::FromRawSeed(std::string_view seed) {
  if (seed.size() != kEd25519KeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("Ed25519 private key: want 32 bytes, got ", seed.size()));
  }
  EVP_PKEY* key = EVP_PKEY_new_raw_private_key(
      EVP_PKEY_ED25519, nullptr, reinterpret_cast<const unsigned char*>(seed.data()), seed.size());
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "not an Ed25519 private key");
  }
  return SigningKey(Own(key));
}

absl::StatusOr<std::string> SigningKey::ToPem() const {
  if (key_ == nullptr) return MovedFrom();
  return WritePem(key_.get(), /*private_key=*/true);
}

absl::StatusOr<VerifyingKey> SigningKey::PublicKey() const {
  if (key_ == nullptr) return MovedFrom();
  absl::StatusOr<std::string> raw = RawPublic(key_.get());
  if (!raw.ok()) return raw.status();
  return VerifyingKey::FromRaw(*raw);
}

absl::StatusOr<std::string> SigningKey::Sign(std::string_view message) const {
  if (key_ == nullptr) return MovedFrom();
  MdCtxPtr ctx(EVP_MD_CTX_new());
  if (ctx == nullptr) return OpenSslError(absl::StatusCode::kInternal, "EVP_MD_CTX_new");
  // Ed25519 hashes internally: the digest argument must be NULL and the message passed whole.
  if (EVP_DigestSignInit(ctx.get(), nullptr, nullptr, nullptr, key_.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_DigestSignInit");
  }
  std::string signature(kEd25519SignatureSize, '\0');
  size_t len = signature.size();
  if (EVP_DigestSign(ctx.get(), reinterpret_cast<unsigned char*>(signature.data()), &len,
                     reinterpret_cast<const unsigned char*>(message.data()),
                     message.size()) != 1 ||
      len != kEd25519SignatureSize) {
    return OpenSslError(absl::StatusCode::kInternal, "EVP_DigestSign");
  }
  return signature;
}

// ---- Tree heads ----

absl::StatusOr<std::string> TreeHeadBytes(const TreeHead& head) {
  const int64_t millis = absl::ToUnixMillis(head.timestamp);
  if (absl::FromUnixMillis(millis) != head.timestamp) {
    return absl::InvalidArgumentError(
        "tree head timestamp: not a whole number of milliseconds within ±2^63 ms of the epoch");
  }
  std::string out;
  out.reserve(kTreeHeadBytesSize);
  out.append(kTreeHeadPrefix);
  PutBigEndian(head.tree_size, &out);
  PutBigEndian(static_cast<uint64_t>(millis), &out);
  out.append(HashBytes(head.root_hash));
  return out;
}

absl::StatusOr<TreeHead> ParseTreeHeadBytes(std::string_view bytes) {
  if (bytes.size() != kTreeHeadBytesSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("tree head: want 74 bytes, got ", bytes.size()));
  }
  if (bytes.substr(0, kTreeHeadPrefix.size()) != kTreeHeadPrefix) {
    return absl::InvalidArgumentError("tree head: unknown format prefix");
  }
  bytes.remove_prefix(kTreeHeadPrefix.size());
  TreeHead head;
  head.tree_size = GetBigEndian(bytes.substr(0, 8));
  head.timestamp = absl::FromUnixMillis(static_cast<int64_t>(GetBigEndian(bytes.substr(8, 8))));
  absl::StatusOr<Hash> root = HashFromBytes(bytes.substr(16));
  if (!root.ok()) return root.status();
  head.root_hash = *root;
  return head;
}

absl::StatusOr<SignedTreeHead> SignTreeHead(TreeHead head, const SigningKey& key) {
  if (head.timestamp < absl::FromUnixMillis(INT64_MIN) ||
      head.timestamp >= absl::FromUnixMillis(INT64_MAX) + absl::Milliseconds(1)) {
    return absl::InvalidArgumentError("tree head timestamp: beyond ±2^63 ms of the epoch");
  }
  head.timestamp = absl::FromUnixMillis(absl::ToUnixMillis(head.timestamp));
  absl::StatusOr<std::string> bytes = TreeHeadBytes(head);
  if (!bytes.ok()) return bytes.status();
  absl::StatusOr<std::string> signature = key.Sign(*bytes);
  if (!signature.ok()) return signature.status();
  return SignedTreeHead{head, *std::move(signature)};
}

absl::Status VerifyTreeHead(const SignedTreeHead& sth, const VerifyingKey& key) {
  absl::StatusOr<std::string> bytes = TreeHeadBytes(sth.head);
  if (!bytes.ok()) {
    // A head that has no canonical encoding cannot be the one that was signed.
    return absl::DataLossError(bytes.status().message());
  }
  return key.Verify(*bytes, sth.signature);
}

}  // namespace accord::audit
