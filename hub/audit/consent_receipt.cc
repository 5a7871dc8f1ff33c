#include "hub/audit/consent_receipt.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace accord::audit {
namespace {

constexpr char kDomain[] = "accord.consent_receipt.v1";

std::string SignedBytes(const std::string& payload) {
  std::string bytes(kDomain, sizeof kDomain);  // includes the terminating 0x00
  bytes += payload;
  return bytes;
}

std::string Deterministic(const google::protobuf::Message& message) {
  std::string out;
  google::protobuf::io::StringOutputStream stream(&out);
  google::protobuf::io::CodedOutputStream coded(&stream);
  coded.SetSerializationDeterministic(true);
  message.SerializeToCodedStream(&coded);
  coded.Trim();
  return out;
}

}  // namespace

absl::StatusOr<v1::ConsentReceipt> SignConsentReceipt(const v1::ConsentReceiptPayload& payload,
                                                      const SigningKey& key) {
  v1::ConsentReceipt receipt;
  receipt.set_payload(Deterministic(payload));
  absl::StatusOr<std::string> signature = key.Sign(SignedBytes(receipt.payload()));
  if (!signature.ok()) return signature.status();
  absl::StatusOr<VerifyingKey> pub = key.PublicKey();
  if (!pub.ok()) return pub.status();
  absl::StatusOr<std::string> key_id = pub->KeyId();
  if (!key_id.ok()) return key_id.status();
  receipt.set_signature(*signature);
  receipt.set_algorithm("Ed25519");
  receipt.set_key_id(*key_id);
  return receipt;
}

absl::StatusOr<v1::ConsentReceiptPayload> VerifyConsentReceipt(const v1::ConsentReceipt& receipt,
                                                               const VerifyingKey& key) {
  if (receipt.algorithm() != "Ed25519") {
    return absl::InvalidArgumentError(absl::StrCat("receipt algorithm \"", receipt.algorithm(), "\" is not Ed25519"));
  }
  absl::StatusOr<std::string> key_id = key.KeyId();
  if (!key_id.ok()) return key_id.status();
  if (receipt.key_id() != *key_id) {
    return absl::InvalidArgumentError(
        absl::StrCat("receipt was signed by key ", receipt.key_id(), ", not by this public key (", *key_id, ")"));
  }
  if (absl::Status s = key.Verify(SignedBytes(receipt.payload()), receipt.signature()); !s.ok()) {
    return absl::DataLossError("the receipt's signature does not verify: it was altered or not issued by this hub");
  }
  v1::ConsentReceiptPayload payload;
  if (!payload.ParseFromString(receipt.payload())) return absl::DataLossError("the receipt's payload does not parse");
  return payload;
}

}  // namespace accord::audit
