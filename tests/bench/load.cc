#include "tests/bench/load.h"

#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

namespace accord::bench {
namespace {

// What the completions of one connection record; one mutex per connection keeps the callbacks of
// different connections from contending.
struct Shard {
  std::mutex mu;
  std::vector<double> latencies_us;
  uint64_t errors = 0;
  std::map<std::string, uint64_t> errors_by_code;
  std::string first_error;
};

std::string CodeName(grpc::StatusCode code) {
  switch (code) {
    case grpc::StatusCode::CANCELLED: return "CANCELLED";
    case grpc::StatusCode::UNKNOWN: return "UNKNOWN";
    case grpc::StatusCode::INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case grpc::StatusCode::DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case grpc::StatusCode::NOT_FOUND: return "NOT_FOUND";
    case grpc::StatusCode::ALREADY_EXISTS: return "ALREADY_EXISTS";
    case grpc::StatusCode::PERMISSION_DENIED: return "PERMISSION_DENIED";
    case grpc::StatusCode::RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case grpc::StatusCode::FAILED_PRECONDITION: return "FAILED_PRECONDITION";
    case grpc::StatusCode::ABORTED: return "ABORTED";
    case grpc::StatusCode::OUT_OF_RANGE: return "OUT_OF_RANGE";
    case grpc::StatusCode::UNIMPLEMENTED: return "UNIMPLEMENTED";
    case grpc::StatusCode::INTERNAL: return "INTERNAL";
    case grpc::StatusCode::UNAVAILABLE: return "UNAVAILABLE";
    case grpc::StatusCode::DATA_LOSS: return "DATA_LOSS";
    case grpc::StatusCode::UNAUTHENTICATED: return "UNAUTHENTICATED";
    default: return "CODE_" + std::to_string(static_cast<int>(code));
  }
}

void Record(Shard& shard, const grpc::Status& status, Clock::duration latency) {
  std::lock_guard<std::mutex> lock(shard.mu);
  if (status.ok()) {
    shard.latencies_us.push_back(std::chrono::duration<double, std::micro>(latency).count());
    return;
  }
  ++shard.errors;
  ++shard.errors_by_code[CodeName(status.error_code())];
  if (shard.first_error.empty()) shard.first_error = CodeName(status.error_code()) + ": " + status.error_message();
}

Latency Summarise(std::vector<double> v) {
  Latency l;
  if (v.empty()) return l;
  std::sort(v.begin(), v.end());
  auto at = [&](double q) {
    size_t i = static_cast<size_t>(q * static_cast<double>(v.size()));
    return v[std::min(v.size() - 1, i)];
  };
  double sum = 0;
  for (double x : v) sum += x;
  l.count = v.size();
  l.mean_us = sum / static_cast<double>(v.size());
  l.p50_us = at(0.50);
  l.p90_us = at(0.90);
  l.p99_us = at(0.99);
  l.p999_us = at(0.999);
  l.max_us = v.back();
  return l;
}

// Samples a process's resident memory every 50 ms while alive; CPU from the difference of two
// readings of its user+system time.
class UsageMonitor {
 public:
  explicit UsageMonitor(pid_t pid) : pid_(pid) {}
  ~UsageMonitor() { Stop(); }

  void Begin() {
    cpu_start_ = ProcessCpuSeconds(pid_);
    start_ = Clock::now();
    peak_ = ProcessRssBytes(pid_);
    threads_ = ProcessThreads(pid_);
    thread_ = std::thread([this] {
      std::unique_lock<std::mutex> lock(mu_);
      while (!cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stop_; })) {
        peak_ = std::max(peak_, ProcessRssBytes(pid_));
        threads_ = std::max(threads_, ProcessThreads(pid_));
      }
    });
  }

  Usage End() {
    Usage u;
    double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    u.cpu_percent = seconds > 0 ? 100 * (ProcessCpuSeconds(pid_) - cpu_start_) / seconds : 0;
    u.rss_end_bytes = ProcessRssBytes(pid_);
    Stop();
    u.rss_peak_bytes = std::max(peak_, u.rss_end_bytes);
    u.threads_peak = std::max(threads_, ProcessThreads(pid_));
    return u;
  }

 private:
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  pid_t pid_;
  double cpu_start_ = 0;
  Clock::time_point start_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t peak_ = 0;
  int threads_ = 0;
  std::thread thread_;
};

// Counts calls in flight so the run can wait for the last one.
class Outstanding {
 public:
  void Add() {
    std::lock_guard<std::mutex> lock(mu_);
    ++n_;
  }
  void Done() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--n_ == 0) cv_.notify_all();
  }
  int Count() {
    std::lock_guard<std::mutex> lock(mu_);
    return n_;
  }
  void WaitZero() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return n_ == 0; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  int n_ = 0;
};

// Closed loop: each completion inside the window is counted, then replaced by a new call on
// the same connection until the window ends. Lives until the last call has finished.
struct ClosedLoop {
  const std::vector<CallStarter*>* connections;
  std::vector<Shard>* shards;
  Outstanding* outstanding;
  Clock::time_point window_start, window_end;

  void Launch(size_t c) {
    const auto started = Clock::now();
    (*connections)[c]->Start([this, c, started](const grpc::Status& status) {
      const auto now = Clock::now();
      if (now >= window_start && now < window_end) Record((*shards)[c], status, now - started);
      if (now < window_end) {
        Launch(c);
      } else {
        outstanding->Done();
      }
    });
  }
};

}  // namespace

double ProcessCpuSeconds(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // The command name is in parentheses and may hold spaces: fields are counted after the last ')'.
  size_t close = text.rfind(')');
  if (close == std::string::npos) return 0;
  std::istringstream fields(text.substr(close + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  // After ')' come field 3 (state) onwards; utime and stime are fields 14 and 15.
  for (int i = 3; i <= 15 && fields >> field; ++i) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return static_cast<double>(utime + stime) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

namespace {

// A number field of /proc/<pid>/status ("VmRSS:   1234 kB", "Threads:  12").
uint64_t StatusField(pid_t pid, const std::string& name) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(name, 0) == 0) return std::stoull(line.substr(name.size()));
  }
  return 0;
}

}  // namespace

uint64_t ProcessRssBytes(pid_t pid) { return StatusField(pid, "VmRSS:") * 1024; }

int ProcessThreads(pid_t pid) { return static_cast<int>(StatusField(pid, "Threads:")); }

LoadResult RunLoad(const std::vector<CallStarter*>& connections, const LoadOptions& options, pid_t server_pid) {
  const size_t n = connections.size();
  std::vector<Shard> shards(n);
  Outstanding outstanding;
  const auto begin = Clock::now();
  const auto window_start = begin + std::chrono::duration_cast<Clock::duration>(
                                        std::chrono::duration<double>(options.warmup_seconds));
  const auto window_end = window_start + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(options.duration_seconds));
  UsageMonitor server(server_pid), client(getpid());
  uint64_t not_started = 0;

  // The monitors cover the measured window only.
  std::thread window([&] {
    std::this_thread::sleep_until(window_start);
    server.Begin();
    client.Begin();
  });

  ClosedLoop loop{&connections, &shards, &outstanding, window_start, window_end};
  if (options.rate <= 0) {
    for (size_t c = 0; c < n; ++c) {
      for (int i = 0; i < options.inflight; ++i) {
        outstanding.Add();
        loop.Launch(c);
      }
    }
  } else {
    // Open loop: call k is due at begin + k / rate, on connection k mod n. One pacer thread per
    // connection (starting a call costs the client CPU; one thread alone cannot offer what the
    // closed loop reaches) wakes at its next due time and starts everything due, so the average
    // rate is exact even when a sleep overshoots; each call's latency counts from when it was due.
    const double interval_s = 1.0 / options.rate;
    std::atomic<uint64_t> dropped{0};
    std::vector<std::thread> pacers;
    for (size_t c = 0; c < n; ++c) {
      pacers.emplace_back([&, c] {
        Shard* shard = &shards[c];
        Outstanding* out = &outstanding;
        for (uint64_t k = c;; k += n) {
          const auto due = begin + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(static_cast<double>(k) * interval_s));
          if (due >= window_end) break;
          if (Clock::now() < due) std::this_thread::sleep_until(due);
          const bool counted = due >= window_start;
          if (out->Count() >= options.max_outstanding) {
            if (counted) dropped.fetch_add(1);
            continue;
          }
          out->Add();
          connections[c]->Start([shard, out, due, counted](const grpc::Status& status) {
            if (counted) Record(*shard, status, Clock::now() - due);
            out->Done();
          });
        }
      });
    }
    for (auto& p : pacers) p.join();
    not_started = dropped.load();
  }

  std::this_thread::sleep_until(window_end);
  window.join();
  LoadResult r;
  r.server = server.End();
  r.client = client.End();
  outstanding.WaitZero();

  std::vector<double> all;
  for (Shard& s : shards) {
    std::lock_guard<std::mutex> lock(s.mu);
    all.insert(all.end(), s.latencies_us.begin(), s.latencies_us.end());
    r.errors += s.errors;
    for (const auto& [code, count] : s.errors_by_code) r.errors_by_code[code] += count;
    if (r.first_error.empty()) r.first_error = s.first_error;
  }
  r.offered_rate = options.rate > 0 ? options.rate : 0;
  r.seconds = options.duration_seconds;
  r.ok = all.size();
  r.not_started = not_started;
  r.throughput = static_cast<double>(r.ok) / r.seconds;
  r.latency = Summarise(std::move(all));
  return r;
}

}  // namespace accord::bench
