// accord-bench's load generator: unary calls over several connections with the gRPC callback API,
// either as fast as the server answers (closed loop: a fixed number of calls in flight on each
// connection) or at a fixed offered rate (open loop: calls start on schedule whatever the server's
// pace, and latency counts from the scheduled start, so a server that falls behind shows its
// queueing instead of slowing the client down — no coordinated omission).
//
// While the load runs, the server process's CPU time and resident memory are read from
// /proc/<pid>/stat and /proc/<pid>/status, and the client's own CPU time from /proc/self/stat:
// on a small machine client and server share the cores, and the reader should see both.
#ifndef ACCORD_TESTS_BENCH_LOAD_H_
#define ACCORD_TESTS_BENCH_LOAD_H_

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

namespace accord::bench {

using Clock = std::chrono::steady_clock;

// Starts one call on one connection. `done` runs exactly once, on a gRPC thread, when the call
// has ended (successfully or not). Start may be called from any thread, including from `done`.
class CallStarter {
 public:
  virtual ~CallStarter() = default;
  virtual void Start(std::function<void(const grpc::Status&)> done) = 0;
};

// A typed unary RPC through its callback-API method. `invoke(ctx, request, response, done)`
// calls e.g. `stub->async()->CheckSharing(...)`; the requests are used in turn (so a scenario can
// spread its calls over many children), each call gets a fresh context with `deadline`.
template <typename Request, typename Response>
class UnaryStarter : public CallStarter {
 public:
  using Invoke = std::function<void(grpc::ClientContext*, const Request*, Response*, std::function<void(grpc::Status)>)>;

  UnaryStarter(Invoke invoke, std::shared_ptr<const std::vector<Request>> requests, std::chrono::milliseconds deadline)
      : invoke_(std::move(invoke)), requests_(std::move(requests)), deadline_(deadline) {}

  // Waits for the last call's callback to have returned (the channel may go right after).
  ~UnaryStarter() override {
    while (live_.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }

  void Start(std::function<void(const grpc::Status&)> done) override {
    live_.fetch_add(1);
    auto* call = new Call;
    call->ctx.set_deadline(std::chrono::system_clock::now() + deadline_);
    const Request* request = &(*requests_)[next_.fetch_add(1, std::memory_order_relaxed) % requests_->size()];
    invoke_(&call->ctx, request, &call->response, [this, call, done = std::move(done)](grpc::Status status) {
      done(status);
      delete call;
      live_.fetch_sub(1);
    });
  }

 private:
  struct Call {
    grpc::ClientContext ctx;
    Response response;
  };
  Invoke invoke_;
  std::shared_ptr<const std::vector<Request>> requests_;
  std::chrono::milliseconds deadline_;
  std::atomic<uint64_t> next_{0};
  std::atomic<int> live_{0};
};

struct LoadOptions {
  double warmup_seconds = 1;    // calls run but are not counted
  double duration_seconds = 5;  // the measured window
  int inflight = 32;            // closed loop: calls in flight per connection
  double rate = 0;              // open loop: calls/s offered over all connections; 0 = closed loop
  int max_outstanding = 1000;  // open loop: beyond this a scheduled call is counted as not started
};

struct Latency {
  uint64_t count = 0;
  double mean_us = 0, p50_us = 0, p90_us = 0, p99_us = 0, p999_us = 0, max_us = 0;
};

// CPU and memory of one process over the measured window.
struct Usage {
  double cpu_percent = 0;  // of one core (a 2-core machine tops out at 200)
  uint64_t rss_peak_bytes = 0;
  uint64_t rss_end_bytes = 0;
  int threads_peak = 0;
};

struct LoadResult {
  double offered_rate = 0;  // 0 = closed loop
  double seconds = 0;       // the measured window
  uint64_t ok = 0;
  uint64_t errors = 0;
  uint64_t not_started = 0;  // open loop: scheduled calls dropped because too many were outstanding
  std::map<std::string, uint64_t> errors_by_code;
  std::string first_error;
  double throughput = 0;  // successful calls/s in the window
  Latency latency;        // of the successful calls
  Usage server;
  Usage client;
};

// Drives one starter per connection (the vector's size is the connection count) against the
// server process `server_pid`. Blocks until every call it started has finished.
LoadResult RunLoad(const std::vector<CallStarter*>& connections, const LoadOptions& options, pid_t server_pid);

// /proc readings; 0 when the process is gone.
double ProcessCpuSeconds(pid_t pid);
uint64_t ProcessRssBytes(pid_t pid);
int ProcessThreads(pid_t pid);

}  // namespace accord::bench

#endif  // ACCORD_TESTS_BENCH_LOAD_H_
