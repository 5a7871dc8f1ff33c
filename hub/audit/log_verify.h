// Offline verification of the sharing log (DESIGN.md invariants 5 and 9): given every stored
// event record in order and the signed tree heads that should cover them, says precisely what —
// if anything — was altered, removed, reordered or cut off, with nothing but the hub's public key.
// `accordctl audit verify` runs it over an export file or over a data directory.
//
// What is checked, and how each kind of tampering shows up:
//   * every record parses as an accord.v1.SharingEvent and its `sequence` equals its position:
//     a deleted or reordered event is named by position ("event at position 41 says sequence
//     42: an event is missing or out of order");
//   * the RFC 6962 root recomputed over HashLeaf(record) matches each tree head: an altered
//     record gives "root mismatch"; a truncated or extended log gives "the log holds N events
//     but <head> covers M";
//   * each tree head's Ed25519 signature verifies with the key: a replaced head (root, size,
//     time or signature) is caught even when its root was recomputed to match altered records;
//   * optionally, the stored perfect-subtree hashes (the store's log_nodes) equal the recomputed
//     ones, which localises an altered event to its position and catches a tampered node row.
//
// Pure: nothing here reads a file or a database. Records come from the caller; stored hashes
// are read through the HashStore interface the caller supplies.
#ifndef ACCORD_HUB_AUDIT_LOG_VERIFY_H_
#define ACCORD_HUB_AUDIT_LOG_VERIFY_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/types/span.h"
#include "accord/v1/audit.pb.h"
#include "hub/audit/merkle.h"
#include "hub/audit/tree_head.h"

namespace accord::audit {

// ---- The wire form of a tree head (accord.v1.SignedTreeHead) ----

// INVALID_ARGUMENT naming the field when root_hash is not 32 bytes or the time is out of range.
// The signature is taken as is (its length is judged by VerifyTreeHead). `key_id` is not
// needed to verify and is not part of the result.
absl::StatusOr<SignedTreeHead> TreeHeadFromProto(const v1::SignedTreeHead& proto);
// The wire form, naming the signing key by `key_id` (VerifyingKey::KeyId()).
v1::SignedTreeHead TreeHeadToProto(const SignedTreeHead& head, absl::string_view key_id);

// ---- Reports ----

// The outcome of one verification. Problems are complete sentences in the order found; each
// names positions, sizes or hashes so an operator can find the damage. One kind of damage is
// described once: the events shifted by one deleted event, or the ancestors of one altered
// leaf, are folded into the message of the first.
struct LogReport {
  uint64_t event_count = 0;  // records checked
  Hash root{};               // RFC 6962 root over every record checked
  uint64_t heads_verified = 0;   // tree heads whose size, root and signature all matched
  uint64_t nodes_compared = 0;   // stored subtree hashes compared (0 without a HashStore)
  std::vector<std::string> problems;  // empty iff the log verifies
  uint64_t problems_omitted = 0;      // found beyond Options::max_problems, not described

  bool intact() const { return problems.empty() && problems_omitted == 0; }
  // OK when intact; otherwise DATA_LOSS whose message is the first problem, followed by
  // "(and N more problems)" when there are others.
  absl::Status ToStatus() const;
};

// Which records a tree head must cover.
enum class HeadCoverage {
  // Exactly every record given: the head that came with an export.
  kWholeLog,
  // The first head.tree_size records, fewer than or as many as given: a head saved or kept
  // earlier (the log may only have grown since).
  kPrefix,
};

// ---- Streaming verification ----

// Verifies a log one record at a time, so a log of any size is checked in O(log n) memory
// (plus a bounded batch of nodes when comparing stored hashes).
//
// Usage: declare the heads, Add() every record in log order, then Finish() once.
// Not thread-safe; one verifier checks one log. It never fails as a whole: everything it finds,
// including a HashStore that cannot be read, becomes a problem in the report.
class LogVerifier {
 public:
  struct Options {
    // Stored perfect-subtree hashes to compare with the recomputed ones (e.g. the store's
    // LogHashes()); null to skip. Not owned; must outlive the verifier. Called from the
    // verifying thread only, in batches of at most kNodeBatch ids through GetBatch.
    HashStore* stored_nodes = nullptr;
    // Receives every recomputed node (MemoryHashStore::PutAll), so the caller can compute
    // inclusion and consistency proofs over exactly the records verified; null to skip. Not
    // owned; costs about 64 bytes per record.
    MemoryHashStore* recomputed_nodes = nullptr;
    // Problems beyond this many are counted in problems_omitted, not described.
    size_t max_problems = 20;
  };
  static constexpr size_t kNodeBatch = 4096;

  explicit LogVerifier(VerifyingKey key);
  LogVerifier(VerifyingKey key, Options options);
  ~LogVerifier();
  LogVerifier(const LogVerifier&) = delete;
  LogVerifier& operator=(const LogVerifier&) = delete;

  // Declares a tree head to check at Finish(). `label` names it in messages (e.g. "the
  // export's tree head"). A kPrefix head must be declared before more than head.tree_size
  // records have been added (its root is captured as the log passes that size):
  // FAILED_PRECONDITION otherwise, and nothing is declared. A kWholeLog head may be declared at
  // any time before Finish().
  absl::Status ExpectHead(const SignedTreeHead& head, HeadCoverage coverage, std::string label);

  // Checks and hashes the next record; its position is the number of records added before it.
  void Add(absl::string_view record);

  // Takes the next position for a record the caller could not obtain (e.g. the store refused
  // to read it), reporting `problem`. `stand_in` (normally the stored leaf hash for that
  // position) continues the tree so the remaining checks stay meaningful: if only this record
  // was damaged, `problem` is the only one reported.
  void AddUnreadable(const Hash& stand_in, std::string problem);

  // Records added so far, and the root over them (EmptyRoot() for none).
  uint64_t size() const;
  Hash Root() const;

  // Completes the checks (the last stored-hash batch, the heads, stored hashes beyond the last
  // record) and returns the report. Call once; the verifier is spent afterwards.
  LogReport Finish();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

// ---- One-shot forms ----

// Verifies `records` (the stored bytes, in log order) against `head`, which must cover exactly
// all of them, signed by `key`.
LogReport VerifyLog(absl::Span<const std::string> records, const SignedTreeHead& head, const VerifyingKey& key);

// Compares stored perfect-subtree hashes with `recomputed` (nodes as TreeBuilder emits them, in
// that order). Returns one sentence per distinct mismatch or missing node; empty when all
// match. A store error other than NOT_FOUND is reported as a problem too.
std::vector<std::string> CompareStoredNodes(HashStore& stored, absl::Span<const Node> recomputed);

}  // namespace accord::audit

#endif  // ACCORD_HUB_AUDIT_LOG_VERIFY_H_
