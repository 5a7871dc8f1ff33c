// Per-subject sealing of an event's personal details (AES-256-GCM), so destroying one subject's
// key erases its details everywhere while the log's hashes — which cover the sealed bytes — still
// verify (DESIGN.md invariant 9).
#ifndef ACCORD_HUB_AUDIT_SEAL_H_
#define ACCORD_HUB_AUDIT_SEAL_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace accord::audit {

inline constexpr size_t kSubjectKeySize = 32;

// 32 random bytes from OpenSSL's CSPRNG.
absl::StatusOr<std::string> NewSubjectKey();

// 12-byte random nonce ‖ ciphertext ‖ 16-byte tag; the additional data binds the sealed bytes to
// the subject ("accord.event.v1" 0x00 ‖ subject_id), so details cannot be moved to another child.
absl::StatusOr<std::string> SealDetails(absl::string_view key, absl::string_view subject_id,
                                        absl::string_view plaintext);

// The plaintext, or DATA_LOSS when the bytes were altered, belong to another subject or key.
absl::StatusOr<std::string> OpenDetails(absl::string_view key, absl::string_view subject_id,
                                        absl::string_view sealed);

}  // namespace accord::audit

#endif  // ACCORD_HUB_AUDIT_SEAL_H_
