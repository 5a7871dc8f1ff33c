// accord-plugin-host: loads one plugin and serves it to the hub over gRPC on a Unix-domain socket.
// Started by the hub (hub/plugins/adapters.cc), never by hand:
//   accord-plugin-host --library FILE --sha256 HEX --config FILE --socket PATH --ready-fd N
// Writes "READY <name> <version>" or "ERROR <message>" as one line to the ready descriptor, then
// serves until killed. Dies with the hub (PR_SET_PDEATHSIG, set again here in case of exec races).
#include <signal.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>

#include <grpcpp/grpcpp.h>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "accord/plugin/v1/adapter.grpc.pb.h"
#include "hub/plugins/library.h"

namespace accord::plugins {
namespace {

class HostService final : public plugin::v1::PluginHost::Service {
 public:
  explicit HostService(const LoadedAdapter& adapter) : adapter_(adapter) {}

  grpc::Status Invoke(grpc::ServerContext*, const plugin::v1::InvokeRequest* req,
                      plugin::v1::InvokeResponse* resp) override {
    absl::StatusOr<std::string> out = adapter_.Call(req->method(), req->request());
    if (out.ok()) {
      resp->set_response(std::move(*out));
    } else {
      resp->set_code(static_cast<int32_t>(out.status().code()));
      resp->set_message(std::string(out.status().message()));
    }
    return grpc::Status::OK;
  }

 private:
  const LoadedAdapter& adapter_;
};

void Tell(int fd, const std::string& line) {
  std::string text = line + "\n";
  if (write(fd, text.data(), text.size()) < 0) std::perror("accord-plugin-host: ready-fd");
  close(fd);
}

int Run(int argc, char** argv) {
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  std::map<std::string, std::string> flags;
  for (int i = 1; i + 1 < argc; i += 2) flags[argv[i]] = argv[i + 1];
  int ready_fd = -1;
  for (const char* required : {"--library", "--sha256", "--config", "--socket", "--ready-fd"}) {
    if (!flags.count(required)) {
      std::cerr << "accord-plugin-host: " << required << " is required (the hub starts this program)\n";
      return 2;
    }
  }
  if (!absl::SimpleAtoi(flags["--ready-fd"], &ready_fd)) return 2;

  std::ifstream config_in(flags["--config"]);
  std::stringstream config;
  config << config_in.rdbuf();
  absl::StatusOr<std::shared_ptr<PluginLibrary>> library = PluginLibrary::Load(flags["--library"], flags["--sha256"]);
  if (!library.ok()) {
    std::cerr << "accord-plugin-host: " << library.status().message() << "\n";
    Tell(ready_fd, absl::StrCat("ERROR ", library.status().message()));
    return 3;
  }
  absl::StatusOr<std::unique_ptr<LoadedAdapter>> adapter = LoadedAdapter::Create(*library, config.str());
  if (!adapter.ok()) {
    std::cerr << "accord-plugin-host: " << adapter.status().message() << "\n";
    Tell(ready_fd, absl::StrCat("ERROR ", adapter.status().message()));
    return 3;
  }
  HostService service(**adapter);
  grpc::ServerBuilder builder;
  builder.AddListeningPort(absl::StrCat("unix:", flags["--socket"]), grpc::InsecureServerCredentials());
  builder.RegisterService(&service);
  std::unique_ptr<grpc::Server> server = builder.BuildAndStart();
  if (!server) {
    Tell(ready_fd, absl::StrCat("ERROR cannot listen on ", flags["--socket"]));
    return 3;
  }
  ::chmod(flags["--socket"].c_str(), 0600);
  const plugin::v1::Description& d = (*adapter)->description();
  std::cerr << "accord-plugin-host: serving " << d.name() << " " << d.version() << "\n";
  Tell(ready_fd, absl::StrCat("READY ", d.name(), " ", d.version()));
  server->Wait();
  return 0;
}

}  // namespace
}  // namespace accord::plugins

int main(int argc, char** argv) { return accord::plugins::Run(argc, argv); }
