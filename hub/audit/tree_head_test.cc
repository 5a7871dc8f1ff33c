#include "hub/audit/tree_head.h"

#include <openssl/evp.h>
#include <openssl/pem.h>

#include <string>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace accord::audit {
namespace {

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::string Hex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (unsigned char c : bytes) {
    out.push_back(kDigits[c >> 4]);
    out.push_back(kDigits[c & 0xf]);
  }
  return out;
}

// The root of the Certificate Transparency reference tree of 8 leaves (see merkle_test.cc).
Hash ReferenceRoot() {
  return HashFromHex("5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328").value();
}

TreeHead SampleHead() {
  TreeHead head;
  head.tree_size = 8;
  head.root_hash = ReferenceRoot();
  head.timestamp = absl::FromUnixMillis(1700000000123);
  return head;
}

// ---- Keys ------------------------------------------------------------------------------------

// RFC 8032 §7.1, TEST 1 and TEST 2.
TEST(Ed25519Test, MatchesRfc8032Vectors) {
  struct Vector {
    std::string_view seed, public_key, message, signature;
  };
  const Vector vectors[] = {
      {"9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
       "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a", "",
       "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e"
       "39701cf9b46bd25bf5f0595bbe24655141438e7a100b"},
      {"4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
       "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c", "72",
       "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f"
       "3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00"},
  };
  for (const Vector& v : vectors) {
    SCOPED_TRACE(v.public_key);
    absl::StatusOr<SigningKey> key = SigningKey::FromRawSeed(Unhex(v.seed));
    ASSERT_TRUE(key.ok()) << key.status();
    absl::StatusOr<VerifyingKey> public_key = key->PublicKey();
    ASSERT_TRUE(public_key.ok()) << public_key.status();
    EXPECT_EQ(Hex(public_key->Raw().value()), v.public_key);
    absl::StatusOr<std::string> signature = key->Sign(Unhex(v.message));
    ASSERT_TRUE(signature.ok()) << signature.status();
    EXPECT_EQ(Hex(*signature), v.signature);
    absl::StatusOr<VerifyingKey> from_raw = VerifyingKey::FromRaw(Unhex(v.public_key));
    ASSERT_TRUE(from_raw.ok()) << from_raw.status();
    EXPECT_TRUE(from_raw->Verify(Unhex(v.message), Unhex(v.signature)).ok());
    EXPECT_EQ(from_raw->Verify("something else", Unhex(v.signature)).code(),
              absl::StatusCode::kDataLoss);
  }
}

TEST(Ed25519Test, RawKeyLengthsAreChecked) {
  EXPECT_EQ(SigningKey::FromRawSeed("short").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyingKey::FromRaw(std::string(33, 'x')).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(Ed25519Test, GeneratedKeysAreDistinctAndSign) {
  SigningKey a = SigningKey::Generate().value();
  SigningKey b = SigningKey::Generate().value();
  VerifyingKey pa = a.PublicKey().value();
  VerifyingKey pb = b.PublicKey().value();
  EXPECT_NE(pa.Raw().value(), pb.Raw().value());
  const std::string signature = a.Sign("hello").value();
  EXPECT_EQ(signature.size(), kEd25519SignatureSize);
  EXPECT_EQ(a.Sign("hello").value(), signature);  // Ed25519 is deterministic
  EXPECT_TRUE(pa.Verify("hello", signature).ok());
  EXPECT_EQ(pb.Verify("hello", signature).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(pa.Verify("hello", signature.substr(1)).code(), absl::StatusCode::kDataLoss);
}

TEST(Ed25519Test, PemRoundTrips) {
  SigningKey key = SigningKey::Generate().value();
  const std::string private_pem = key.ToPem().value();
  EXPECT_EQ(private_pem.rfind("-----BEGIN PRIVATE KEY-----", 0), 0u) << private_pem;
  SigningKey reloaded = SigningKey::FromPem(private_pem).value();
  EXPECT_EQ(reloaded.PublicKey()->Raw().value(), key.PublicKey()->Raw().value());
  EXPECT_EQ(reloaded.Sign("m").value(), key.Sign("m").value());

  const std::string public_pem = key.PublicKey()->ToPem().value();
  EXPECT_EQ(public_pem.rfind("-----BEGIN PUBLIC KEY-----", 0), 0u) << public_pem;
  VerifyingKey public_key = VerifyingKey::FromPem(public_pem).value();
  EXPECT_TRUE(public_key.Verify("m", key.Sign("m").value()).ok());
  EXPECT_EQ(public_key.KeyId().value(), key.PublicKey()->KeyId().value());
  EXPECT_EQ(public_key.KeyId()->size(), 64u);
}

std::string PemOf(EVP_PKEY* key, const EVP_CIPHER* cipher = nullptr) {
  BIO* bio = BIO_new(BIO_s_mem());
  static const char kPass[] = "secret";
  PEM_write_bio_PrivateKey(bio, key, cipher,
                           cipher ? reinterpret_cast<const unsigned char*>(kPass) : nullptr,
                           cipher ? 6 : 0, nullptr, nullptr);
  char* data = nullptr;
  const long len = BIO_get_mem_data(bio, &data);
  std::string out(data, static_cast<size_t>(len));
  BIO_free(bio);
  return out;
}

TEST(Ed25519Test, RefusesWrongOrUnreadablePem) {
  SigningKey key = SigningKey::Generate().value();
  const std::string private_pem = key.ToPem().value();
  const std::string public_pem = key.PublicKey()->ToPem().value();

  EXPECT_EQ(SigningKey::FromPem("not a pem").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyingKey::FromPem("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SigningKey::FromPem(public_pem).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyingKey::FromPem(private_pem).status().code(),
            absl::StatusCode::kInvalidArgument);

  // An EC key is a valid PEM but not an Ed25519 key.
  EVP_PKEY* ec = EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256");
  ASSERT_NE(ec, nullptr);
  const std::string ec_pem = PemOf(ec);
  EVP_PKEY_free(ec);
  absl::StatusOr<SigningKey> from_ec = SigningKey::FromPem(ec_pem);
  EXPECT_EQ(from_ec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(from_ec.status().message().find("Ed25519"), std::string::npos);

  // An encrypted key is refused, never prompted for.
  EVP_PKEY* ed = EVP_PKEY_Q_keygen(nullptr, nullptr, "ED25519");
  ASSERT_NE(ed, nullptr);
  const std::string encrypted = PemOf(ed, EVP_aes_256_cbc());
  EVP_PKEY_free(ed);
  EXPECT_NE(encrypted.find("ENCRYPTED"), std::string::npos);
  EXPECT_EQ(SigningKey::FromPem(encrypted).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(Ed25519Test, MovedFromKeyFailsCleanly) {
  SigningKey key = SigningKey::Generate().value();
  SigningKey taken = std::move(key);
  // NOLINTNEXTLINE(bugprone-use-after-move): the contract for a moved-from key is under test.
  EXPECT_EQ(key.Sign("m").status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(taken.Sign("m").ok());
}

TEST(Ed25519Test, OneKeySignsFromManyThreads) {
  const SigningKey key = SigningKey::Generate().value();
  const VerifyingKey public_key = key.PublicKey().value();
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 50; ++i) {
        const std::string message = std::to_string(t * 1000 + i);
        absl::StatusOr<std::string> signature = key.Sign(message);
        if (!signature.ok() || !public_key.Verify(message, *signature).ok()) ++failures[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// ---- Tree heads ------------------------------------------------------------------------------

TEST(TreeHeadTest, CanonicalBytesHaveTheDocumentedLayout) {
  TreeHead head = SampleHead();
  head.tree_size = 0x0102030405060708;
  absl::StatusOr<std::string> bytes = TreeHeadBytes(head);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  ASSERT_EQ(bytes->size(), kTreeHeadBytesSize);
  EXPECT_EQ(Hex(*bytes),
            "6163636f72642e61756469742e747265655f686561642e763100"  // "accord.audit.tree_head.v1\0"
            "0102030405060708"                                      // tree_size
            "0000018bcfe5687b"                                      // 1700000000123 ms
            "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328");  // root
}

TEST(TreeHeadTest, BytesRoundTrip) {
  for (int64_t millis : {int64_t{0}, int64_t{-1}, int64_t{1700000000123}, INT64_MIN, INT64_MAX}) {
    TreeHead head = SampleHead();
    head.timestamp = absl::FromUnixMillis(millis);
    absl::StatusOr<std::string> bytes = TreeHeadBytes(head);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    absl::StatusOr<TreeHead> parsed = ParseTreeHeadBytes(*bytes);
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, head) << millis;
  }
  std::string bytes = TreeHeadBytes(SampleHead()).value();
  EXPECT_EQ(ParseTreeHeadBytes(bytes.substr(1)).status().code(),
            absl::StatusCode::kInvalidArgument);
  bytes[0] = 'A';
  EXPECT_EQ(ParseTreeHeadBytes(bytes).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TreeHeadTest, TimestampsMustBeWholeMilliseconds) {
  TreeHead head = SampleHead();
  head.timestamp += absl::Microseconds(1);
  EXPECT_EQ(TreeHeadBytes(head).status().code(), absl::StatusCode::kInvalidArgument);
  head.timestamp = absl::InfiniteFuture();
  EXPECT_EQ(TreeHeadBytes(head).status().code(), absl::StatusCode::kInvalidArgument);

  const SigningKey key = SigningKey::Generate().value();
  EXPECT_EQ(SignTreeHead(head, key).status().code(), absl::StatusCode::kInvalidArgument);
  head.timestamp = absl::InfinitePast();
  EXPECT_EQ(SignTreeHead(head, key).status().code(), absl::StatusCode::kInvalidArgument);

  // Signing truncates towards the past and reports the time it signed.
  head.timestamp = absl::FromUnixMillis(1700000000123) + absl::Microseconds(999);
  SignedTreeHead sth = SignTreeHead(head, key).value();
  EXPECT_EQ(sth.head.timestamp, absl::FromUnixMillis(1700000000123));
  head.timestamp = absl::FromUnixMillis(-5) + absl::Microseconds(1);
  EXPECT_EQ(SignTreeHead(head, key)->head.timestamp, absl::FromUnixMillis(-5));
}

TEST(TreeHeadTest, SignsAndVerifies) {
  const SigningKey key = SigningKey::Generate().value();
  const VerifyingKey public_key = key.PublicKey().value();
  absl::StatusOr<SignedTreeHead> sth = SignTreeHead(SampleHead(), key);
  ASSERT_TRUE(sth.ok()) << sth.status();
  EXPECT_EQ(sth->head, SampleHead());
  EXPECT_EQ(sth->signature.size(), kEd25519SignatureSize);
  EXPECT_TRUE(VerifyTreeHead(*sth, public_key).ok());
  // The signature is over exactly the documented bytes.
  EXPECT_TRUE(public_key.Verify(TreeHeadBytes(SampleHead()).value(), sth->signature).ok());
  // A public key that travelled as PEM still verifies.
  EXPECT_TRUE(
      VerifyTreeHead(*sth, VerifyingKey::FromPem(public_key.ToPem().value()).value()).ok());
  // The empty log has a signable head too.
  TreeHead empty;
  empty.root_hash = EmptyRoot();
  EXPECT_TRUE(VerifyTreeHead(SignTreeHead(empty, key).value(), public_key).ok());
}

TEST(TreeHeadTest, AnyAlterationFailsVerification) {
  const SigningKey key = SigningKey::Generate().value();
  const VerifyingKey public_key = key.PublicKey().value();
  const SignedTreeHead good = SignTreeHead(SampleHead(), key).value();
  auto fails = [&](const SignedTreeHead& sth, const VerifyingKey& k) {
    return VerifyTreeHead(sth, k).code() == absl::StatusCode::kDataLoss;
  };

  EXPECT_TRUE(fails(good, SigningKey::Generate()->PublicKey().value())) << "wrong key";

  SignedTreeHead sth = good;
  sth.head.tree_size += 1;
  EXPECT_TRUE(fails(sth, public_key)) << "size + 1";
  sth = good;
  sth.head.tree_size -= 1;
  EXPECT_TRUE(fails(sth, public_key)) << "size - 1";
  sth = good;
  sth.head.tree_size |= uint64_t{1} << 63;
  EXPECT_TRUE(fails(sth, public_key)) << "size high bit";

  for (size_t byte = 0; byte < kHashSize; byte += 7) {
    sth = good;
    sth.head.root_hash[byte] ^= 0x01;
    EXPECT_TRUE(fails(sth, public_key)) << "root byte " << byte;
  }
  sth = good;
  sth.head.root_hash = EmptyRoot();
  EXPECT_TRUE(fails(sth, public_key)) << "other root";

  for (absl::Duration shift : {absl::Milliseconds(1), absl::Milliseconds(-1), absl::Seconds(1),
                               absl::Hours(24 * 365), absl::Microseconds(1)}) {
    sth = good;
    sth.head.timestamp += shift;
    EXPECT_TRUE(fails(sth, public_key)) << "time shifted by " << shift;
  }
  sth = good;
  sth.head.timestamp = absl::InfiniteFuture();
  EXPECT_TRUE(fails(sth, public_key)) << "infinite time";

  for (size_t byte = 0; byte < kEd25519SignatureSize; byte += 9) {
    sth = good;
    sth.signature[byte] = static_cast<char>(sth.signature[byte] ^ 0x20);
    EXPECT_TRUE(fails(sth, public_key)) << "signature byte " << byte;
  }
  sth = good;
  sth.signature.pop_back();
  EXPECT_TRUE(fails(sth, public_key)) << "truncated signature";
  sth = good;
  sth.signature.clear();
  EXPECT_TRUE(fails(sth, public_key)) << "no signature";
}

// The offline verifier's path: a signed head, then an inclusion proof checked against it.
TEST(TreeHeadTest, SignedRootAnchorsProofs) {
  MemoryHashStore store;
  TreeBuilder builder;
  std::vector<Hash> leaves;
  for (int i = 0; i < 21; ++i) leaves.push_back(HashLeaf("event " + std::to_string(i)));
  ASSERT_TRUE(store.PutAll(builder.AppendBatch(leaves)).ok());

  const SigningKey key = SigningKey::Generate().value();
  TreeHead head{.tree_size = builder.size(), .root_hash = builder.Root(),
                .timestamp = absl::FromUnixMillis(1700000000000)};
  const SignedTreeHead sth = SignTreeHead(head, key).value();
  const VerifyingKey public_key = VerifyingKey::FromPem(key.PublicKey()->ToPem().value()).value();

  ASSERT_TRUE(VerifyTreeHead(sth, public_key).ok());
  for (uint64_t i = 0; i < leaves.size(); ++i) {
    const std::vector<Hash> proof = InclusionProof(store, i, sth.head.tree_size).value();
    EXPECT_TRUE(
        VerifyInclusion(leaves[i], i, sth.head.tree_size, proof, sth.head.root_hash).ok());
  }
}

}  // namespace
}  // namespace accord::audit
