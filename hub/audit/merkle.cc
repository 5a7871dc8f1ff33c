#include "hub/audit/merkle.h"

#include <openssl/evp.h>

#include <algorithm>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace accord::audit {
namespace {

constexpr int kMaxLevel = 63;
constexpr uint8_t kLeafPrefix = 0x00;
constexpr uint8_t kNodePrefix = 0x01;

[[noreturn]] void DieOpenSsl(const char* what) {
  std::fprintf(stderr, "accord::audit: OpenSSL failed in %s\n", what);
  std::abort();
}

// SHA-256 fetched once (an explicit fetch avoids a provider lookup on every hash).
const EVP_MD* Sha256Md() {
  static const EVP_MD* const md = [] {
    EVP_MD* fetched = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (fetched == nullptr) DieOpenSsl("EVP_MD_fetch(SHA256)");
    return fetched;
  }();
  return md;
}

// One reusable digest context per thread: hashing is the hot path of appends.
EVP_MD_CTX* ThreadDigestContext() {
  thread_local const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(
      EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (ctx == nullptr) DieOpenSsl("EVP_MD_CTX_new");
  return ctx.get();
}

Hash Sha256(uint8_t prefix, std::string_view a, std::string_view b = {}) {
  EVP_MD_CTX* ctx = ThreadDigestContext();
  Hash out;
  unsigned int len = 0;
  if (EVP_DigestInit_ex2(ctx, Sha256Md(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx, &prefix, 1) != 1 ||
      (!a.empty() && EVP_DigestUpdate(ctx, a.data(), a.size()) != 1) ||
      (!b.empty() && EVP_DigestUpdate(ctx, b.data(), b.size()) != 1) ||
      EVP_DigestFinal_ex(ctx, out.data(), &len) != 1 || len != kHashSize) {
    DieOpenSsl("SHA-256");
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Largest power of two strictly below n; n ≥ 2.
uint64_t SplitPoint(uint64_t n) { return uint64_t{1} << (std::bit_width(n - 1) - 1); }

// A RFC 6962 subtree of the log: leaves [begin, end), begin < end. Every subtree that occurs in
// a proof starts at a multiple of the power of two at or above its size, which is what makes
// the decomposition below produce the RFC's own shape.
struct Range {
  uint64_t begin;
  uint64_t end;
};

// Appends to `ids` the perfect pieces of `range`, left to right: largest first, each as large
// as both the remaining length and the alignment of its start allow.
void AppendPieces(Range range, std::vector<NodeId>* ids) {
  uint64_t at = range.begin;
  while (at < range.end) {
    int level = std::bit_width(range.end - at) - 1;
    if (at != 0) level = std::min(level, std::countr_zero(at));
    ids->push_back({level, at >> level});
    at += uint64_t{1} << level;
  }
}

// Hashes each range from its pieces with one GetBatch. MTH(D[begin:end]) for a subtree whose
// pieces are p1 > p2 > … > pk is HashChildren(p1, HashChildren(p2, … pk)): RFC 6962 splits at
// the largest power of two below the size, which is exactly the first piece.
absl::StatusOr<std::vector<Hash>> HashRanges(HashStore& store, absl::Span<const Range> ranges) {
  std::vector<NodeId> ids;
  std::vector<size_t> ends;  // ids[ends[i-1]..ends[i]) are the pieces of ranges[i]
  ends.reserve(ranges.size());
  for (const Range& range : ranges) {
    AppendPieces(range, &ids);
    ends.push_back(ids.size());
  }
  if (ids.empty()) return std::vector<Hash>{};
  absl::StatusOr<std::vector<Hash>> pieces = store.GetBatch(ids);
  if (!pieces.ok()) return pieces.status();
  if (pieces->size() != ids.size()) {
    return absl::InternalError(absl::StrCat("HashStore::GetBatch returned ", pieces->size(),
                                            " hashes for ", ids.size(), " ids"));
  }
  std::vector<Hash> out;
  out.reserve(ranges.size());
  size_t first = 0;
  for (size_t end : ends) {
    Hash acc = (*pieces)[end - 1];
    for (size_t i = end - 1; i > first; --i) acc = HashChildren((*pieces)[i - 1], acc);
    out.push_back(acc);
    first = end;
  }
  return out;
}

absl::Status ProofMismatch(absl::string_view what) {
  return absl::DataLossError(what);
}

}  // namespace

std::string HashToHex(const Hash& hash) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out(2 * kHashSize, '0');
  for (size_t i = 0; i < kHashSize; ++i) {
    out[2 * i] = kDigits[hash[i] >> 4];
    out[2 * i + 1] = kDigits[hash[i] & 0xf];
  }
  return out;
}

absl::StatusOr<Hash> HashFromHex(std::string_view hex) {
  if (hex.size() != 2 * kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("hash: want 64 hex digits, got ", hex.size(), " characters"));
  }
  Hash out;
  for (size_t i = 0; i < kHashSize; ++i) {
    const int hi = HexDigit(hex[2 * i]);
    const int lo = HexDigit(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return absl::InvalidArgumentError("hash: not a hex string");
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return out;
}

std::string_view HashBytes(const Hash& hash) {
  return {reinterpret_cast<const char*>(hash.data()), hash.size()};
}

absl::StatusOr<Hash> HashFromBytes(std::string_view bytes) {
  if (bytes.size() != kHashSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("hash: want 32 bytes, got ", bytes.size()));
  }
  Hash out;
  std::copy(bytes.begin(), bytes.end(), out.begin());
  return out;
}

Hash HashLeaf(std::string_view leaf_bytes) { return Sha256(kLeafPrefix, leaf_bytes); }

Hash HashChildren(const Hash& left, const Hash& right) {
  return Sha256(kNodePrefix, HashBytes(left), HashBytes(right));
}

Hash EmptyRoot() {
  static const Hash empty = [] {
    Hash out;
    unsigned int len = 0;
    if (EVP_Digest(nullptr, 0, out.data(), &len, Sha256Md(), nullptr) != 1 || len != kHashSize) {
      DieOpenSsl("SHA-256");
    }
    return out;
  }();
  return empty;
}

// ---- HashStore ----

HashStore::~HashStore() = default;

absl::StatusOr<std::vector<Hash>> HashStore::GetBatch(absl::Span<const NodeId> ids) {
  std::vector<Hash> out;
  out.reserve(ids.size());
  for (const NodeId& id : ids) {
    absl::StatusOr<Hash> hash = Get(id.level, id.index);
    if (!hash.ok()) return hash.status();
    out.push_back(*hash);
  }
  return out;
}

absl::Status MemoryHashStore::Put(const Node& node) {
  if (node.level < 0 || node.level > kMaxLevel) {
    return absl::InvalidArgumentError(absl::StrCat("node level ", node.level, " outside [0, 63]"));
  }
  std::unique_lock lock(mu_);
  if (levels_.size() <= static_cast<size_t>(node.level)) levels_.resize(node.level + 1);
  std::vector<Hash>& level = levels_[node.level];
  if (node.index < level.size()) {
    if (level[node.index] == node.hash) return absl::OkStatus();
    return absl::FailedPreconditionError(absl::StrCat(
        "node (", node.level, ", ", node.index, ") already holds a different hash"));
  }
  if (node.index > level.size()) {
    return absl::FailedPreconditionError(absl::StrCat("node (", node.level, ", ", node.index,
                                                      ") would leave a gap: level holds ",
                                                      level.size(), " nodes"));
  }
  level.push_back(node.hash);
  return absl::OkStatus();
}

absl::Status MemoryHashStore::PutAll(absl::Span<const Node> nodes) {
  for (const Node& node : nodes) {
    if (absl::Status s = Put(node); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<Hash> MemoryHashStore::Get(int level, uint64_t index) {
  std::shared_lock lock(mu_);
  if (level < 0 || static_cast<size_t>(level) >= levels_.size() ||
      index >= levels_[level].size()) {
    return absl::NotFoundError(absl::StrCat("no node (", level, ", ", index, ")"));
  }
  return levels_[level][index];
}

uint64_t MemoryHashStore::LeafCount() const {
  std::shared_lock lock(mu_);
  return levels_.empty() ? 0 : levels_[0].size();
}

// ---- TreeBuilder ----

TreeBuilder::TreeBuilder() = default;

absl::StatusOr<TreeBuilder> TreeBuilder::Resume(HashStore& store, uint64_t size) {
  std::vector<NodeId> ids;
  for (uint64_t rest = size; rest != 0; rest &= rest - 1) {
    const int level = std::countr_zero(rest);
    ids.push_back({level, (size >> level) - 1});
  }
  TreeBuilder builder;
  builder.size_ = size;
  if (ids.empty()) return builder;
  absl::StatusOr<std::vector<Hash>> hashes = store.GetBatch(ids);
  if (!hashes.ok()) return hashes.status();
  if (hashes->size() != ids.size()) {
    return absl::InternalError("HashStore::GetBatch returned the wrong number of hashes");
  }
  for (size_t i = 0; i < ids.size(); ++i) builder.frontier_[ids[i].level] = (*hashes)[i];
  return builder;
}

void TreeBuilder::Append(const Hash& leaf_hash, std::vector<Node>* new_nodes) {
  Hash acc = leaf_hash;
  uint64_t index = size_;
  int level = 0;
  new_nodes->push_back({level, index, acc});
  // Each trailing one bit of the old size is a left sibling waiting for this leaf's subtree.
  while (index & 1) {
    acc = HashChildren(frontier_[level], acc);
    index >>= 1;
    ++level;
    new_nodes->push_back({level, index, acc});
  }
  frontier_[level] = acc;
  ++size_;
}

std::vector<Node> TreeBuilder::AppendBatch(absl::Span<const Hash> leaf_hashes) {
  std::vector<Node> out;
  out.reserve(2 * leaf_hashes.size() + 64);
  for (const Hash& leaf : leaf_hashes) Append(leaf, &out);
  return out;
}

Hash TreeBuilder::Root() const {
  if (size_ == 0) return EmptyRoot();
  // Pieces are left-to-right from the highest set bit down; fold from the right.
  uint64_t rest = size_;
  Hash acc = frontier_[std::countr_zero(rest)];
  rest &= rest - 1;
  for (; rest != 0; rest &= rest - 1) acc = HashChildren(frontier_[std::countr_zero(rest)], acc);
  return acc;
}

// ---- Proofs from stored hashes ----

absl::StatusOr<Hash> RootHash(HashStore& store, uint64_t tree_size) {
  if (tree_size == 0) return EmptyRoot();
  const Range whole{0, tree_size};
  absl::StatusOr<std::vector<Hash>> hashes = HashRanges(store, {&whole, 1});
  if (!hashes.ok()) return hashes.status();
  return hashes->front();
}

absl::StatusOr<std::vector<Hash>> InclusionProof(HashStore& store, uint64_t leaf_index,
                                                 uint64_t tree_size) {
  if (leaf_index >= tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("leaf index ", leaf_index,
                                                   " is not below tree size ", tree_size));
  }
  // RFC 9162 §2.1.3.1, walked from the root down: at each split the sibling of the side holding
  // the leaf joins the path. The path lists them leaf-side first, so it is filled from the back.
  std::vector<Range> siblings;
  uint64_t begin = 0;
  uint64_t end = tree_size;
  while (end - begin > 1) {
    const uint64_t mid = begin + SplitPoint(end - begin);
    if (leaf_index < mid) {
      siblings.push_back({mid, end});
      end = mid;
    } else {
      siblings.push_back({begin, mid});
      begin = mid;
    }
  }
  std::reverse(siblings.begin(), siblings.end());
  return HashRanges(store, siblings);
}

absl::StatusOr<std::vector<Hash>> ConsistencyProof(HashStore& store, uint64_t old_size,
                                                   uint64_t new_size) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("old size ", old_size, " is above new size ", new_size));
  }
  if (old_size == 0 || old_size == new_size) return std::vector<Hash>{};
  // RFC 9162 §2.1.4.1 SUBPROOF(m, D[begin:end], b), unrolled; `m` counts the old tree's leaves
  // inside [begin, end). `old_root_known` is b: whether the verifier already holds the hash of
  // the subtree where the walk stops (true only while that subtree is the old tree itself).
  std::vector<Range> parts;
  uint64_t begin = 0;
  uint64_t end = new_size;
  uint64_t m = old_size;
  bool old_root_known = true;
  while (m != end - begin) {
    const uint64_t k = SplitPoint(end - begin);
    if (m <= k) {
      parts.push_back({begin + k, end});
      end = begin + k;
    } else {
      parts.push_back({begin, begin + k});
      begin += k;
      m -= k;
      old_root_known = false;
    }
  }
  if (!old_root_known) parts.push_back({begin, end});
  std::reverse(parts.begin(), parts.end());
  return HashRanges(store, parts);
}

// ---- Verification ----

absl::StatusOr<Hash> RootFromInclusionProof(const Hash& leaf_hash, uint64_t leaf_index,
                                            uint64_t tree_size, absl::Span<const Hash> proof) {
  if (leaf_index >= tree_size) {
    return absl::InvalidArgumentError(absl::StrCat("leaf index ", leaf_index,
                                                   " is not below tree size ", tree_size));
  }
  // RFC 9162 §2.1.3.2: fn walks the leaf's position, sn the last leaf's position, up the tree.
  uint64_t fn = leaf_index;
  uint64_t sn = tree_size - 1;
  Hash r = leaf_hash;
  for (const Hash& p : proof) {
    if (sn == 0) return ProofMismatch("inclusion proof is longer than the tree is deep");
    if ((fn & 1) != 0 || fn == sn) {
      r = HashChildren(p, r);
      if ((fn & 1) == 0) {
        // fn is the last node of its level with no sibling there (fn == sn ≠ 0): climb to the
        // level where it is a right child.
        const int shift = std::countr_zero(fn);
        fn >>= shift;
        sn >>= shift;
      }
    } else {
      r = HashChildren(r, p);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return ProofMismatch("inclusion proof is shorter than the tree is deep");
  return r;
}

absl::Status VerifyInclusion(const Hash& leaf_hash, uint64_t leaf_index, uint64_t tree_size,
                             absl::Span<const Hash> proof, const Hash& root) {
  absl::StatusOr<Hash> computed = RootFromInclusionProof(leaf_hash, leaf_index, tree_size, proof);
  if (!computed.ok()) return computed.status();
  if (*computed != root) {
    return ProofMismatch(absl::StrCat("inclusion proof for leaf ", leaf_index, " in tree size ",
                                      tree_size, " does not lead to the root"));
  }
  return absl::OkStatus();
}

absl::Status VerifyConsistency(uint64_t old_size, uint64_t new_size, const Hash& old_root,
                               const Hash& new_root, absl::Span<const Hash> proof) {
  if (old_size > new_size) {
    return absl::InvalidArgumentError(
        absl::StrCat("old size ", old_size, " is above new size ", new_size));
  }
  if (old_size == new_size) {
    if (!proof.empty()) return ProofMismatch("consistency proof between equal sizes must be empty");
    if (old_root != new_root) return ProofMismatch("equal tree sizes with different roots");
    return absl::OkStatus();
  }
  if (old_size == 0) {
    if (!proof.empty()) return ProofMismatch("consistency proof from the empty tree must be empty");
    if (old_root != EmptyRoot()) return ProofMismatch("tree size 0 with a non-empty root");
    return absl::OkStatus();
  }
  // RFC 9162 §2.1.4.2. When old_size is a power of two the old root is itself the first node
  // of the path and the proof omits it.
  if (proof.empty()) return ProofMismatch("consistency proof is empty");
  const bool old_is_perfect = (old_size & (old_size - 1)) == 0;
  size_t next = 0;
  Hash fr;
  if (old_is_perfect) {
    fr = old_root;
  } else {
    fr = proof[0];
    next = 1;
  }
  Hash sr = fr;
  uint64_t fn = old_size - 1;
  uint64_t sn = new_size - 1;
  if ((fn & 1) != 0) {
    const int shift = std::countr_one(fn);
    fn >>= shift;
    sn >>= shift;
  }
  for (; next < proof.size(); ++next) {
    const Hash& c = proof[next];
    if (sn == 0) return ProofMismatch("consistency proof is longer than expected");
    if ((fn & 1) != 0 || fn == sn) {
      fr = HashChildren(c, fr);
      sr = HashChildren(c, sr);
      if ((fn & 1) == 0) {
        const int shift = std::countr_zero(fn);  // fn == sn ≠ 0 here
        fn >>= shift;
        sn >>= shift;
      }
    } else {
      sr = HashChildren(sr, c);
    }
    fn >>= 1;
    sn >>= 1;
  }
  if (sn != 0) return ProofMismatch("consistency proof is shorter than expected");
  if (fr != old_root) return ProofMismatch("consistency proof does not lead to the old root");
  if (sr != new_root) return ProofMismatch("consistency proof does not lead to the new root");
  return absl::OkStatus();
}

}  // namespace accord::audit
