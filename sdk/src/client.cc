#include "accord/sdk/client.h"

#include <fstream>
#include <sstream>

#include <future>

#include <grpcpp/create_channel.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/support/byte_buffer.h>
#include <grpcpp/security/credentials.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"

namespace accord::sdk {
namespace {

absl::StatusOr<std::string> Read(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return absl::NotFoundError(absl::StrCat("credentials bundle: ", path.string(), " is missing"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::PermissionDeniedError(absl::StrCat("credentials bundle: ", path.string(), " cannot be read"));
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace

absl::StatusOr<Credentials> LoadCredentials(const std::filesystem::path& bundle_dir) {
  Credentials c;
  for (auto [file, field] : {std::pair{"client.crt", &c.client_certificate_pem},
                             std::pair{"client.key", &c.client_key_pem}, std::pair{"ca.crt", &c.ca_certificate_pem}}) {
    absl::StatusOr<std::string> text = Read(bundle_dir / file);
    if (!text.ok()) return text.status();
    *field = std::move(*text);
  }
  std::error_code ec;
  if (std::filesystem::exists(bundle_dir / "hub.addr", ec)) {
    absl::StatusOr<std::string> addr = Read(bundle_dir / "hub.addr");
    if (!addr.ok()) return addr.status();
    c.hub_address = std::string(absl::StripAsciiWhitespace(*addr));
  }
  return c;
}

std::shared_ptr<grpc::Channel> OpenChannel(const Credentials& credentials, const std::string& address,
                                           const ChannelOptions& options) {
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = credentials.ca_certificate_pem;
  ssl.pem_private_key = credentials.client_key_pem;
  ssl.pem_cert_chain = credentials.client_certificate_pem;
  grpc::ChannelArguments args;
  if (options.max_receive_message_bytes > 0) args.SetMaxReceiveMessageSize(options.max_receive_message_bytes);
  return grpc::CreateCustomChannel(address, grpc::SslCredentials(ssl), args);
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> Connect(const std::filesystem::path& bundle_dir,
                                                       const std::string& address, const ChannelOptions& options) {
  absl::StatusOr<Credentials> creds = LoadCredentials(bundle_dir);
  if (!creds.ok()) return creds.status();
  std::string target = address.empty() ? creds->hub_address : address;
  if (target.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("no hub address: pass one or put host:port in ", (bundle_dir / "hub.addr").string()));
  }
  return OpenChannel(*creds, target, options);
}

absl::StatusOr<bool> CheckHealth(const std::shared_ptr<grpc::Channel>& channel, const std::string& service,
                                 int timeout_ms) {
  // grpc.health.v1.HealthCheckRequest{service = 1} encoded by hand: the health protocol is two
  // one-field messages, not worth a generated stub.
  std::string request;
  if (!service.empty()) {
    request.push_back(0x0a);
    request.push_back(static_cast<char>(service.size()));  // services names are < 128 bytes
    request += service;
  }
  grpc::Slice slice(request);
  grpc::ByteBuffer request_buffer(&slice, 1);
  grpc::ByteBuffer response_buffer;
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));
  std::promise<grpc::Status> done;
  grpc::GenericStub stub(channel);
  stub.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request_buffer, &response_buffer,
                 [&done](grpc::Status s) { done.set_value(std::move(s)); });
  grpc::Status status = done.get_future().get();
  if (!status.ok()) {
    return absl::Status(static_cast<absl::StatusCode>(status.error_code()), status.error_message());
  }
  std::vector<grpc::Slice> slices;
  if (!response_buffer.Dump(&slices).ok()) return absl::InternalError("unreadable health response");
  std::string response;
  for (const grpc::Slice& s : slices) response.append(reinterpret_cast<const char*>(s.begin()), s.size());
  // HealthCheckResponse{status = 1}: SERVING is 1.
  return response.size() == 2 && response[0] == 0x08 && response[1] == 0x01;
}

}  // namespace accord::sdk
