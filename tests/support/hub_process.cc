#include "tests/support/hub_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "accord/sdk/client.h"

namespace accord::testsupport {
namespace {

std::string ReadAll(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// fork + exec with stdout/stderr to `out_file`; the child dies with the test process.
pid_t Spawn(const std::vector<std::string>& argv, const std::filesystem::path& out_file) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  int fd = open(out_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  dup2(fd, 1);
  dup2(fd, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  execv(args[0], args.data());
  _exit(127);
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}

}  // namespace

std::string HubBinary() { return ACCORD_HUB_BINARY; }
std::string AccordctlBinary() { return ACCORDCTL_BINARY; }

int RunProgram(const std::vector<std::string>& argv, std::string* output) {
  TempDir scratch;
  auto out = scratch.path() / "out.txt";
  int code = WaitExit(Spawn(argv, out));
  if (output) *output = ReadAll(out);
  return code;
}

HubProcess::HubProcess(std::string config_extra) {
  std::string out;
  int code = Accordctl({"ca", "init", "--listen", "127.0.0.1:0"}, &out);
  if (code != 0) throw std::runtime_error("accordctl ca init failed: " + out);
  if (!config_extra.empty()) {
    std::string config = ReadAll(dir_.path() / "hub.json");
    config.insert(config.find('{') + 1, "\n  " + config_extra + ",");
    std::ofstream(dir_.path() / "hub.json") << config;
  }
}

HubProcess::~HubProcess() {
  if (pid_ > 0) Stop(SIGKILL);
}

bool HubProcess::Start() {
  std::filesystem::remove(dir_.path() / "hub.addr");
  pid_ = Spawn({HubBinary(), "--config", (dir_.path() / "hub.json").string()}, dir_.path() / "hub.log");
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < deadline) {
    std::string addr = ReadAll(dir_.path() / "hub.addr");
    if (!addr.empty() && addr.back() == '\n') {
      address_ = addr.substr(0, addr.size() - 1);
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

int HubProcess::Stop(int signal) {
  if (pid_ <= 0) return -1;
  kill(pid_, signal);
  int code = WaitExit(pid_);
  pid_ = -1;
  return code;
}

std::string HubProcess::Log() const { return ReadAll(dir_.path() / "hub.log"); }

int HubProcess::Accordctl(std::vector<std::string> args, std::string* output) const {
  args.insert(args.begin(), AccordctlBinary());
  args.push_back("--data-dir");
  args.push_back(dir_.path().string());
  return RunProgram(args, output);
}

std::filesystem::path HubProcess::Enrol(const std::string& id, const std::string& name, const std::string& sector,
                                        const std::string& roles) const {
  std::string out;
  int code = Accordctl({"partner", "enrol", "--id", id, "--name", name, "--sector", sector, "--roles", roles}, &out);
  if (code != 0) throw std::runtime_error("accordctl partner enrol failed: " + out);
  return dir_.path() / "bundles" / id;
}

std::shared_ptr<grpc::Channel> HubProcess::Channel(const std::filesystem::path& bundle) const {
  auto channel = sdk::Connect(bundle, address_);
  if (!channel.ok()) throw std::runtime_error(std::string(channel.status().message()));
  return *channel;
}

}  // namespace accord::testsupport
