#include "hub/plugins/adapters.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <thread>

#include <grpcpp/grpcpp.h>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "accord/plugin/v1/adapter.grpc.pb.h"
#include "hub/plugins/library.h"

namespace accord::plugins {

absl::string_view AdapterStateName(AdapterState state) {
  switch (state) {
    case AdapterState::kStarting:
      return "STARTING";
    case AdapterState::kAvailable:
      return "AVAILABLE";
    case AdapterState::kUnavailable:
      return "UNAVAILABLE";
    case AdapterState::kStopped:
      return "STOPPED";
  }
  return "UNKNOWN";
}

namespace {

constexpr absl::Duration kStopGrace = absl::Seconds(2);

absl::Status Unavailable(const std::string& partner_id, AdapterState state, const std::string& detail) {
  return absl::UnavailableError(absl::StrCat("the record system of partner ", partner_id, " is ",
                                             AdapterStateName(state), detail.empty() ? "" : ": ", detail));
}

// ---- In-process ------------------------------------------------------------------------------

class InProcessAdapter final : public PartnerAdapter {
 public:
  InProcessAdapter(std::string partner_id, std::unique_ptr<LoadedAdapter> loaded, std::string error)
      : partner_id_(std::move(partner_id)), loaded_(std::move(loaded)), error_(std::move(error)) {}

  const std::string& partner_id() const override { return partner_id_; }
  AdapterState state() const override { return loaded_ ? AdapterState::kAvailable : AdapterState::kUnavailable; }
  bool Waits() const override { return false; }
  absl::StatusOr<std::string> Invoke(plugin::v1::Method method, const std::string& request, absl::Time) override {
    if (!loaded_) return Unavailable(partner_id_, state(), error_);
    return loaded_->Call(method, request);
  }

 private:
  const std::string partner_id_;
  const std::unique_ptr<LoadedAdapter> loaded_;
  const std::string error_;
};

// ---- Isolated: a supervised accord-plugin-host process -----------------------------------------

absl::StatusCode FromGrpc(grpc::StatusCode code) { return static_cast<absl::StatusCode>(code); }

std::string LastLine(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::string line, last;
  while (std::getline(in, line)) {
    if (!line.empty()) last = line;
  }
  return last;
}

std::string DescribeExit(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exited with code ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("was killed by signal ", WTERMSIG(status), " (", strsignal(WTERMSIG(status)), ")");
  return "stopped";
}

int WaitChild(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return status;
}

class IsolatedAdapter final : public PartnerAdapter {
 public:
  IsolatedAdapter(PluginSettings settings, std::filesystem::path host_binary, std::filesystem::path socket_dir,
                  std::filesystem::path log_file, StateListener listener)
      : settings_(std::move(settings)),
        host_binary_(std::move(host_binary)),
        socket_(socket_dir / absl::StrCat(settings_.partner_id, ".sock")),
        config_file_(socket_dir / absl::StrCat(settings_.partner_id, ".json")),
        log_file_(std::move(log_file)),
        listener_(std::move(listener)) {
    supervisor_ = std::thread([this] { Supervise(); });
  }

  ~IsolatedAdapter() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
      if (pid_ > 0) kill(pid_, SIGTERM);
      // A host that does not stop within the grace is killed.
      if (!mu_.AwaitWithTimeout(absl::Condition(this, &IsolatedAdapter::StoppedLocked), kStopGrace) && pid_ > 0) {
        kill(pid_, SIGKILL);
      }
    }
    supervisor_.join();
  }

  const std::string& partner_id() const override { return settings_.partner_id; }

  AdapterState state() const override {
    absl::MutexLock lock(&mu_);
    return state_;
  }

  absl::StatusOr<std::string> Invoke(plugin::v1::Method method, const std::string& request,
                                     absl::Time deadline) override {
    std::shared_ptr<plugin::v1::PluginHost::Stub> stub;
    pid_t pid;
    {
      absl::MutexLock lock(&mu_);
      if (state_ != AdapterState::kAvailable) return Unavailable(settings_.partner_id, state_, detail_);
      stub = stub_;
      pid = pid_;
    }
    const absl::Time own_deadline = absl::Now() + settings_.call_timeout;
    const bool own_binds = own_deadline < deadline;
    grpc::ClientContext ctx;
    ctx.set_deadline(absl::ToChronoTime(std::min(deadline, own_deadline)));
    plugin::v1::InvokeRequest req;
    req.set_method(method);
    req.set_request(request);
    plugin::v1::InvokeResponse resp;
    grpc::Status s = stub->Invoke(&ctx, req, &resp);
    if (s.ok() && resp.code() != 0) {
      const bool known = resp.code() > 0 && resp.code() <= static_cast<int32_t>(absl::StatusCode::kUnauthenticated);
      return absl::Status(known ? static_cast<absl::StatusCode>(resp.code()) : absl::StatusCode::kInternal,
                          resp.message());
    }
    if (s.ok()) return std::move(*resp.mutable_response());
    if (s.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
      if (own_binds) {
        // A plugin that hangs would tie up its host's threads: restart it.
        absl::MutexLock lock(&mu_);
        if (pid_ == pid && pid > 0) kill(pid, SIGKILL);
      }
      if (!own_binds) {
        return absl::DeadlineExceededError(absl::StrCat("the call's deadline passed before the record system of partner ",
                                                        settings_.partner_id, " answered"));
      }
      return absl::DeadlineExceededError(absl::StrCat("the record system of partner ", settings_.partner_id,
                                                      " did not answer within ",
                                                      absl::FormatDuration(settings_.call_timeout),
                                                      "; its plugin host is being restarted"));
    }
    if (s.error_code() == grpc::StatusCode::UNAVAILABLE) {
      return absl::UnavailableError(absl::StrCat("the plugin host of partner ", settings_.partner_id,
                                                 " stopped during the call: ", s.error_message()));
    }
    return absl::Status(FromGrpc(s.error_code()), s.error_message());
  }

 private:
  void SetState(AdapterState state, std::string detail) {
    {
      absl::MutexLock lock(&mu_);
      state_ = state;
      detail_ = detail;
    }
    if (listener_) listener_(settings_.partner_id, state, detail);
  }

  bool StoppedLocked() const ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return state_ == AdapterState::kStopped; }

  bool Stopping() {
    absl::MutexLock lock(&mu_);
    return stopping_;
  }

  void Supervise() {
    absl::Duration backoff = settings_.initial_backoff;
    std::string last_failure;
    while (!Stopping()) {
      SetState(AdapterState::kStarting, last_failure.empty() ? "" : absl::StrCat("again; last time ", last_failure));
      const absl::Time started = absl::Now();
      absl::StatusOr<pid_t> pid = Spawn();
      std::string detail;
      if (pid.ok()) {
        SetState(AdapterState::kAvailable, "");
        detail = absl::StrCat("its plugin host ", DescribeExit(WaitChild(*pid)));
        std::string last = LastLine(log_file_);
        if (!last.empty()) absl::StrAppend(&detail, "; last log line: ", last);
      } else {
        detail = std::string(pid.status().message());
      }
      {
        absl::MutexLock lock(&mu_);
        pid_ = -1;
        stub_.reset();
        if (stopping_) break;
      }
      // A host that ran for a good while earns a fresh back-off.
      if (absl::Now() - started > settings_.max_backoff) backoff = settings_.initial_backoff;
      last_failure = detail;
      SetState(AdapterState::kUnavailable, absl::StrCat(detail, "; restarting in ", absl::FormatDuration(backoff)));
      absl::MutexLock lock(&mu_);
      mu_.AwaitWithTimeout(absl::Condition(&stopping_), backoff);
      backoff = std::min(backoff * 2, settings_.max_backoff);
    }
    SetState(AdapterState::kStopped, "");
  }

  // Starts a host and waits until it serves; returns its pid.
  absl::StatusOr<pid_t> Spawn() {
    absl::StatusOr<std::string> sha = FileSha256(settings_.library);
    if (!sha.ok()) return sha.status();
    if (*sha != settings_.sha256) {
      return absl::FailedPreconditionError(absl::StrCat(settings_.library.string(), ": SHA-256 is ", *sha,
                                                        ", the configuration pins ", settings_.sha256, "; not loaded"));
    }
    {
      std::ofstream out(config_file_, std::ios::trunc);
      out << settings_.config_json;
      if (!out) return absl::InternalError(absl::StrCat("cannot write ", config_file_.string()));
    }
    ::chmod(config_file_.c_str(), 0600);
    std::filesystem::remove(socket_);

    int ready[2];
    if (pipe2(ready, O_CLOEXEC) != 0) return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
    int log_fd = open(log_file_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
    if (log_fd < 0) {
      close(ready[0]);
      close(ready[1]);
      return absl::InternalError(absl::StrCat("cannot open ", log_file_.string(), ": ", strerror(errno)));
    }
    // Everything the child needs is prepared before fork: after it, only async-signal-safe calls.
    std::vector<std::string> args = {host_binary_.string(), "--library", settings_.library.string(),
                                     "--sha256", settings_.sha256, "--config", config_file_.string(),
                                     "--socket", socket_.string(), "--ready-fd", "3"};
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    const pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL);  // dies with the hub: no orphans
      // The hub's threads block the signals it waits for; the host starts with none blocked.
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      if (getppid() != parent) _exit(1);
      dup2(ready[1], 3);
      dup2(log_fd, 1);
      dup2(log_fd, 2);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(ready[1]);
    close(log_fd);
    if (pid < 0) {
      close(ready[0]);
      return absl::InternalError(absl::StrCat("fork: ", strerror(errno)));
    }
    {
      absl::MutexLock lock(&mu_);
      pid_ = pid;
    }
    std::string line;
    absl::Status status = ReadReady(ready[0], &line);
    close(ready[0]);
    if (status.ok() && !absl::StartsWith(line, "READY")) {
      absl::string_view why = line;
      absl::ConsumePrefix(&why, "ERROR ");
      status = absl::FailedPreconditionError(absl::StrCat("the plugin did not start: ", why));
    }
    if (!status.ok()) {
      kill(pid, SIGKILL);
      int exit_status = WaitChild(pid);
      absl::MutexLock lock(&mu_);
      pid_ = -1;
      if (line.empty()) {
        std::string last = LastLine(log_file_);
        return absl::UnavailableError(absl::StrCat("its plugin host ", DescribeExit(exit_status), " at start",
                                                   last.empty() ? "" : ": ", last));
      }
      return status;
    }
    auto channel = grpc::CreateChannel(absl::StrCat("unix:", socket_.string()), grpc::InsecureChannelCredentials());
    absl::MutexLock lock(&mu_);
    stub_ = plugin::v1::PluginHost::NewStub(channel);
    return pid;
  }

  // Reads the host's first line ("READY …" or "ERROR …") within the start timeout. OK with an
  // empty line when the host closed the pipe without a word (it exited).
  absl::Status ReadReady(int fd, std::string* line) {
    const absl::Time deadline = absl::Now() + settings_.start_timeout;
    char buffer[512];
    for (;;) {
      int wait_ms = static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now()));
      if (wait_ms <= 0) {
        return absl::DeadlineExceededError(absl::StrCat("the plugin host did not start within ",
                                                        absl::FormatDuration(settings_.start_timeout)));
      }
      pollfd p{fd, POLLIN, 0};
      int n = poll(&p, 1, wait_ms);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) continue;
      ssize_t got = read(fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) return absl::OkStatus();
      line->append(buffer, static_cast<size_t>(got));
      if (size_t nl = line->find('\n'); nl != std::string::npos) {
        line->resize(nl);
        return absl::OkStatus();
      }
    }
  }

  const PluginSettings settings_;
  const std::filesystem::path host_binary_, socket_, config_file_, log_file_;
  const StateListener listener_;
  mutable absl::Mutex mu_;
  AdapterState state_ ABSL_GUARDED_BY(mu_) = AdapterState::kStarting;
  std::string detail_ ABSL_GUARDED_BY(mu_);
  pid_t pid_ ABSL_GUARDED_BY(mu_) = -1;
  std::shared_ptr<plugin::v1::PluginHost::Stub> stub_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread supervisor_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<Adapters>> Adapters::Start(std::vector<PluginSettings> plugins,
                                                          const std::filesystem::path& host_binary,
                                                          const std::filesystem::path& log_dir,
                                                          StateListener listener) {
  std::unique_ptr<Adapters> adapters(new Adapters());
  if (plugins.empty()) return adapters;
  std::string pattern = (std::filesystem::temp_directory_path() / "accord-plugins-XXXXXX").string();
  if (mkdtemp(pattern.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("cannot make a private socket directory: ", strerror(errno)));
  }
  adapters->socket_dir_ = pattern;  // mkdtemp makes it 0700
  std::error_code ec;
  std::filesystem::create_directories(log_dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot make ", log_dir.string(), ": ", ec.message()));
  for (PluginSettings& p : plugins) {
    std::string partner = p.partner_id;
    std::unique_ptr<PartnerAdapter> adapter;
    if (p.in_process) {
      std::unique_ptr<LoadedAdapter> loaded;
      std::string error;
      absl::StatusOr<std::shared_ptr<PluginLibrary>> library = PluginLibrary::Load(p.library, p.sha256);
      absl::StatusOr<std::unique_ptr<LoadedAdapter>> created =
          library.ok() ? LoadedAdapter::Create(*library, p.config_json) : library.status();
      if (created.ok()) {
        loaded = std::move(*created);
      } else {
        error = std::string(created.status().message());
      }
      AdapterState state = loaded ? AdapterState::kAvailable : AdapterState::kUnavailable;
      adapter = std::make_unique<InProcessAdapter>(partner, std::move(loaded), error);
      if (listener) listener(partner, state, error);
    } else {
      std::filesystem::path log_file = log_dir / absl::StrCat(partner, ".log");
      adapter = std::make_unique<IsolatedAdapter>(std::move(p), host_binary, adapters->socket_dir_, log_file, listener);
    }
    adapters->by_partner_.emplace(partner, std::move(adapter));
  }
  return adapters;
}

Adapters::~Adapters() {
  by_partner_.clear();  // stops every host
  if (!socket_dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(socket_dir_, ec);
  }
}

PartnerAdapter* Adapters::Find(absl::string_view partner_id) const {
  auto it = by_partner_.find(partner_id);
  return it == by_partner_.end() ? nullptr : it->second.get();
}

}  // namespace accord::plugins
