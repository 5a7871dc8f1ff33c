// Signed tree heads: the log's checkpoints. A tree head commits to the whole sharing log up to
// `tree_size` events; the hub signs it with its Ed25519 log key so a DPO, or an offline
// verifier holding only the public key, can check inclusion and consistency proofs against it.
//
// Keys are OpenSSL 3 EVP_PKEY handles; signing is pure Ed25519 (RFC 8032, no pre-hash).
// Status codes follow merkle.h: INVALID_ARGUMENT for malformed input (bad PEM, wrong key type,
// a timestamp that is not a whole millisecond), DATA_LOSS when a signature does not verify.
#ifndef ACCORD_HUB_AUDIT_TREE_HEAD_H_
#define ACCORD_HUB_AUDIT_TREE_HEAD_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "hub/audit/merkle.h"

struct evp_pkey_st;  // OpenSSL's EVP_PKEY, kept out of this header.

namespace accord::audit {

inline constexpr std::size_t kEd25519KeySize = 32;        // raw public key or private seed
inline constexpr std::size_t kEd25519SignatureSize = 64;

// An Ed25519 public key. Cheap to copy (copies share one immutable OpenSSL key); every method
// is thread-safe. A moved-from key answers FAILED_PRECONDITION.
class VerifyingKey {
 public:
  // A "-----BEGIN PUBLIC KEY-----" (SubjectPublicKeyInfo) PEM holding an Ed25519 key.
  static absl::StatusOr<VerifyingKey> FromPem(std::string_view pem);
  // The 32-byte RFC 8032 public key.
  static absl::StatusOr<VerifyingKey> FromRaw(std::string_view raw);

  absl::StatusOr<std::string> ToPem() const;
  absl::StatusOr<std::string> Raw() const;
  // Lower-case hex SHA-256 of Raw(): a short, stable name for the key in logs and exports.
  absl::StatusOr<std::string> KeyId() const;

  // OK iff `signature` is this key's Ed25519 signature of `message`; DATA_LOSS otherwise
  // (including a signature of the wrong length).
  absl::Status Verify(std::string_view message, std::string_view signature) const;

 private:
  explicit VerifyingKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}
  friend class SigningKey;

  std::shared_ptr<evp_pkey_st> key_;
};

// An Ed25519 private key. Same copying and threading rules as VerifyingKey. The caller owns
// keeping the PEM secret (file permissions); it is written unencrypted.
class SigningKey {
 public:
  // A fresh key from OpenSSL's CSPRNG.
  static absl::StatusOr<SigningKey> Generate();
  // A "-----BEGIN PRIVATE KEY-----" (unencrypted PKCS#8) PEM holding an Ed25519 key. An
  // encrypted PEM is refused (INVALID_ARGUMENT), never prompted for.
  static absl::StatusOr<SigningKey> FromPem(std::string_view pem);
  // The 32-byte RFC 8032 private key (seed). For tests and known-answer checks.
  static absl::StatusOr<SigningKey> FromRawSeed(std::string_view seed);

  absl::StatusOr<std::string> ToPem() const;
  absl::StatusOr<VerifyingKey> PublicKey() const;

  // The 64-byte Ed25519 signature of `message` (deterministic for a given key and message).
  absl::StatusOr<std::string> Sign(std::string_view message) const;

 private:
  explicit SigningKey(std::shared_ptr<evp_pkey_st> key) : key_(std::move(key)) {}

  std::shared_ptr<evp_pkey_st> key_;
};

// The state of the log at one moment.
struct TreeHead {
  uint64_t tree_size = 0;
  Hash root_hash{};
  absl::Time timestamp = absl::UnixEpoch();  // whole milliseconds; see CanonicalBytes

  friend bool operator==(const TreeHead&, const TreeHead&) = default;
};

// The exact bytes that are signed, 74 bytes, all integers big-endian:
//
//   offset  size  field
//        0    26  "accord.audit.tree_head.v1" followed by one 0x00 byte (domain separation:
//                 these bytes can never be read as another message the hub's keys sign)
//       26     8  tree_size, unsigned
//       34     8  timestamp, signed two's complement, milliseconds since 1970-01-01T00:00:00Z
//       42    32  root_hash
//
// INVALID_ARGUMENT if the timestamp is not a whole number of milliseconds (or is infinite or
// beyond ±2^63 ms), so one tree head has exactly one encoding.
inline constexpr std::size_t kTreeHeadBytesSize = 74;
absl::StatusOr<std::string> TreeHeadBytes(const TreeHead& head);
// The inverse of TreeHeadBytes, e.g. to read a stored checkpoint. INVALID_ARGUMENT on the wrong
// length or a wrong prefix.
absl::StatusOr<TreeHead> ParseTreeHeadBytes(std::string_view bytes);

struct SignedTreeHead {
  TreeHead head;
  std::string signature;  // Ed25519 over TreeHeadBytes(head), kEd25519SignatureSize bytes

  friend bool operator==(const SignedTreeHead&, const SignedTreeHead&) = default;
};

// Signs `head` after truncating its timestamp to the millisecond (towards the past); the
// returned head carries the truncated time. Errors: INVALID_ARGUMENT for an unencodable
// timestamp, INTERNAL if OpenSSL fails.
absl::StatusOr<SignedTreeHead> SignTreeHead(TreeHead head, const SigningKey& key);

// OK iff `sth.signature` is `key`'s signature over TreeHeadBytes(sth.head). Any change to the
// size, the root, the timestamp or the signature, or a different key, gives DATA_LOSS.
absl::Status VerifyTreeHead(const SignedTreeHead& sth, const VerifyingKey& key);

}  // namespace accord::audit

#endif  // ACCORD_HUB_AUDIT_TREE_HEAD_H_
