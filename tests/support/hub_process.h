// A real accord-hub for integration tests: a fresh data directory set up with the real
// accordctl, the real daemon started as a child process on a free loopback port, and helpers to
// enrol partners and open mTLS channels with their bundles.
#ifndef ACCORD_TESTS_SUPPORT_HUB_PROCESS_H_
#define ACCORD_TESTS_SUPPORT_HUB_PROCESS_H_

#include <sys/types.h>

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace grpc {
class Channel;
}

namespace accord::testsupport {

// Runs a program to completion; returns its exit code, with stdout+stderr in *output.
int RunProgram(const std::vector<std::string>& argv, std::string* output);

// The paths of the binaries under test (set by the build).
std::string HubBinary();
std::string AccordctlBinary();

class HubProcess {
 public:
  // `config_extra` is spliced into hub.json's top-level object (e.g. R"("limits": {...})").
  explicit HubProcess(std::string config_extra = "");
  ~HubProcess();

  // Starts the daemon and waits until it serves (hub.addr written). False when it exited.
  bool Start();
  // Sends `signal` and waits for the exit code.
  int Stop(int signal);
  bool running() const { return pid_ > 0; }
  // The daemon's process id while it runs (for /proc readings), else -1.
  pid_t pid() const { return pid_; }

  const std::filesystem::path& data_dir() const { return dir_.path(); }
  const std::string& address() const { return address_; }
  // Everything the daemon printed so far.
  std::string Log() const;

  // `accordctl ARGS... --data-dir DIR`; returns the exit code, output in *output.
  int Accordctl(std::vector<std::string> args, std::string* output = nullptr) const;
  // Enrols a partner with accordctl and returns its bundle directory.
  std::filesystem::path Enrol(const std::string& id, const std::string& name, const std::string& sector,
                              const std::string& roles) const;
  // An mTLS channel to this hub made with the SDK from a bundle.
  std::shared_ptr<grpc::Channel> Channel(const std::filesystem::path& bundle) const;

 private:
  TempDir dir_;
  std::string address_;
  pid_t pid_ = -1;
};

}  // namespace accord::testsupport

#endif  // ACCORD_TESTS_SUPPORT_HUB_PROCESS_H_
