// The shape every unary handler shares: authorize the caller for a role, run the body, finish
// the call exactly once with the body's status.
#ifndef ACCORD_HUB_SERVER_UNARY_H_
#define ACCORD_HUB_SERVER_UNARY_H_

#include <grpcpp/grpcpp.h>

#include "hub/log/log.h"
#include "hub/security/authenticator.h"
#include "hub/server/convert.h"

namespace accord::server {

// `body(const security::Caller&) -> absl::Status`, run when the caller holds one of `roles`. Refusals and failures are logged with the
// method and the caller; successes are not (the sharing log records disclosures).
template <typename Body>
grpc::ServerUnaryReactor* HandleUnary(grpc::CallbackServerContext* ctx, const security::Authenticator& auth,
                                      std::initializer_list<domain::Role> roles, const char* method, Body&& body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<security::Caller> caller = auth.Authenticate(*ctx->auth_context());
  absl::Status status = caller.ok() ? security::RequireRole(*caller, roles) : caller.status();
  if (status.ok()) status = body(*caller);
  if (!status.ok()) {
    log::Info("rpc_refused", {{"method", method},
                              {"caller", caller.ok() ? caller->partner.id : std::string("-")},
                              {"code", absl::StatusCodeToString(status.code())},
                              {"message", std::string(status.message())}});
  }
  reactor->Finish(ToGrpc(status));
  return reactor;
}

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_UNARY_H_
