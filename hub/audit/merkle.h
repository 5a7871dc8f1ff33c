// The sharing log's Merkle tree (RFC 6962 §2.1, restated in RFC 9162 §2.1): hashing, the
// append-side bookkeeping, proofs read from stored hashes, and proof verification.
//
// Storage model. The log never rehashes itself to answer a question. Every *perfect* subtree
// (2^level leaves starting at a multiple of 2^level) that is complete is stored once, keyed by
// (level, index): the node (level, index) is the hash of leaves [index·2^level, (index+1)·2^level).
// Level 0 holds the leaf hashes. Any RFC 6962 subtree, including the ragged right edge of a tree
// whose size is not a power of two, is the right-fold of at most 64 such perfect pieces, so the
// root of size n, an inclusion proof and a consistency proof each need O(log n) reads.
//
// Status codes used throughout this folder:
//   INVALID_ARGUMENT  the request itself is impossible (leaf index ≥ tree size, old size > new
//                     size, a level outside [0, 63], malformed hex);
//   DATA_LOSS         a proof, root or signature does not verify: the log or the proof was
//                     altered (invariant 5);
//   anything else     passed through unchanged from the HashStore (e.g. NOT_FOUND when the
//                     store holds fewer leaves than the tree size asked about).
#ifndef ACCORD_HUB_AUDIT_MERKLE_H_
#define ACCORD_HUB_AUDIT_MERKLE_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace accord::audit {

inline constexpr std::size_t kHashSize = 32;

// A SHA-256 value: a leaf hash, a node hash or a root.
using Hash = std::array<uint8_t, kHashSize>;

// Lower-case hex, 64 characters.
std::string HashToHex(const Hash& hash);
// Accepts exactly 64 hex digits of either case; anything else is INVALID_ARGUMENT.
absl::StatusOr<Hash> HashFromHex(std::string_view hex);
// The 32 raw bytes, e.g. for a BLOB column. The view is valid while `hash` lives.
std::string_view HashBytes(const Hash& hash);
// Exactly 32 raw bytes; anything else is INVALID_ARGUMENT.
absl::StatusOr<Hash> HashFromBytes(std::string_view bytes);

// RFC 6962 hashing. Pure and thread-safe. SHA-256 through OpenSSL cannot fail short of memory
// exhaustion; if OpenSSL reports a failure anyway the process aborts rather than return a
// wrong hash.
Hash HashLeaf(std::string_view leaf_bytes);              // SHA-256(0x00 ‖ leaf_bytes)
Hash HashChildren(const Hash& left, const Hash& right);  // SHA-256(0x01 ‖ left ‖ right)
Hash EmptyRoot();                                        // SHA-256(""), the root of size 0

// A perfect subtree: leaves [index·2^level, (index+1)·2^level). 0 ≤ level ≤ 63.
struct NodeId {
  int level = 0;
  uint64_t index = 0;

  friend bool operator==(const NodeId&, const NodeId&) = default;
};

// A perfect subtree and its hash, as the log persists it.
struct Node {
  int level = 0;
  uint64_t index = 0;
  Hash hash{};

  NodeId id() const { return {level, index}; }
  friend bool operator==(const Node&, const Node&) = default;
};

// Read access to the stored perfect-subtree hashes. The proof functions below call it from the
// calling thread only; whether one instance may serve several threads at once is up to each
// implementation and said in its header.
class HashStore {
 public:
  virtual ~HashStore();

  // The hash of node (level, index). NOT_FOUND if that subtree is not complete in the store
  // (the log is smaller than the caller believes); other errors are the store's own.
  virtual absl::StatusOr<Hash> Get(int level, uint64_t index) = 0;

  // The hashes of `ids`, in the same order; fails as a whole if any one fails. The default
  // calls Get once per id; a database-backed store should override it with one query, since
  // every proof below fetches all it needs through a single GetBatch call.
  virtual absl::StatusOr<std::vector<Hash>> GetBatch(absl::Span<const NodeId> ids);
};

// A HashStore in memory, for tests and for the offline verifier. Thread-safe: concurrent Gets
// with one writer are fine. About 64 bytes per leaf.
class MemoryHashStore final : public HashStore {
 public:
  MemoryHashStore() = default;
  MemoryHashStore(const MemoryHashStore&) = delete;
  MemoryHashStore& operator=(const MemoryHashStore&) = delete;

  // Stores a node. Each level is append-only and gap-free, which is the order TreeBuilder emits
  // nodes in: `index` must equal the number of nodes already at that level (FAILED_PRECONDITION
  // otherwise), except that storing an identical hash again is a no-op. A *different* hash for
  // an existing node is FAILED_PRECONDITION: the log never rewrites history.
  absl::Status Put(const Node& node);
  // Put for each node in order; stops at the first failure (earlier nodes stay stored).
  absl::Status PutAll(absl::Span<const Node> nodes);

  absl::StatusOr<Hash> Get(int level, uint64_t index) override;

  // Number of leaves (level-0 nodes) held.
  uint64_t LeafCount() const;

 private:
  mutable std::shared_mutex mu_;
  std::vector<std::vector<Hash>> levels_ ABSL_GUARDED_BY(mu_);  // levels_[level][index]
};

// The append side of the tree. Keeps the O(log n) "frontier" (the perfect subtrees that make up
// the current tree, one per set bit of the size) so appending never reads the store, and
// reports each node that becomes complete so the caller can persist it in the same transaction
// as the event it hashes (invariant 1).
//
// Not thread-safe: one writer owns it, as the log has one append sequence. Copyable (a copy is
// an independent builder at the same size), e.g. to roll back after a failed transaction.
class TreeBuilder {
 public:
  // An empty tree.
  TreeBuilder();

  // A builder that continues a stored tree of `size` leaves. Reads popcount(size) nodes (one
  // GetBatch). Store errors pass through.
  static absl::StatusOr<TreeBuilder> Resume(HashStore& store, uint64_t size);

  uint64_t size() const { return size_; }

  // Appends one leaf hash and appends to `*new_nodes` the nodes that became complete, in an
  // order MemoryHashStore::Put accepts: first (0, old size) for the leaf itself, then one node
  // per level it completes (1 + number of trailing one bits of the old size; at most 64).
  // The tree must hold fewer than 2^63 leaves.
  void Append(const Hash& leaf_hash, std::vector<Node>* new_nodes);

  // Appends many leaf hashes; returns all the nodes that became complete, in order.
  std::vector<Node> AppendBatch(absl::Span<const Hash> leaf_hashes);

  // The root hash of the current tree (EmptyRoot() when empty). No store reads.
  Hash Root() const;

 private:
  uint64_t size_ = 0;
  // frontier_[level] is meaningful when bit `level` of size_ is set: the hash of the perfect
  // subtree at that level ending where the lower pieces start.
  std::array<Hash, 64> frontier_{};
};

// ---- Proofs from stored hashes. Each issues exactly one GetBatch, of O(log n) node ids. ----

// The root hash of the first `tree_size` leaves: popcount(tree_size) reads (none for size 0).
absl::StatusOr<Hash> RootHash(HashStore& store, uint64_t tree_size);

// The RFC 9162 §2.1.3.1 inclusion path for leaf `leaf_index` in the tree of `tree_size` leaves,
// leaf-side first. At most 2·ceil(log2 tree_size) reads. INVALID_ARGUMENT when
// leaf_index ≥ tree_size.
absl::StatusOr<std::vector<Hash>> InclusionProof(HashStore& store, uint64_t leaf_index,
                                                 uint64_t tree_size);

// The RFC 9162 §2.1.4.1 consistency proof that the tree of `old_size` leaves is a prefix of the
// tree of `new_size` leaves. Empty when old_size is 0 or equals new_size. At most
// 2·ceil(log2 new_size) + 1 reads. INVALID_ARGUMENT when old_size > new_size.
absl::StatusOr<std::vector<Hash>> ConsistencyProof(HashStore& store, uint64_t old_size,
                                                   uint64_t new_size);

// ---- Verification: pure functions of their arguments, no store. Thread-safe. ----

// Recomputes the root from a leaf hash and its inclusion path (RFC 9162 §2.1.3.2).
// INVALID_ARGUMENT when leaf_index ≥ tree_size; DATA_LOSS when the path has the wrong length.
absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash, uint64_t leaf_index,
                                            uint64_t tree_size, absl::Span<const Hash> proof);

// OK iff `proof` shows that `leaf_hash` is leaf `leaf_index` of the tree of `tree_size` leaves
// whose root is `root`. DATA_LOSS when it does not; INVALID_ARGUMENT as above.
absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                             absl::Span<const Hash> proof, const Hash& root);

// OK iff `proof` shows that the tree (old_size, old_root) is a prefix of the tree (new_size,
// new_root) (RFC 9162 §2.1.4.2). Edge cases: old_size == new_size needs an empty proof and equal
// roots; old_size == 0 needs an empty proof and old_root == EmptyRoot(). DATA_LOSS when the
// proof does not verify; INVALID_ARGUMENT when old_size > new_size.
absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, absl::Span<const Hash> proof);

}  // namespace accord::audit

#endif  // ACCORD_HUB_AUDIT_MERKLE_H_
