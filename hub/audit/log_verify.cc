#include "hub/audit/log_verify.h"

#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"

namespace accord::audit {
namespace {

constexpr size_t kNone = std::numeric_limits<size_t>::max();

std::string Describe(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", t, absl::UTCTimeZone()); }

std::string Events(uint64_t n) { return absl::StrCat(n, n == 1 ? " event" : " events"); }

// Leaves [first, last] as "event 7" or "events 7–9".
std::string EventRange(uint64_t first, uint64_t last) {
  return first == last ? absl::StrCat("event ", first) : absl::StrCat("events ", first, "–", last);
}

// Problems in the order found, up to a cap; later ones are only counted. A described problem
// can be rewritten while its kind of damage continues (see the runs below).
class Problems {
 public:
  explicit Problems(size_t max) : max_(max) {}

  // The index of the new problem, or kNone when it was only counted.
  size_t Add(std::string text) {
    if (list_.size() >= max_) {
      ++omitted_;
      return kNone;
    }
    list_.push_back(std::move(text));
    return list_.size() - 1;
  }
  void Rewrite(size_t index, std::string text) {
    if (index != kNone) list_[index] = std::move(text);
  }

  std::vector<std::string> TakeList() { return std::move(list_); }
  uint64_t omitted() const { return omitted_; }

 private:
  size_t max_;
  std::vector<std::string> list_;
  uint64_t omitted_ = 0;
};

// Compares recomputed nodes with stored ones in batches. One altered leaf makes every ancestor
// differ too, and one deleted event makes every later leaf differ: those follow-on mismatches
// are folded into the first message (a run of leaves, or a range an earlier message covers).
class NodeChecker {
 public:
  NodeChecker(HashStore& store, Problems& problems) : store_(store), problems_(problems) {}

  void Push(const Node& node) {
    if (broken_) return;
    pending_.push_back(node);
    if (pending_.size() >= LogVerifier::kNodeBatch) Flush();
  }

  void Flush() {
    if (broken_ || pending_.empty()) return;
    std::vector<NodeId> ids;
    ids.reserve(pending_.size());
    for (const Node& n : pending_) ids.push_back(n.id());
    absl::StatusOr<std::vector<Hash>> stored = store_.GetBatch(ids);
    if (stored.ok() && stored->size() == pending_.size()) {
      for (size_t i = 0; i < pending_.size(); ++i) Compare(pending_[i], (*stored)[i]);
    } else {
      // Some node is missing or unreadable: find which, one at a time.
      for (const Node& n : pending_) {
        absl::StatusOr<Hash> one = store_.Get(n.level, n.index);
        if (one.ok()) {
          Compare(n, *one);
        } else if (absl::IsNotFound(one.status())) {
          Bad(n, Kind::kMissing);
        } else {
          problems_.Add(absl::StrCat("cannot read the stored hash at level ", n.level, ", index ", n.index, ": ",
                                     one.status().message(), " (stored hashes were not compared further)"));
          broken_ = true;
          break;
        }
        ++compared_;
      }
      pending_.clear();
      return;
    }
    compared_ += pending_.size();
    pending_.clear();
  }

  uint64_t compared() const { return compared_; }

 private:
  enum class Kind { kDiffers, kMissing };

  void Compare(const Node& recomputed, const Hash& stored) {
    if (recomputed.hash != stored) Bad(recomputed, Kind::kDiffers);
  }

  void Bad(const Node& node, Kind kind) {
    uint64_t first = node.index << node.level;
    uint64_t end = (node.index + 1) << node.level;
    if (node.level == 0) {
      if (run_open_ && run_kind_ == kind && run_end_ == first) {
        run_end_ = end;
        bad_[run_start_] = end;
        problems_.Rewrite(run_problem_, LeafRunMessage());
        return;
      }
      if (Explained(first, end)) return;
      run_open_ = true;
      run_kind_ = kind;
      run_start_ = first;
      run_end_ = end;
      bad_[first] = end;
      run_problem_ = problems_.Add(LeafRunMessage());
      return;
    }
    if (Explained(first, end)) return;
    bad_[first] = end;
    std::string where =
        absl::StrCat("the stored subtree hash at level ", node.level, ", index ", node.index, " (",
                     EventRange(first, end - 1), ")");
    problems_.Add(kind == Kind::kDiffers
                      ? absl::StrCat(where, " differs from the one recomputed from the records: log_nodes was altered")
                      : absl::StrCat(where, " is missing from log_nodes: stored hashes were deleted"));
  }

  // Whether an already reported range overlaps [first, end). Reported ranges never overlap
  // each other, since only unexplained ones are added.
  bool Explained(uint64_t first, uint64_t end) const {
    auto it = bad_.lower_bound(end);
    if (it == bad_.begin()) return false;
    --it;
    return it->second > first;
  }

  std::string LeafRunMessage() const {
    uint64_t last = run_end_ - 1;
    bool one = run_start_ == last;
    if (run_kind_ == Kind::kMissing) {
      return absl::StrCat("log_nodes lacks the stored hash", one ? " of " : "es of ", EventRange(run_start_, last),
                          ": stored hashes were deleted");
    }
    if (one) {
      return absl::StrCat("the stored hash of event ", run_start_,
                          " differs from the hash of its record: that event (or its stored hash) was altered");
    }
    return absl::StrCat("the stored hashes of ", EventRange(run_start_, last),
                        " differ from the hashes of their records: those events (or their stored hashes) were "
                        "altered, removed or moved");
  }

  HashStore& store_;
  Problems& problems_;
  std::vector<Node> pending_;
  uint64_t compared_ = 0;
  bool broken_ = false;
  std::map<uint64_t, uint64_t> bad_;  // first leaf → end of each reported range
  // The open run of adjacent leaves with the same kind of damage, described by one problem
  // (run_problem_ is kNone when it was beyond the cap).
  bool run_open_ = false;
  size_t run_problem_ = kNone;
  Kind run_kind_ = Kind::kDiffers;
  uint64_t run_start_ = 0, run_end_ = 0;
};

}  // namespace

absl::StatusOr<SignedTreeHead> TreeHeadFromProto(const v1::SignedTreeHead& proto) {
  absl::StatusOr<Hash> root = HashFromBytes(proto.root_hash());
  if (!root.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("root_hash: must be 32 bytes, got ", proto.root_hash().size()));
  }
  if (proto.time().nanos() < 0 || proto.time().nanos() > 999'999'999) {
    return absl::InvalidArgumentError("time.nanos: out of range");
  }
  SignedTreeHead out;
  out.head.tree_size = proto.tree_size();
  out.head.root_hash = *root;
  out.head.timestamp = absl::FromUnixSeconds(proto.time().seconds()) + absl::Nanoseconds(proto.time().nanos());
  out.signature = proto.signature();
  return out;
}

v1::SignedTreeHead TreeHeadToProto(const SignedTreeHead& head, absl::string_view key_id) {
  v1::SignedTreeHead out;
  out.set_tree_size(head.head.tree_size);
  out.set_root_hash(std::string(HashBytes(head.head.root_hash)));
  // Whole seconds towards the past, then the non-negative remainder, as Timestamp requires.
  int64_t seconds = absl::ToUnixSeconds(head.head.timestamp);
  absl::Duration rest = head.head.timestamp - absl::FromUnixSeconds(seconds);
  out.mutable_time()->set_seconds(seconds);
  out.mutable_time()->set_nanos(static_cast<int32_t>(absl::ToInt64Nanoseconds(rest)));
  out.set_signature(head.signature);
  out.set_key_id(std::string(key_id));
  return out;
}

absl::Status LogReport::ToStatus() const {
  if (intact()) return absl::OkStatus();
  uint64_t more = problems_omitted + (problems.empty() ? 0 : problems.size() - 1);
  std::string first = problems.empty() ? std::string("the log does not verify") : problems.front();
  if (more > 0) absl::StrAppend(&first, " (and ", more, more == 1 ? " more problem)" : " more problems)");
  return absl::DataLossError(first);
}

class LogVerifier::Impl {
 public:
  Impl(VerifyingKey key, Options options)
      : key_(std::move(key)), options_(options), problems_(options.max_problems) {
    if (options_.stored_nodes) nodes_.emplace(*options_.stored_nodes, problems_);
  }

  absl::Status ExpectHead(const SignedTreeHead& head, HeadCoverage coverage, std::string label) {
    if (coverage == HeadCoverage::kPrefix && head.head.tree_size < tree_.size()) {
      return absl::FailedPreconditionError(absl::StrCat(label, " covers ", Events(head.head.tree_size), " but ",
                                                        tree_.size(), " were already added: declare it first"));
    }
    heads_.push_back({head, coverage, std::move(label), std::nullopt});
    if (coverage == HeadCoverage::kPrefix) {
      if (head.head.tree_size == tree_.size()) {
        heads_.back().prefix_root = tree_.Root();
      } else {
        pending_prefix_.emplace(head.head.tree_size, heads_.size() - 1);
      }
    }
    return absl::OkStatus();
  }

  void Add(absl::string_view record) {
    const uint64_t position = tree_.size();
    v1::SharingEvent event;
    if (!event.ParseFromArray(record.data(), static_cast<int>(record.size()))) {
      EndShiftRun();
      problems_.Add(absl::StrCat("event at position ", position, " does not parse as a SharingEvent (",
                                 record.size(), " bytes): its stored bytes were altered"));
    } else {
      CheckSequence(position, event.sequence());
    }
    AppendLeaf(HashLeaf(std::string_view(record.data(), record.size())));
  }

  void AddUnreadable(const Hash& stand_in, std::string problem) {
    EndShiftRun();
    problems_.Add(std::move(problem));
    AppendLeaf(stand_in);
  }

  uint64_t size() const { return tree_.size(); }
  Hash Root() const { return tree_.Root(); }

  LogReport Finish() {
    EndShiftRun();
    if (nodes_) nodes_->Flush();
    LogReport report;
    report.event_count = tree_.size();
    report.root = tree_.Root();
    std::string key_name = "the given key";
    if (absl::StatusOr<std::string> id = key_.KeyId(); id.ok()) key_name = absl::StrCat("key ", id->substr(0, 16), "…");
    for (const PendingHead& h : heads_) {
      const uint64_t m = h.sth.head.tree_size;
      const uint64_t n = tree_.size();
      bool ok = true;
      if (m > n || (h.coverage == HeadCoverage::kWholeLog && m != n)) {
        ok = false;
        problems_.Add(absl::StrCat("the log holds ", Events(n), " but ", h.label, " covers ", m,
                                   m > n ? ": events were removed from the log" :
                                           ": events were added after it was signed"));
      } else {
        const Hash& recomputed = h.coverage == HeadCoverage::kWholeLog ? report.root : *h.prefix_root;
        if (recomputed != h.sth.head.root_hash) {
          ok = false;
          problems_.Add(absl::StrCat(
              "root mismatch: an event was altered — ",
              h.coverage == HeadCoverage::kWholeLog ? absl::StrCat("the ", Events(n))
                                                    : absl::StrCat("the first ", Events(m)),
              " hash to ", HashToHex(recomputed), " but ", h.label, " (signed ", Describe(h.sth.head.timestamp),
              ") says ", HashToHex(h.sth.head.root_hash),
              h.coverage == HeadCoverage::kPrefix ? "; the log did not only grow since that head" : ""));
        }
      }
      if (absl::Status s = VerifyTreeHead(h.sth, key_); !s.ok()) {
        ok = false;
        problems_.Add(absl::StrCat(h.label, " (", Events(m), ", signed ", Describe(h.sth.head.timestamp),
                                   ") does not verify with ", key_name,
                                   ": the head was replaced or altered, or another key signed it (", s.message(),
                                   ")"));
      }
      if (ok) ++report.heads_verified;
    }
    report.nodes_compared = nodes_ ? nodes_->compared() : 0;
    report.problems = problems_.TakeList();
    report.problems_omitted = problems_.omitted();
    return report;
  }

 private:
  struct PendingHead {
    SignedTreeHead sth;
    HeadCoverage coverage;
    std::string label;
    std::optional<Hash> prefix_root;  // the root when the log had sth.head.tree_size records
  };

  void AppendLeaf(const Hash& leaf) {
    new_nodes_.clear();
    tree_.Append(leaf, &new_nodes_);
    if (nodes_) {
      for (const Node& n : new_nodes_) nodes_->Push(n);
    }
    if (options_.recomputed_nodes) {
      if (absl::Status s = options_.recomputed_nodes->PutAll(new_nodes_); !s.ok() && !recompute_failed_) {
        recompute_failed_ = true;
        problems_.Add(absl::StrCat("cannot keep the recomputed hashes: ", s.message()));
      }
    }
    for (auto [it, end] = pending_prefix_.equal_range(tree_.size()); it != end; ++it) {
      heads_[it->second].prefix_root = tree_.Root();
    }
  }

  // A deleted event shifts every later one by the same amount: one message for the whole run.
  void CheckSequence(uint64_t position, uint64_t sequence) {
    if (sequence == position) {
      EndShiftRun();
      return;
    }
    if (shift_open_ && sequence - position == shift_) {
      ++shift_followers_;
      return;
    }
    EndShiftRun();
    shift_open_ = true;
    shift_ = sequence - position;
    shift_followers_ = 0;
    shift_message_ = absl::StrCat("event at position ", position, " says sequence ", sequence,
                                  ": an event is missing or out of order");
    shift_problem_ = problems_.Add(shift_message_);
  }

  void EndShiftRun() {
    if (!shift_open_) return;
    shift_open_ = false;
    if (shift_followers_ > 0) {
      problems_.Rewrite(shift_problem_, absl::StrCat(shift_message_, " (and the next ", Events(shift_followers_),
                                                     " are out of place by the same amount)"));
    }
  }

  VerifyingKey key_;
  Options options_;
  Problems problems_;
  std::optional<NodeChecker> nodes_;
  TreeBuilder tree_;
  std::vector<Node> new_nodes_;
  bool recompute_failed_ = false;
  std::vector<PendingHead> heads_;
  std::multimap<uint64_t, size_t> pending_prefix_;  // tree size → index in heads_
  bool shift_open_ = false;
  uint64_t shift_ = 0;  // sequence − position (mod 2^64) of the open run
  uint64_t shift_followers_ = 0;
  std::string shift_message_;
  size_t shift_problem_ = kNone;
};

LogVerifier::LogVerifier(VerifyingKey key) : LogVerifier(std::move(key), Options()) {}
LogVerifier::LogVerifier(VerifyingKey key, Options options)
    : impl_(std::make_unique<Impl>(std::move(key), options)) {}
LogVerifier::~LogVerifier() = default;

absl::Status LogVerifier::ExpectHead(const SignedTreeHead& head, HeadCoverage coverage, std::string label) {
  return impl_->ExpectHead(head, coverage, std::move(label));
}
void LogVerifier::Add(absl::string_view record) { impl_->Add(record); }
void LogVerifier::AddUnreadable(const Hash& stand_in, std::string problem) {
  impl_->AddUnreadable(stand_in, std::move(problem));
}
uint64_t LogVerifier::size() const { return impl_->size(); }
Hash LogVerifier::Root() const { return impl_->Root(); }
LogReport LogVerifier::Finish() { return impl_->Finish(); }

LogReport VerifyLog(absl::Span<const std::string> records, const SignedTreeHead& head, const VerifyingKey& key) {
  LogVerifier verifier(key);
  (void)verifier.ExpectHead(head, HeadCoverage::kWholeLog, "the tree head");  // kWholeLog never fails
  for (const std::string& r : records) verifier.Add(r);
  return verifier.Finish();
}

std::vector<std::string> CompareStoredNodes(HashStore& stored, absl::Span<const Node> recomputed) {
  Problems problems(std::numeric_limits<size_t>::max());
  NodeChecker checker(stored, problems);
  for (const Node& n : recomputed) checker.Push(n);
  checker.Flush();
  return problems.TakeList();
}

}  // namespace accord::audit
