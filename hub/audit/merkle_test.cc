#include "hub/audit/merkle.h"

#include <bit>
#include <cstdint>
#include <map>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace accord::audit {
namespace {

// ---- Known answers -------------------------------------------------------------------------
// The Certificate Transparency reference tree: the eight leaf inputs, the hashes of its perfect
// subtrees, the roots of every prefix, and published inclusion and consistency proofs. Values
// from transparency-dev/merkle testonly/constants.go and proof/verify_test.go (the successor of
// google/certificate-transparency's merkle_tree_test.cc, which uses the same tree).

Hash H(std::string_view hex) {
  absl::StatusOr<Hash> hash = HashFromHex(hex);
  EXPECT_TRUE(hash.ok()) << hex;
  return hash.value_or(Hash{});
}

std::string Unhex(std::string_view hex) {
  std::string out;
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(std::stoi(std::string(hex.substr(i, 2)), nullptr, 16)));
  }
  return out;
}

std::vector<std::string> ReferenceLeaves() {
  std::vector<std::string> leaves;
  for (std::string_view hex : {"", "00", "10", "2021", "3031", "40414243", "5051525354555657",
                               "606162636465666768696a6b6c6d6e6f"}) {
    leaves.push_back(Unhex(hex));
  }
  return leaves;
}

// kReferenceNodes[level][index]: every perfect subtree of the 8-leaf tree.
const std::vector<std::vector<std::string_view>> kReferenceNodes = {
    {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
     "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
     "0298d122906dcfc10892cb53a73992fc5b9f493ea4c9badb27b791b4127a7fe7",
     "07506a85fd9dd2f120eb694f86011e5bb4662e5c415a62917033d4a9624487e7",
     "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
     "4271a26be0d8a84f0bd54c8c302e7cb3a3b5d1fa6780a40bcce2873477dab658",
     "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
     "46f6ffadd3d06a09ff3c5860d2755c8b9819db7df44251788c7d8e3180de8eb1"},
    {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
     "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
     "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
     "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"},
    {"d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
     "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"},
    {"5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"},
};

// kReferenceRoots[n]: the root of the first n leaves.
const std::vector<std::string_view> kReferenceRoots = {
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
};

struct InclusionVector {
  uint64_t leaf_index;  // 0-based (the published vectors number leaves from 1)
  uint64_t tree_size;
  std::vector<std::string_view> proof;
};

const std::vector<InclusionVector> kInclusionVectors = {
    {0, 1, {}},
    {0, 8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {5, 8,
     {"bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 3, {"fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"}},
    {1, 5,
     {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {0, 2, {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"}},
    {1, 2, {"6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"}},
};

struct ConsistencyVector {
  uint64_t old_size;
  uint64_t new_size;
  std::vector<std::string_view> proof;
};

const std::vector<ConsistencyVector> kConsistencyVectors = {
    {1, 1, {}},
    {1, 8,
     {"96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"}},
    {6, 8,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
    {2, 5,
     {"5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"}},
    {6, 7,
     {"0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"}},
};

std::vector<Hash> Hashes(const std::vector<std::string_view>& hex) {
  std::vector<Hash> out;
  for (std::string_view h : hex) out.push_back(H(h));
  return out;
}

std::vector<Hash> LeafHashes(const std::vector<std::string>& leaves) {
  std::vector<Hash> out;
  for (const std::string& leaf : leaves) out.push_back(HashLeaf(leaf));
  return out;
}

// Builds a store holding the first leaves.size() leaves; returns the builder too.
TreeBuilder Build(const std::vector<Hash>& leaf_hashes, MemoryHashStore& store) {
  TreeBuilder builder;
  EXPECT_TRUE(store.PutAll(builder.AppendBatch(leaf_hashes)).ok());
  return builder;
}

TEST(MerkleHashTest, EmptyRootIsSha256OfNothing) {
  EXPECT_EQ(HashToHex(EmptyRoot()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(TreeBuilder().Root(), EmptyRoot());
}

TEST(MerkleHashTest, LeafAndNodeHashesMatchReference) {
  const std::vector<std::string> leaves = ReferenceLeaves();
  for (size_t i = 0; i < leaves.size(); ++i) {
    EXPECT_EQ(HashToHex(HashLeaf(leaves[i])), kReferenceNodes[0][i]) << "leaf " << i;
  }
  for (size_t level = 1; level < kReferenceNodes.size(); ++level) {
    for (size_t i = 0; i < kReferenceNodes[level].size(); ++i) {
      EXPECT_EQ(HashToHex(HashChildren(H(kReferenceNodes[level - 1][2 * i]),
                                       H(kReferenceNodes[level - 1][2 * i + 1]))),
                kReferenceNodes[level][i]);
    }
  }
}

TEST(MerkleHashTest, HexAndBytesRoundTrip) {
  const Hash h = HashLeaf("accord");
  EXPECT_EQ(HashFromHex(HashToHex(h)).value(), h);
  std::string upper = HashToHex(h);
  for (char& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  EXPECT_EQ(HashFromHex(upper).value(), h);
  EXPECT_EQ(HashFromBytes(HashBytes(h)).value(), h);

  EXPECT_EQ(HashFromHex("abc").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashFromHex(std::string(64, 'g')).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(HashFromBytes("short").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(TreeBuilderTest, EmitsEveryPerfectSubtreeOfTheReferenceTree) {
  const std::vector<Hash> leaves = LeafHashes(ReferenceLeaves());
  TreeBuilder builder;
  std::vector<Node> nodes;
  for (size_t n = 0; n < leaves.size(); ++n) {
    const size_t before = nodes.size();
    builder.Append(leaves[n], &nodes);
    // One leaf node plus one per trailing one bit of the old size.
    EXPECT_EQ(nodes.size() - before, 1u + std::countr_one(n)) << "append " << n;
    EXPECT_EQ(HashToHex(builder.Root()), kReferenceRoots[n + 1]) << "size " << n + 1;
  }
  size_t expected = 0;
  for (const auto& level : kReferenceNodes) expected += level.size();
  ASSERT_EQ(nodes.size(), expected);
  for (const Node& node : nodes) {
    EXPECT_EQ(HashToHex(node.hash), kReferenceNodes[node.level][node.index])
        << "node (" << node.level << ", " << node.index << ")";
  }
}

TEST(MerkleProofTest, RootsMatchReferenceForEverySize) {
  MemoryHashStore store;
  Build(LeafHashes(ReferenceLeaves()), store);
  for (uint64_t n = 0; n < kReferenceRoots.size(); ++n) {
    absl::StatusOr<Hash> root = RootHash(store, n);
    ASSERT_TRUE(root.ok()) << root.status();
    EXPECT_EQ(HashToHex(*root), kReferenceRoots[n]) << "size " << n;
  }
}

TEST(MerkleProofTest, InclusionProofsMatchPublishedVectors) {
  const std::vector<Hash> leaves = LeafHashes(ReferenceLeaves());
  MemoryHashStore store;
  Build(leaves, store);
  for (const InclusionVector& v : kInclusionVectors) {
    SCOPED_TRACE(testing::Message() << "leaf " << v.leaf_index << " size " << v.tree_size);
    absl::StatusOr<std::vector<Hash>> proof = InclusionProof(store, v.leaf_index, v.tree_size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(*proof, Hashes(v.proof));
    EXPECT_TRUE(VerifyInclusion(leaves[v.leaf_index], v.leaf_index, v.tree_size, Hashes(v.proof),
                                H(kReferenceRoots[v.tree_size]))
                    .ok());
  }
}

TEST(MerkleProofTest, ConsistencyProofsMatchPublishedVectors) {
  MemoryHashStore store;
  Build(LeafHashes(ReferenceLeaves()), store);
  for (const ConsistencyVector& v : kConsistencyVectors) {
    SCOPED_TRACE(testing::Message() << "sizes " << v.old_size << " → " << v.new_size);
    absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(store, v.old_size, v.new_size);
    ASSERT_TRUE(proof.ok()) << proof.status();
    EXPECT_EQ(*proof, Hashes(v.proof));
    EXPECT_TRUE(VerifyConsistency(v.old_size, v.new_size, H(kReferenceRoots[v.old_size]),
                                  H(kReferenceRoots[v.new_size]), Hashes(v.proof))
                    .ok());
  }
}

// ---- A naive RFC 6962 §2.1 reference, straight from the recursive definitions ---------------

class ReferenceTree {
 public:
  explicit ReferenceTree(std::vector<Hash> leaves) : leaves_(std::move(leaves)) {}

  // MTH(D[begin:end]), memoised: the leaves never change, so neither does any range's hash.
  Hash Mth(uint64_t begin, uint64_t end) {
    if (begin == end) return EmptyRoot();
    if (end - begin == 1) return leaves_[begin];
    auto it = memo_.find({begin, end});
    if (it != memo_.end()) return it->second;
    const uint64_t k = Split(end - begin);
    const Hash h = HashChildren(Mth(begin, begin + k), Mth(begin + k, end));
    memo_.emplace(std::make_pair(begin, end), h);
    return h;
  }

  // PATH(m, D[begin:end]).
  std::vector<Hash> Path(uint64_t m, uint64_t begin, uint64_t end) {
    if (end - begin <= 1) return {};
    const uint64_t k = Split(end - begin);
    std::vector<Hash> out;
    if (m < k) {
      out = Path(m, begin, begin + k);
      out.push_back(Mth(begin + k, end));
    } else {
      out = Path(m - k, begin + k, end);
      out.push_back(Mth(begin, begin + k));
    }
    return out;
  }

  // PROOF(m, D[0:n]) = SUBPROOF(m, D[0:n], true); empty for m == 0 by this project's contract.
  std::vector<Hash> Proof(uint64_t m, uint64_t n) {
    if (m == 0) return {};
    return SubProof(m, 0, n, true);
  }

 private:
  static uint64_t Split(uint64_t n) {
    uint64_t k = 1;
    while (k * 2 < n) k *= 2;
    return k;
  }

  std::vector<Hash> SubProof(uint64_t m, uint64_t begin, uint64_t end, bool b) {
    const uint64_t n = end - begin;
    if (m == n) {
      if (b) return {};
      return {Mth(begin, end)};
    }
    const uint64_t k = Split(n);
    std::vector<Hash> out;
    if (m <= k) {
      out = SubProof(m, begin, begin + k, b);
      out.push_back(Mth(begin + k, end));
    } else {
      out = SubProof(m - k, begin + k, end, false);
      out.push_back(Mth(begin, begin + k));
    }
    return out;
  }

  std::vector<Hash> leaves_;
  std::map<std::pair<uint64_t, uint64_t>, Hash> memo_;
};

std::vector<Hash> RandomLeafHashes(size_t count, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<Hash> out;
  for (size_t i = 0; i < count; ++i) {
    std::string data(rng() % 64, '\0');
    for (char& c : data) c = static_cast<char>(rng());
    out.push_back(HashLeaf(data));
  }
  return out;
}

// Every size 1..300, every leaf index and every old size: the stored-hash algorithms agree with
// the recursive definitions, and what they produce verifies.
TEST(MerkleProofTest, StoredHashAlgorithmsAgreeWithReferenceUpTo300) {
  constexpr uint64_t kMaxSize = 300;
  const std::vector<Hash> leaves = RandomLeafHashes(kMaxSize, 6962);
  ReferenceTree reference(leaves);
  MemoryHashStore store;
  TreeBuilder builder;
  std::vector<Node> nodes;
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    nodes.clear();
    builder.Append(leaves[n - 1], &nodes);
    ASSERT_TRUE(store.PutAll(nodes).ok());

    const Hash root = reference.Mth(0, n);
    ASSERT_EQ(builder.Root(), root) << "size " << n;
    ASSERT_EQ(RootHash(store, n).value(), root) << "size " << n;

    for (uint64_t i = 0; i < n; ++i) {
      absl::StatusOr<std::vector<Hash>> proof = InclusionProof(store, i, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, reference.Path(i, 0, n)) << "leaf " << i << " size " << n;
      ASSERT_TRUE(VerifyInclusion(leaves[i], i, n, *proof, root).ok())
          << "leaf " << i << " size " << n;
    }
    for (uint64_t m = 0; m <= n; ++m) {
      absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(store, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      ASSERT_EQ(*proof, reference.Proof(m, n)) << "sizes " << m << " → " << n;
      ASSERT_TRUE(VerifyConsistency(m, n, reference.Mth(0, m), root, *proof).ok())
          << "sizes " << m << " → " << n;
    }
  }
}

TEST(TreeBuilderTest, ResumeFromStoreContinuesIdentically) {
  const std::vector<Hash> leaves = RandomLeafHashes(70, 9162);
  MemoryHashStore store;
  TreeBuilder full;
  std::vector<Node> all = full.AppendBatch(leaves);
  ASSERT_TRUE(store.PutAll(all).ok());
  for (uint64_t k = 0; k <= leaves.size(); ++k) {
    absl::StatusOr<TreeBuilder> resumed = TreeBuilder::Resume(store, k);
    ASSERT_TRUE(resumed.ok()) << resumed.status();
    EXPECT_EQ(resumed->size(), k);
    EXPECT_EQ(resumed->Root(), RootHash(store, k).value()) << "size " << k;
    TreeBuilder fresh;
    std::vector<Node> expected = fresh.AppendBatch(leaves);
    std::vector<Node> tail =
        resumed->AppendBatch(absl::MakeConstSpan(leaves).subspan(k));
    // The nodes a resumed builder emits are exactly the ones the full build emitted after k.
    std::vector<Node> expected_tail;
    for (const Node& node : expected) {
      if (((node.index + 1) << node.level) > k) expected_tail.push_back(node);
    }
    EXPECT_EQ(tail, expected_tail) << "resumed at " << k;
    EXPECT_EQ(resumed->Root(), full.Root());
  }
  EXPECT_EQ(TreeBuilder::Resume(store, leaves.size() + 1).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(MemoryHashStoreTest, AppendOnlyAndGapFree) {
  MemoryHashStore store;
  const Hash a = HashLeaf("a");
  const Hash b = HashLeaf("b");
  EXPECT_TRUE(store.Put({0, 0, a}).ok());
  EXPECT_TRUE(store.Put({0, 0, a}).ok());  // idempotent
  EXPECT_EQ(store.Put({0, 0, b}).code(), absl::StatusCode::kFailedPrecondition);  // no rewrite
  EXPECT_EQ(store.Put({0, 2, b}).code(), absl::StatusCode::kFailedPrecondition);  // no gap
  EXPECT_EQ(store.Put({64, 0, b}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Put({-1, 0, b}).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store.Get(0, 0).value(), a);
  EXPECT_EQ(store.Get(0, 1).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.Get(5, 0).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store.LeafCount(), 1u);
}

TEST(MerkleProofTest, RefusesImpossibleRequests) {
  MemoryHashStore store;
  Build(LeafHashes(ReferenceLeaves()), store);
  EXPECT_EQ(InclusionProof(store, 8, 8).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InclusionProof(store, 0, 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ConsistencyProof(store, 5, 4).status().code(), absl::StatusCode::kInvalidArgument);
  // A tree larger than the store holds: the store's NOT_FOUND passes through.
  EXPECT_EQ(RootHash(store, 9).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(InclusionProof(store, 0, 9).status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(ConsistencyProof(store, 3, 9).status().code(), absl::StatusCode::kNotFound);
}

class FailingStore : public HashStore {
 public:
  absl::StatusOr<Hash> Get(int, uint64_t) override {
    return absl::UnavailableError("database is locked");
  }
};

TEST(MerkleProofTest, StoreErrorsPassThrough) {
  FailingStore store;
  EXPECT_EQ(RootHash(store, 5).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(InclusionProof(store, 1, 5).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(ConsistencyProof(store, 2, 5).status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(TreeBuilder::Resume(store, 5).status().code(), absl::StatusCode::kUnavailable);
  // Nothing to read: no call reaches the store.
  EXPECT_EQ(RootHash(store, 0).value(), EmptyRoot());
  EXPECT_TRUE(ConsistencyProof(store, 3, 3).value().empty());
}

// ---- Tampering --------------------------------------------------------------------------------

bool Verifies(const absl::Status& s) { return s.ok(); }

TEST(MerkleTamperTest, InclusionProofsDetectTampering) {
  constexpr uint64_t kMaxSize = 70;
  const std::vector<Hash> leaves = RandomLeafHashes(kMaxSize, 42);
  ReferenceTree reference(leaves);
  MemoryHashStore store;
  Build(leaves, store);
  const Hash other_leaf = HashLeaf("an altered event");
  for (uint64_t n = 1; n <= kMaxSize; ++n) {
    const Hash root = reference.Mth(0, n);
    for (uint64_t i = 0; i < n; ++i) {
      SCOPED_TRACE(testing::Message() << "leaf " << i << " size " << n);
      const std::vector<Hash> proof = InclusionProof(store, i, n).value();
      ASSERT_TRUE(Verifies(VerifyInclusion(leaves[i], i, n, proof, root)));

      // A changed leaf (the event was altered) or a neighbour's leaf.
      EXPECT_FALSE(Verifies(VerifyInclusion(other_leaf, i, n, proof, root)));
      if (n > 1) {
        EXPECT_FALSE(Verifies(VerifyInclusion(leaves[(i + 1) % n], i, n, proof, root)));
      }
      // Another position (the event was reordered).
      EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i + 1, n, proof, root)));
      if (i > 0) {
        EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i - 1, n, proof, root)));
      }
      // A different root.
      EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, n, proof, EmptyRoot())));
      // Wrong sizes: with the same root, and with the root that size really has.
      EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, 2 * n, proof, root)));
      if (n / 2 > i) {
        EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, n / 2, proof, root)));
      }
      for (uint64_t other = i + 1; other <= kMaxSize; ++other) {
        if (other == n) continue;
        EXPECT_FALSE(
            Verifies(VerifyInclusion(leaves[i], i, other, proof, reference.Mth(0, other))))
            << "claimed size " << other;
      }
      // Truncated, extended, prefixed.
      if (!proof.empty()) {
        std::vector<Hash> truncated(proof.begin(), proof.end() - 1);
        EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, n, truncated, root)));
      }
      std::vector<Hash> extended = proof;
      extended.push_back(root);
      EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, n, extended, root)));
      std::vector<Hash> prefixed = proof;
      prefixed.insert(prefixed.begin(), leaves[i]);
      EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, n, prefixed, root)));
      // Each adjacent pair swapped; each element with one bit flipped.
      for (size_t j = 0; j + 1 < proof.size(); ++j) {
        std::vector<Hash> swapped = proof;
        std::swap(swapped[j], swapped[j + 1]);
        EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, n, swapped, root))) << "swap " << j;
      }
      for (size_t j = 0; j < proof.size(); ++j) {
        std::vector<Hash> flipped = proof;
        flipped[j][j % kHashSize] ^= 0x08;
        EXPECT_FALSE(Verifies(VerifyInclusion(leaves[i], i, n, flipped, root))) << "flip " << j;
      }
    }
  }
}

TEST(MerkleTamperTest, ConsistencyProofsDetectTampering) {
  constexpr uint64_t kMaxSize = 70;
  const std::vector<Hash> leaves = RandomLeafHashes(kMaxSize, 43);
  ReferenceTree reference(leaves);
  MemoryHashStore store;
  Build(leaves, store);
  // The same log with one event altered, to model a rewritten history.
  std::vector<Hash> altered_leaves = leaves;
  altered_leaves[3] = HashLeaf("rewritten");
  ReferenceTree altered(altered_leaves);

  for (uint64_t n = 2; n <= kMaxSize; ++n) {
    const Hash new_root = reference.Mth(0, n);
    for (uint64_t m = 1; m < n; ++m) {
      SCOPED_TRACE(testing::Message() << "sizes " << m << " → " << n);
      const Hash old_root = reference.Mth(0, m);
      const std::vector<Hash> proof = ConsistencyProof(store, m, n).value();
      ASSERT_TRUE(Verifies(VerifyConsistency(m, n, old_root, new_root, proof)));

      // History rewritten before the old checkpoint: the new tree no longer extends the old.
      if (m > 3) {
        EXPECT_FALSE(Verifies(VerifyConsistency(m, n, old_root, altered.Mth(0, n), proof)));
      }
      // The old checkpoint's root is wrong (the old tree was not what it claims).
      EXPECT_FALSE(Verifies(VerifyConsistency(m, n, EmptyRoot(), new_root, proof)));
      EXPECT_FALSE(Verifies(VerifyConsistency(m, n, reference.Mth(0, m - 1), new_root, proof)));
      if (m > 3) {
        EXPECT_FALSE(Verifies(VerifyConsistency(m, n, altered.Mth(0, m), new_root, proof)));
      }
      EXPECT_FALSE(Verifies(VerifyConsistency(m, n, new_root, old_root, proof)));
      EXPECT_FALSE(Verifies(VerifyConsistency(m, n, old_root, EmptyRoot(), proof)));
      // Wrong sizes, with the roots those sizes really have.
      for (uint64_t other = 1; other <= kMaxSize; ++other) {
        if (other != m && other <= n) {
          EXPECT_FALSE(Verifies(VerifyConsistency(other, n, reference.Mth(0, other), new_root,
                                                  proof)))
              << "claimed old size " << other;
        }
        if (other != n && other >= m) {
          EXPECT_FALSE(Verifies(VerifyConsistency(m, other, old_root, reference.Mth(0, other),
                                                  proof)))
              << "claimed new size " << other;
        }
      }
      EXPECT_FALSE(Verifies(VerifyConsistency(m, 2 * n, old_root, new_root, proof)));
      EXPECT_FALSE(Verifies(VerifyConsistency(m, n, old_root, new_root, {})));
      // Truncated, extended, swapped, flipped.
      std::vector<Hash> truncated(proof.begin(), proof.end() - 1);
      EXPECT_FALSE(Verifies(VerifyConsistency(m, n, old_root, new_root, truncated)));
      std::vector<Hash> extended = proof;
      extended.push_back(new_root);
      EXPECT_FALSE(Verifies(VerifyConsistency(m, n, old_root, new_root, extended)));
      for (size_t j = 0; j + 1 < proof.size(); ++j) {
        std::vector<Hash> swapped = proof;
        std::swap(swapped[j], swapped[j + 1]);
        EXPECT_FALSE(Verifies(VerifyConsistency(m, n, old_root, new_root, swapped)))
            << "swap " << j;
      }
      for (size_t j = 0; j < proof.size(); ++j) {
        std::vector<Hash> flipped = proof;
        flipped[j][(j + 7) % kHashSize] ^= 0x10;
        EXPECT_FALSE(Verifies(VerifyConsistency(m, n, old_root, new_root, flipped)))
            << "flip " << j;
      }
    }
  }
}

TEST(MerkleVerifyTest, EdgeCases) {
  const Hash leaf = HashLeaf("data");
  const Hash other = HashLeaf("other");
  // A one-leaf tree: the root is the leaf hash and the path is empty.
  EXPECT_TRUE(VerifyInclusion(leaf, 0, 1, {}, leaf).ok());
  EXPECT_EQ(VerifyInclusion(leaf, 0, 1, {}, other).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyInclusion(leaf, 0, 0, {}, EmptyRoot()).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(VerifyInclusion(leaf, 2, 1, {}, leaf).code(), absl::StatusCode::kInvalidArgument);
  const std::vector<Hash> one = {other};
  EXPECT_EQ(VerifyInclusion(leaf, 0, 1, one, leaf).code(), absl::StatusCode::kDataLoss);

  // Equal sizes: empty proof and equal roots.
  EXPECT_TRUE(VerifyConsistency(0, 0, EmptyRoot(), EmptyRoot(), {}).ok());
  EXPECT_TRUE(VerifyConsistency(5, 5, leaf, leaf, {}).ok());
  EXPECT_EQ(VerifyConsistency(5, 5, leaf, other, {}).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(5, 5, leaf, leaf, one).code(), absl::StatusCode::kDataLoss);
  // From the empty tree: anything extends it, but the old root must be the empty root.
  EXPECT_TRUE(VerifyConsistency(0, 7, EmptyRoot(), other, {}).ok());
  EXPECT_EQ(VerifyConsistency(0, 7, leaf, other, {}).code(), absl::StatusCode::kDataLoss);
  EXPECT_EQ(VerifyConsistency(0, 7, EmptyRoot(), other, one).code(),
            absl::StatusCode::kDataLoss);
  // Going back in time.
  EXPECT_EQ(VerifyConsistency(2, 1, leaf, other, one).code(),
            absl::StatusCode::kInvalidArgument);
  // A real extension needs a proof.
  EXPECT_EQ(VerifyConsistency(1, 2, leaf, other, {}).code(), absl::StatusCode::kDataLoss);
}

// ---- O(log n) store reads -------------------------------------------------------------------

// A store for a tree of `size` identical leaves: node (level, i) is the same for every i, so the
// hashes of a million-leaf tree are 64 precomputed values, yet every one of them is a real
// RFC 6962 hash and proofs built from them verify. Counts what the algorithms read.
class SyntheticStore : public HashStore {
 public:
  explicit SyntheticStore(uint64_t size) : size_(size) {
    level_hash_[0] = HashLeaf("the same event");
    for (int level = 1; level < 64; ++level) {
      level_hash_[level] = HashChildren(level_hash_[level - 1], level_hash_[level - 1]);
    }
  }

  absl::StatusOr<Hash> Get(int level, uint64_t index) override {
    ++reads_;
    if (level < 0 || level > 63 || index >= (size_ >> level)) {
      return absl::NotFoundError("beyond the tree");
    }
    return level_hash_[level];
  }

  absl::StatusOr<std::vector<Hash>> GetBatch(absl::Span<const NodeId> ids) override {
    ++batches_;
    return HashStore::GetBatch(ids);
  }

  Hash leaf() const { return level_hash_[0]; }
  int reads() const { return reads_; }
  int batches() const { return batches_; }
  void ResetCounts() { reads_ = batches_ = 0; }

 private:
  uint64_t size_;
  std::array<Hash, 64> level_hash_;
  int reads_ = 0;
  int batches_ = 0;
};

int CeilLog2(uint64_t n) { return n <= 1 ? 0 : std::bit_width(n - 1); }

TEST(MerkleReadCountTest, ProofsReadLogarithmicallyManyStoredHashes) {
  std::mt19937_64 rng(1000000);
  for (uint64_t n : {uint64_t{1'000'000}, uint64_t{10'000'000}, (uint64_t{1} << 40) + 12345,
                     (uint64_t{1} << 20) - 1}) {
    SCOPED_TRACE(testing::Message() << "tree size " << n);
    SyntheticStore store(n);
    const int bound = 2 * CeilLog2(n) + 2;

    const Hash root = RootHash(store, n).value();
    EXPECT_LE(store.reads(), std::popcount(n));
    EXPECT_EQ(store.batches(), 1);

    std::vector<uint64_t> indices = {0, 1, n / 2, n - 2, n - 1};
    for (int k = 0; k < 200; ++k) indices.push_back(rng() % n);
    for (uint64_t i : indices) {
      store.ResetCounts();
      absl::StatusOr<std::vector<Hash>> proof = InclusionProof(store, i, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_LE(store.reads(), bound) << "leaf " << i;
      EXPECT_EQ(store.batches(), 1);
      EXPECT_TRUE(VerifyInclusion(store.leaf(), i, n, *proof, root).ok()) << "leaf " << i;
    }
    std::vector<uint64_t> old_sizes = {1, 2, 3, n / 2, n - 1};
    for (int k = 0; k < 200; ++k) old_sizes.push_back(1 + rng() % (n - 1));
    for (uint64_t m : old_sizes) {
      SyntheticStore old_store(m);
      const Hash old_root = RootHash(old_store, m).value();
      store.ResetCounts();
      absl::StatusOr<std::vector<Hash>> proof = ConsistencyProof(store, m, n);
      ASSERT_TRUE(proof.ok()) << proof.status();
      EXPECT_LE(store.reads(), bound) << "old size " << m;
      EXPECT_EQ(store.batches(), 1);
      EXPECT_TRUE(VerifyConsistency(m, n, old_root, root, *proof).ok()) << "old size " << m;
    }
  }
}

}  // namespace
}  // namespace accord::audit
