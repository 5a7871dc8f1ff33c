#include "hub/server/hub.h"

#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <optional>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "absl/synchronization/mutex.h"

#include "absl/strings/str_cat.h"
#include "google/protobuf/util/json_util.h"
#include "hub/plugins/adapters.h"
#include "absl/time/clock.h"
#include "hub/log/log.h"
#include "hub/security/authenticator.h"
#include "hub/security/ca.h"
#include "hub/security/files.h"
#include "hub/server/config.h"
#include "hub/server/audit_service.h"
#include "hub/server/consent_service.h"
#include "hub/server/directory_service.h"
#include "hub/server/referral_service.h"
#include "hub/server/partner_admin_service.h"
#include "hub/server/outbox.h"
#include "hub/server/record_service.h"
#include "hub/server/subject_service.h"
#include "hub/server/workers.h"
#include "hub/store/store.h"

namespace accord::server {
namespace {

constexpr const char* kDatabaseFile = "accord.db";
constexpr const char* kAddressFile = "hub.addr";
// Handler work that waits (durable writes, isolated plugin calls) runs on these threads: enough
// for many writes to share each group commit and for slow record systems not to queue the rest.
constexpr int kWorkerThreads = 16;

// What a client on this machine dials: a wildcard or loopback bind is reached as localhost, the
// name the hub's certificate carries.
std::string DialAddress(const std::string& listen, int port) {
  std::string host = listen.substr(0, listen.rfind(':'));
  if (host == "0.0.0.0" || host == "[::]" || host == "127.0.0.1" || host == "[::1]") host = "localhost";
  return absl::StrCat(host, ":", port);
}

// accord-plugin-host: as configured, or next to this program.
std::filesystem::path PluginHostBinary(const config::v1::HubConfig& config) {
  if (!config.plugin_host_binary().empty()) return config.plugin_host_binary();
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  return self.parent_path() / "accord-plugin-host";
}

std::string HealthName(const std::string& partner_id) { return absl::StrCat("accord.plugins/", partner_id); }

absl::StatusOr<std::vector<plugins::PluginSettings>> PluginSettingsOf(const config::v1::HubConfig& config) {
  std::vector<plugins::PluginSettings> out;
  for (const config::v1::Plugin& p : config.plugins()) {
    plugins::PluginSettings s;
    s.partner_id = p.partner();
    s.library = p.library();
    s.sha256 = p.sha256();
    s.in_process = p.in_process();
    if (!google::protobuf::util::MessageToJsonString(p.config(), &s.config_json).ok()) {
      return absl::InvalidArgumentError(absl::StrCat("plugins.config of ", p.partner(), ": not valid JSON"));
    }
    s.call_timeout = absl::Milliseconds(p.call_timeout_ms());
    s.start_timeout = absl::Milliseconds(p.start_timeout_ms());
    s.initial_backoff = absl::Milliseconds(p.restart_initial_backoff_ms());
    s.max_backoff = absl::Milliseconds(p.restart_max_backoff_ms());
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace

struct Hub::Parts {
  config::v1::HubConfig config;
  std::unique_ptr<store::Store> store;
  std::optional<security::CertificateAuthority> ca;
  std::unique_ptr<security::Authenticator> auth;
  std::unique_ptr<Workers> workers;
  std::unique_ptr<PartnerAdminService> partner_admin;
  std::unique_ptr<SubjectService> subjects;
  std::unique_ptr<ConsentService> consents;
  std::unique_ptr<AuditService> audit;
  // Set once the server runs: plugin state changes go to its health service.
  absl::Mutex health_mu;
  grpc::HealthCheckServiceInterface* health ABSL_GUARDED_BY(health_mu) = nullptr;
  std::unique_ptr<plugins::Adapters> adapters;
  std::unique_ptr<RecordService> records;
  std::unique_ptr<DirectoryService> directory;
  std::unique_ptr<ReferralService> referrals;
  std::unique_ptr<Outbox> outbox;
  std::unique_ptr<grpc::Server> server;
  int port = 0;
  bool stopped = false;
};

Hub::Hub(std::unique_ptr<Parts> parts) : parts_(std::move(parts)) {}

Hub::~Hub() {
  Shutdown();
  // Services go before the store they use; the workers have finished with every call once the
  // server has stopped.
  parts_->server.reset();
  parts_->workers.reset();
  parts_->partner_admin.reset();
  parts_->subjects.reset();
  parts_->consents.reset();
  parts_->audit.reset();
  parts_->outbox.reset();  // before the referral service and the adapters it drives
  parts_->records.reset();
  parts_->adapters.reset();  // stops every plugin host
  parts_->directory.reset();
  parts_->referrals.reset();
  parts_->auth.reset();
  parts_->store.reset();
  log::Info("store_closed");
}

int Hub::port() const { return parts_->port; }

absl::StatusOr<std::unique_ptr<Hub>> Hub::Start(const config::v1::HubConfig& config) {
  auto parts = std::make_unique<Parts>();
  parts->config = config;
  const config::v1::Tls& tls = config.tls();

  auto server_cert = security::ReadFile(tls.server_cert_file());
  auto server_key = security::ReadFile(tls.server_key_file());
  auto ca_cert = security::ReadFile(tls.ca_cert_file());
  for (const auto* f : {&server_cert, &server_key, &ca_cert}) {
    if (!f->ok()) return f->status();
  }
  if (!tls.ca_key_file().empty()) {
    auto ca_key = security::ReadFile(tls.ca_key_file());
    if (!ca_key.ok()) return ca_key.status();
    auto ca = security::CertificateAuthority::FromPem(*ca_cert, *ca_key);
    if (!ca.ok()) return absl::InvalidArgumentError(absl::StrCat("tls.ca_key_file: ", ca.status().message()));
    parts->ca.emplace(std::move(*ca));
  }
  auto signing_pem = security::ReadFile(config.signing_key_file());
  if (!signing_pem.ok()) return signing_pem.status();
  auto signing_key = audit::SigningKey::FromPem(*signing_pem);
  if (!signing_key.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("signing_key_file: ", signing_key.status().message()));
  }
  auto verifier = security::ClientCertificateVerifier::Create(*ca_cert);
  if (!verifier.ok()) return absl::InvalidArgumentError(absl::StrCat("tls.ca_cert_file: ", verifier.status().message()));

  std::filesystem::path db = std::filesystem::path(config.data_dir()) / kDatabaseFile;
  auto store = store::OpenSqliteStore(db);
  if (!store.ok()) return store.status();
  parts->store = std::move(*store);
  parts->auth = std::make_unique<security::Authenticator>(*parts->store, std::move(*verifier));
  parts->workers = std::make_unique<Workers>(kWorkerThreads);
  parts->partner_admin = std::make_unique<PartnerAdminService>(
      *parts->store, *parts->auth, *parts->workers, parts->ca ? &*parts->ca : nullptr,
      static_cast<int>(config.limits().max_page_size()));
  parts->subjects = std::make_unique<SubjectService>(*parts->store, *parts->auth, *parts->workers);
  parts->consents = std::make_unique<ConsentService>(*parts->store, *parts->auth, *parts->workers, *signing_key);
  parts->audit = std::make_unique<AuditService>(*parts->store, *parts->auth, *parts->workers, std::move(*signing_key),
                                                static_cast<int>(config.limits().max_page_size()));
  auto plugin_settings = PluginSettingsOf(config);
  if (!plugin_settings.ok()) return plugin_settings.status();
  Parts* raw = parts.get();
  auto adapters = plugins::Adapters::Start(
      std::move(*plugin_settings), PluginHostBinary(config), std::filesystem::path(config.data_dir()) / "plugins",
      [raw](const std::string& partner, plugins::AdapterState state, const std::string& detail) {
        log::Info("plugin_state", {{"partner", partner},
                                   {"state", std::string(plugins::AdapterStateName(state))},
                                   {"detail", detail}});
        absl::MutexLock lock(&raw->health_mu);
        if (raw->health) raw->health->SetServingStatus(HealthName(partner), state == plugins::AdapterState::kAvailable);
      });
  if (!adapters.ok()) return adapters.status();
  parts->adapters = std::move(*adapters);
  parts->records = std::make_unique<RecordService>(*parts->store, *parts->auth, *parts->workers, *parts->adapters);
  parts->directory = std::make_unique<DirectoryService>(*parts->store, *parts->auth, *parts->workers,
                                                        static_cast<int>(config.limits().max_page_size()));
  parts->referrals = std::make_unique<ReferralService>(*parts->store, *parts->auth, *parts->workers,
                                                       static_cast<int>(config.limits().max_page_size()));

  // The handshake asks for a client certificate but leaves judging it to the Authenticator, so a
  // missing, foreign or expired certificate gets a precise status instead of a failed handshake.
  // TLS still proves the client holds the certificate's private key.
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl.pem_root_certs = *ca_cert;
  ssl.pem_key_cert_pairs.push_back({*server_key, *server_cert});

  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();
  grpc::ServerBuilder builder;
  builder.AddListeningPort(config.listen_address(), grpc::SslServerCredentials(ssl), &parts->port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config.limits().max_receive_message_bytes()));
  builder.SetMaxSendMessageSize(static_cast<int>(config.limits().max_send_message_bytes()));
  builder.RegisterService(parts->partner_admin.get());
  builder.RegisterService(parts->subjects.get());
  builder.RegisterService(parts->consents.get());
  builder.RegisterService(parts->audit.get());
  builder.RegisterService(parts->records.get());
  builder.RegisterService(parts->directory.get());
  builder.RegisterService(parts->referrals.get());
  parts->server = builder.BuildAndStart();
  if (!parts->server || parts->port == 0) {
    return absl::UnavailableError(absl::StrCat("listen_address: cannot listen on ", config.listen_address()));
  }
  grpc::HealthCheckServiceInterface* health = parts->server->GetHealthCheckService();
  health->SetServingStatus("", true);
  for (const char* service : {v1::PartnerAdmin::service_full_name(), v1::SubjectService::service_full_name(),
                              v1::ConsentService::service_full_name(), v1::AuditService::service_full_name(),
                              v1::RecordService::service_full_name(), v1::DirectoryService::service_full_name(),
                              v1::ReferralService::service_full_name()}) {
    health->SetServingStatus(service, true);
  }
  {
    absl::MutexLock lock(&parts->health_mu);
    parts->health = health;
    for (const config::v1::Plugin& p : config.plugins()) {
      const plugins::PartnerAdapter* adapter = parts->adapters->Find(p.partner());
      health->SetServingStatus(HealthName(p.partner()),
                               adapter && adapter->state() == plugins::AdapterState::kAvailable);
    }
  }

  std::string dial = DialAddress(config.listen_address(), parts->port);
  if (absl::Status s = security::WriteFileAtomically(std::filesystem::path(config.data_dir()) / kAddressFile,
                                                     dial + "\n", 0644);
      !s.ok()) {
    return s;
  }
  std::vector<Outbox::PartnerSettings> outbox;
  for (const config::v1::Plugin& p : config.plugins()) {
    Outbox::PartnerSettings o;
    o.partner_id = p.partner();
    o.policy.max_attempts = static_cast<int>(p.outbox_max_attempts());
    o.policy.initial_backoff = absl::Milliseconds(p.outbox_initial_backoff_ms());
    o.policy.max_backoff = absl::Milliseconds(p.outbox_max_backoff_ms());
    o.call_timeout = absl::Milliseconds(p.call_timeout_ms());
    o.poll_interval = absl::Milliseconds(p.status_poll_interval_ms());
    outbox.push_back(std::move(o));
  }
  parts->outbox = std::make_unique<Outbox>(*parts->store, *parts->referrals, *parts->adapters, std::move(outbox));
  log::Info("hub_serving", {{"address", dial}, {"port", parts->port}, {"data_dir", config.data_dir()}});
  return std::unique_ptr<Hub>(new Hub(std::move(parts)));
}

void Hub::Shutdown() {
  if (parts_->stopped) return;
  parts_->stopped = true;
  log::Info("hub_stopping", {{"grace_ms", parts_->config.limits().shutdown_grace_ms()}});
  {
    absl::MutexLock lock(&parts_->health_mu);
    parts_->health = nullptr;  // plugin state changes no longer reach it
  }
  if (auto* health = parts_->server->GetHealthCheckService()) health->Shutdown();
  parts_->referrals->Shutdown();
  parts_->server->Shutdown(std::chrono::system_clock::now() +
                           std::chrono::milliseconds(parts_->config.limits().shutdown_grace_ms()));
  parts_->server->Wait();
  std::error_code ec;
  std::filesystem::remove(std::filesystem::path(parts_->config.data_dir()) / kAddressFile, ec);
  log::Info("hub_stopped");
}

int RunHubMain(int argc, char** argv) {
  // Debian's Abseil checks every Mutex acquisition for lock-order cycles (a debugging aid, a few
  // per cent of the hub's CPU under load). The test binaries keep the check; the server does not.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  // Block the stop signals before any thread exists, so only sigwait below receives them.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  std::string config_path;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--config" && i + 1 < argc) {
      config_path = argv[++i];
    } else if (arg.rfind("--config=", 0) == 0) {
      config_path = arg.substr(9);
    } else if (arg == "--help" || arg == "-h") {
      std::printf("usage: accord-hub --config FILE\n  Serves the Accord hub until SIGTERM or SIGINT.\n");
      return 0;
    } else {
      std::fprintf(stderr, "accord-hub: unknown argument %s (try --help)\n", arg.c_str());
      return 2;
    }
  }
  if (config_path.empty()) {
    std::fprintf(stderr, "accord-hub: --config FILE is required\n");
    return 2;
  }
  absl::StatusOr<config::v1::HubConfig> config = LoadConfig(config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "accord-hub: invalid configuration: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  log::SetFormat(config->logging().format() == "text" ? log::Format::kText : log::Format::kJson);
  absl::StatusOr<std::unique_ptr<Hub>> hub = Hub::Start(*config);
  if (!hub.ok()) {
    log::Error("hub_start_failed", {{"error", std::string(hub.status().message())}});
    std::fprintf(stderr, "accord-hub: cannot start: %s\n", std::string(hub.status().message()).c_str());
    return 1;
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  log::Info("signal_received", {{"signal", strsignal(signal)}});
  (*hub)->Shutdown();
  hub->reset();
  return 0;
}

}  // namespace accord::server
