// accord-log-bench: the sharing log on its own (DESIGN.md §6 targets), through the real Store on
// a real SQLite file with durability on (WAL, synchronous=FULL, group commit):
//   1. durable appends/s: many threads calling Store::AppendEvents with batches of realistic
//      events until the log holds --events; then the same with one event per call (what a
//      single RPC's commit costs);
//   2. inclusion proofs: --proofs random events, each proof read from the stored hashes and
//      verified against the root (median, p99);
//   3. a DPO's per-child query: --queries random children, all their events (QueryEvents by
//      subject, details opened), median and p99.
// Prints a table; --json FILE writes the same numbers. Not a timed test: `bench.log_smoke`
// runs it small so it keeps working.
//
//   accord-log-bench [--events 1000000] [--threads 32] [--batch 64] [--proofs 1000]
//                    [--queries 200] [--events-per-child 25] [--dir DIR] [--json FILE]
#include <stdlib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "hub/audit/merkle.h"
#include "hub/store/store.h"
#include "tests/bench/sharing_events.h"

namespace accord::bench {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

struct Options {
  uint64_t events = 1'000'000;
  int threads = 32;
  int batch = 64;
  int proofs = 1000;
  int queries = 200;
  int events_per_child = 25;
  std::string dir;   // empty: a fresh temporary directory, removed at the end
  std::string json;  // empty: no JSON
};

bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    std::string flag = argv[i];
    if (flag == "--help" || flag == "-h") return false;
    if (i + 1 >= argc) {
      std::cerr << "accord-log-bench: " << flag << " needs a value\n";
      return false;
    }
    std::string value = argv[++i];
    bool ok = true;
    if (flag == "--events") {
      ok = absl::SimpleAtoi(value, &o->events) && o->events > 0;
    } else if (flag == "--threads") {
      ok = absl::SimpleAtoi(value, &o->threads) && o->threads > 0;
    } else if (flag == "--batch") {
      ok = absl::SimpleAtoi(value, &o->batch) && o->batch > 0;
    } else if (flag == "--proofs") {
      ok = absl::SimpleAtoi(value, &o->proofs) && o->proofs > 0;
    } else if (flag == "--queries") {
      ok = absl::SimpleAtoi(value, &o->queries) && o->queries > 0;
    } else if (flag == "--events-per-child") {
      ok = absl::SimpleAtoi(value, &o->events_per_child) && o->events_per_child > 0;
    } else if (flag == "--dir") {
      o->dir = value;
    } else if (flag == "--json") {
      o->json = value;
    } else {
      std::cerr << "accord-log-bench: unknown flag " << flag << "\n";
      return false;
    }
    if (!ok) {
      std::cerr << "accord-log-bench: " << flag << ": not a positive number: " << value << "\n";
      return false;
    }
  }
  return true;
}

double Micros(Clock::duration d) { return std::chrono::duration<double, std::micro>(d).count(); }

struct Percentiles {
  double median = 0, p99 = 0, max = 0;
};

Percentiles Summarise(std::vector<double> v) {
  Percentiles p;
  if (v.empty()) return p;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) { return v[std::min(v.size() - 1, static_cast<size_t>(q * static_cast<double>(v.size())))]; };
  p.median = at(0.5);
  p.p99 = at(0.99);
  p.max = v.back();
  return p;
}

struct AppendResult {
  uint64_t events = 0;
  double seconds = 0;
  Percentiles call_us;
};

// `threads` callers append `per_call` events per AppendEvents until `total` are appended.
absl::StatusOr<AppendResult> Append(store::Store& store, uint64_t total, int threads, int per_call,
                                    uint64_t children, uint64_t seed, bool progress) {
  std::atomic<uint64_t> claimed{0}, done{0};
  std::atomic<bool> failed{false};
  absl::Status failure;
  std::mutex mu;
  std::vector<double> latencies;
  auto start = Clock::now();
  std::vector<std::thread> workers;
  for (int t = 0; t < threads; ++t) {
    workers.emplace_back([&, t] {
      std::mt19937_64 rng(seed * 1000 + static_cast<uint64_t>(t));
      std::vector<double> mine;
      while (!failed.load()) {
        uint64_t first = claimed.fetch_add(static_cast<uint64_t>(per_call));
        if (first >= total) break;
        uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(per_call), total - first);
        std::vector<store::NewEvent> events;
        events.reserve(n);
        for (uint64_t i = 0; i < n; ++i) events.push_back(MakeEvent(rng, children));
        auto t0 = Clock::now();
        auto seqs = store.AppendEvents(std::move(events));
        mine.push_back(Micros(Clock::now() - t0));
        if (!seqs.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          failure = seqs.status();
          failed = true;
          break;
        }
        uint64_t now_done = done.fetch_add(n) + n;
        if (progress && now_done / 100'000 != (now_done - n) / 100'000) {
          double s = std::chrono::duration<double>(Clock::now() - start).count();
          std::fprintf(stderr, "\r  appended %llu / %llu (%.0f events/s)   ", static_cast<unsigned long long>(now_done),
                       static_cast<unsigned long long>(total), static_cast<double>(now_done) / s);
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      latencies.insert(latencies.end(), mine.begin(), mine.end());
    });
  }
  for (auto& w : workers) w.join();
  if (progress) std::fprintf(stderr, "\r%70s\r", "");
  if (failed) return failure;
  AppendResult r;
  r.events = done.load();
  r.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  r.call_us = Summarise(std::move(latencies));
  return r;
}

struct ProofResult {
  Percentiles total_us, store_us;
  size_t path_length = 0;
};

// Like AuditService.GetInclusionProof and then the DPO's check: the path and the leaf hash
// from the stored hashes, verified against the root.
absl::StatusOr<ProofResult> Proofs(store::Store& store, uint64_t size, int count) {
  audit::HashStore& hashes = store.LogHashes();
  absl::StatusOr<audit::Hash> root = audit::RootHash(hashes, size);
  if (!root.ok()) return root.status();
  std::mt19937_64 rng(7);
  std::vector<double> total, from_store;
  ProofResult r;
  for (int i = 0; i < count; ++i) {
    uint64_t seq = rng() % size;
    auto t0 = Clock::now();
    auto path = audit::InclusionProof(hashes, seq, size);
    if (!path.ok()) return path.status();
    auto leaf = hashes.Get(0, seq);
    if (!leaf.ok()) return leaf.status();
    auto t1 = Clock::now();
    absl::Status ok = audit::VerifyInclusion(*leaf, seq, size, *path, *root);
    auto t2 = Clock::now();
    if (!ok.ok()) return absl::InternalError(absl::StrCat("proof of ", seq, " does not verify: ", ok.message()));
    total.push_back(Micros(t2 - t0));
    from_store.push_back(Micros(t1 - t0));
    r.path_length = std::max(r.path_length, path->size());
  }
  r.total_us = Summarise(std::move(total));
  r.store_us = Summarise(std::move(from_store));
  return r;
}

struct QueryResult {
  Percentiles us;
  double events_per_child = 0;
};

// A DPO's "everything about this child": all of one subject's events, details opened.
absl::StatusOr<QueryResult> Queries(store::Store& store, uint64_t children, int count) {
  std::mt19937_64 rng(11);
  std::vector<double> times;
  uint64_t events = 0;
  for (int i = 0; i < count; ++i) {
    store::EventFilter filter;
    filter.subject_id = SubjectId(rng() % children);
    auto t0 = Clock::now();
    uint64_t n = 0;
    for (uint64_t from = 0;;) {
      auto page = store.QueryEvents(filter, from, 1000);
      if (!page.ok()) return page.status();
      n += page->size();
      if (page->size() < 1000) break;
      from = page->back().sequence + 1;
    }
    times.push_back(Micros(Clock::now() - t0));
    events += n;
  }
  QueryResult r;
  r.us = Summarise(std::move(times));
  r.events_per_child = static_cast<double>(events) / count;
  return r;
}

int Run(int argc, char** argv) {
  Options o;
  if (!ParseOptions(argc, argv, &o)) {
    std::cerr << "usage: accord-log-bench [--events N] [--threads T] [--batch B] [--proofs P] [--queries Q]\n"
                 "                        [--events-per-child K] [--dir DIR] [--json FILE]\n";
    return 2;
  }
  fs::path dir;
  bool remove_dir = false;
  if (o.dir.empty()) {
    std::string tmpl = (fs::temp_directory_path() / "accord-log-bench-XXXXXX").string();
    if (!mkdtemp(tmpl.data())) {
      std::perror("mkdtemp");
      return 1;
    }
    dir = tmpl;
    remove_dir = true;
  } else {
    dir = o.dir;
    fs::create_directories(dir);
  }
  struct Cleanup {
    fs::path dir;
    bool remove;
    ~Cleanup() {
      std::error_code ec;
      if (remove) fs::remove_all(dir, ec);
    }
  } cleanup{dir, remove_dir};

  const fs::path db = dir / "accord.db";
  auto opened = store::OpenSqliteStore(db);
  if (!opened.ok()) {
    std::cerr << "accord-log-bench: " << opened.status() << "\n";
    return 1;
  }
  store::Store& store = **opened;
  const uint64_t children = std::max<uint64_t>(1, o.events / static_cast<uint64_t>(o.events_per_child));
  auto fail = [](const char* phase, const absl::Status& s) {
    std::cerr << "accord-log-bench: " << phase << ": " << s << "\n";
    return 1;
  };

  std::cerr << "Filling the log to " << o.events << " events (" << o.threads << " threads × " << o.batch
            << " events per AppendEvents, durable) in " << db.string() << "\n";
  auto batched = Append(store, o.events, o.threads, o.batch, children, 1, /*progress=*/true);
  if (!batched.ok()) return fail("append", batched.status());

  // What one RPC's commit costs: one event per call, many callers sharing each fsync.
  const uint64_t single_total = std::min<uint64_t>(20'000, std::max<uint64_t>(o.events / 50, 200));
  auto single = Append(store, single_total, o.threads, 1, children, 2, /*progress=*/false);
  if (!single.ok()) return fail("append (one per call)", single.status());

  auto size = store.LogSize();
  if (!size.ok()) return fail("log size", size.status());
  auto proofs = Proofs(store, *size, o.proofs);
  if (!proofs.ok()) return fail("proofs", proofs.status());
  auto queries = Queries(store, children, o.queries);
  if (!queries.ok()) return fail("queries", queries.status());

  std::error_code ec;
  uintmax_t bytes = fs::file_size(db, ec);
  uintmax_t wal = fs::file_size(dir / "accord.db-wal", ec);
  if (ec) wal = 0;
  const double batched_rate = static_cast<double>(batched->events) / batched->seconds;
  const double single_rate = static_cast<double>(single->events) / single->seconds;

  std::printf("Sharing log benchmark: %llu events in the log, %llu children (~%d events each), SQLite %.0f MB\n",
              static_cast<unsigned long long>(*size), static_cast<unsigned long long>(children), o.events_per_child,
              static_cast<double>(bytes + wal) / 1e6);
  std::printf("%-52s %14s %12s %12s\n", "measure", "rate / median", "p99", "target");
  std::printf("%-52s %10.0f /s %9.1f ms %12s\n",
              absl::StrFormat("durable appends, %d threads × %d events/call", o.threads, o.batch).c_str(), batched_rate,
              batched->call_us.p99 / 1000, ">=100000/s");
  std::printf("%-52s %10.0f /s %9.1f ms %12s\n",
              absl::StrFormat("durable appends, %d threads × 1 event/call", o.threads).c_str(), single_rate,
              single->call_us.p99 / 1000, "");
  std::printf("%-52s %10.1f us %9.1f us %12s\n",
              absl::StrFormat("inclusion proof from store + verify (%zu hashes)", proofs->path_length).c_str(),
              proofs->total_us.median, proofs->total_us.p99, "< 1 ms");
  std::printf("%-52s %10.1f us %9.1f us %12s\n", "  of which reading the stored hashes", proofs->store_us.median,
              proofs->store_us.p99, "");
  std::printf("%-52s %10.2f ms %9.2f ms %12s\n",
              absl::StrFormat("one child's events (QueryEvents, avg %.1f events)", queries->events_per_child).c_str(),
              queries->us.median / 1000, queries->us.p99 / 1000, "< 20 ms");

  if (!o.json.empty()) {
    std::ofstream out(o.json, std::ios::trunc);
    out << absl::StrFormat(
        "{\n  \"log_size\": %d,\n  \"children\": %d,\n  \"db_bytes\": %d,\n"
        "  \"append_batched\": {\"threads\": %d, \"events_per_call\": %d, \"events\": %d, \"seconds\": %.3f, "
        "\"events_per_second\": %.0f, \"call_p50_us\": %.0f, \"call_p99_us\": %.0f},\n"
        "  \"append_single\": {\"threads\": %d, \"events_per_call\": 1, \"events\": %d, \"seconds\": %.3f, "
        "\"events_per_second\": %.0f, \"call_p50_us\": %.0f, \"call_p99_us\": %.0f},\n"
        "  \"inclusion_proof\": {\"count\": %d, \"path_length\": %d, \"median_us\": %.1f, \"p99_us\": %.1f, "
        "\"store_median_us\": %.1f, \"store_p99_us\": %.1f},\n"
        "  \"child_query\": {\"count\": %d, \"events_per_child\": %.1f, \"median_ms\": %.3f, \"p99_ms\": %.3f}\n}\n",
        *size, children, bytes + wal, o.threads, o.batch, batched->events, batched->seconds, batched_rate,
        batched->call_us.median, batched->call_us.p99, o.threads, single->events, single->seconds, single_rate,
        single->call_us.median, single->call_us.p99, o.proofs, proofs->path_length, proofs->total_us.median,
        proofs->total_us.p99, proofs->store_us.median, proofs->store_us.p99, o.queries, queries->events_per_child,
        queries->us.median / 1000, queries->us.p99 / 1000);
    if (!out) {
      std::cerr << "accord-log-bench: cannot write " << o.json << "\n";
      return 1;
    }
  }
  return 0;
}

}  // namespace
}  // namespace accord::bench

int main(int argc, char** argv) { return accord::bench::Run(argc, argv); }
