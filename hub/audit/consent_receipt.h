// Consent receipts: what the hub signs when a consent is recorded, so the family or a partner can
// later prove what was agreed, with nothing but the hub's public key.
#ifndef ACCORD_HUB_AUDIT_CONSENT_RECEIPT_H_
#define ACCORD_HUB_AUDIT_CONSENT_RECEIPT_H_

#include "absl/status/statusor.h"
#include "accord/v1/consent.pb.h"
#include "hub/audit/tree_head.h"

namespace accord::audit {

// Signs `payload` (serialized deterministically) with the hub's key. The signature covers
// "accord.consent_receipt.v1" 0x00 ‖ payload, so it can never be mistaken for a tree head.
absl::StatusOr<v1::ConsentReceipt> SignConsentReceipt(const v1::ConsentReceiptPayload& payload,
                                                      const SigningKey& key);

// Checks the receipt's algorithm, key id and signature against `key` and returns what it says.
// DATA_LOSS when the signature does not verify or the payload does not parse;
// INVALID_ARGUMENT when the receipt names another key or algorithm.
absl::StatusOr<v1::ConsentReceiptPayload> VerifyConsentReceipt(const v1::ConsentReceipt& receipt,
                                                               const VerifyingKey& key);

}  // namespace accord::audit

#endif  // ACCORD_HUB_AUDIT_CONSENT_RECEIPT_H_
