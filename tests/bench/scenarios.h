// What accord-bench measures. A scenario is one kind of call against one server: it prepares what
// its calls need through the hub's real RPCs, checks one answer, and then hands the load
// generator a call starter per connection. Adding a scenario (SubmitReferral, WatchInbox,
// RequestRecords once they exist) is one class here and one line in AllScenarios().
#ifndef ACCORD_TESTS_BENCH_SCENARIOS_H_
#define ACCORD_TESTS_BENCH_SCENARIOS_H_

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "tests/bench/load.h"

namespace grpc {
class Channel;
}

namespace accord::bench {

// The partners the run enrols (ids of their bundles under <data_dir>/bundles/).
inline constexpr const char* kOps = "bench-ops";            // LOCAL_AUTHORITY, ADMIN
inline constexpr const char* kSchool = "bench-school";      // SCHOOL, REFERRER
inline constexpr const char* kCamhs = "bench-camhs";        // HEALTH, PROVIDER + REFERRER
inline constexpr const char* kDpo = "bench-dpo";            // LOCAL_AUTHORITY, DPO
// CAMHS's record system: an in-process plugin holding one child, known there by this id.
inline constexpr const char* kRecordsLocalId = "CAMHS-BENCH-1";

// The hub.json entry that gives CAMHS its in-process record system (the test fixture plugin).
std::string PluginsConfig();

// Where the servers are and what the run has set up.
struct Environment {
  std::filesystem::path data_dir;  // the hub's data directory
  std::string hub_address;
  std::string echo_address;
  pid_t hub_pid = -1;
  pid_t echo_pid = -1;
  uint64_t log_children = 1;  // children of the pre-filled log (tests/bench/sharing_events.h ids)
  int payload_bytes = 128;    // echo payload
  int deadline_ms = 10000;
};

// A new mTLS connection (its own TCP connection, never shared with another channel) to
// `address` with the bundle of partner `partner` — the SDK's TLS settings.
absl::StatusOr<std::shared_ptr<grpc::Channel>> OpenConnection(const Environment& env, const std::string& partner,
                                                              const std::string& address, int index);

class Scenario {
 public:
  virtual ~Scenario() = default;
  // Short id used in JSON and on the command line ("check_sharing").
  virtual std::string id() const = 0;
  // What a reader sees in the table ("ConsentService.CheckSharing").
  virtual std::string title() const = 0;
  // The DESIGN.md §6 share of echo throughput it must reach; 0 when there is none.
  virtual double target_ratio() const { return 0; }
  // Non-empty when the scenario cannot run in this build (the RPC does not exist yet): why.
  virtual std::string unavailable() const { return ""; }
  // The partner whose bundle the calls use.
  virtual std::string caller() const = 0;
  // Messages one call receives: 1 for a unary call; a stream scenario's items per stream. Its rate
  // (calls/s × items) is what is compared with echo's calls/s.
  virtual int items_per_call() const { return 1; }
  // True when the calls go to the echo server rather than the hub.
  virtual bool on_echo() const { return false; }
  // Creates what the calls need, through the hub's RPCs, then makes one call and checks its answer.
  virtual absl::Status Prepare(const Environment& env) = 0;
  // One call starter for one connection; called after Prepare.
  virtual std::unique_ptr<CallStarter> Starter(const Environment& env, std::shared_ptr<grpc::Channel> channel) = 0;
};

// Every scenario, the ceiling (echo) first.
std::vector<std::unique_ptr<Scenario>> AllScenarios();

}  // namespace accord::bench

#endif  // ACCORD_TESTS_BENCH_SCENARIOS_H_
