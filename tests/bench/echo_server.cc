#include "tests/bench/echo_server.h"

#include <signal.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <grpcpp/ext/proto_server_reflection_plugin.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>

#include "hub/security/files.h"
#include "hub/server/config.h"
#include "tests/bench/echo.grpc.pb.h"

namespace accord::bench {
namespace {

class EchoService final : public echo::v1::EchoService::CallbackService {
  grpc::ServerUnaryReactor* Echo(grpc::CallbackServerContext* ctx, const echo::v1::EchoRequest* request,
                                 echo::v1::EchoResponse* response) override {
    response->set_payload(request->payload());
    grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
    reactor->Finish(grpc::Status::OK);
    return reactor;
  }
};

}  // namespace

int RunEchoServer(const std::filesystem::path& hub_config, const std::filesystem::path& address_file) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGTERM);
  sigaddset(&stop_signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  auto fail = [](const std::string& what) {
    std::fprintf(stderr, "accord-bench echo-server: %s\n", what.c_str());
    return 1;
  };
  auto config = server::LoadConfig(hub_config);
  if (!config.ok()) return fail(std::string(config.status().message()));
  auto cert = security::ReadFile(config->tls().server_cert_file());
  auto key = security::ReadFile(config->tls().server_key_file());
  auto ca = security::ReadFile(config->tls().ca_cert_file());
  for (const auto* f : {&cert, &key, &ca}) {
    if (!f->ok()) return fail(std::string(f->status().message()));
  }
  // As Hub::Start does.
  grpc::SslServerCredentialsOptions ssl(GRPC_SSL_REQUEST_CLIENT_CERTIFICATE_BUT_DONT_VERIFY);
  ssl.pem_root_certs = *ca;
  ssl.pem_key_cert_pairs.push_back({*key, *cert});
  grpc::EnableDefaultHealthCheckService(true);
  grpc::reflection::InitProtoReflectionServerBuilderPlugin();

  const std::string& listen = config->listen_address();
  const std::string host = listen.substr(0, listen.rfind(':'));
  EchoService service;
  int port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(host + ":0", grpc::SslServerCredentials(ssl), &port);
  builder.SetMaxReceiveMessageSize(static_cast<int>(config->limits().max_receive_message_bytes()));
  builder.SetMaxSendMessageSize(static_cast<int>(config->limits().max_send_message_bytes()));
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server || port == 0) return fail("cannot listen on " + host);

  if (absl::Status s = security::WriteFileAtomically(address_file, "localhost:" + std::to_string(port) + "\n", 0644);
      !s.ok()) {
    return fail(std::string(s.message()));
  }
  int signal = 0;
  sigwait(&stop_signals, &signal);
  server->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  server->Wait();
  return 0;
}

}  // namespace accord::bench
