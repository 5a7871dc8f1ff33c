// The shape every unary handler shares: authorize the caller for a role, run the body, finish
// the call exactly once with the body's status.
#ifndef ACCORD_HUB_SERVER_UNARY_H_
#define ACCORD_HUB_SERVER_UNARY_H_

#include <grpcpp/grpcpp.h>

#include "hub/log/log.h"
#include "hub/security/authenticator.h"
#include "hub/server/convert.h"
#include "hub/server/workers.h"

namespace accord::server {

// `body(const security::Caller&) -> absl::Status`, run when the caller holds one of `roles`. Refusals and failures are logged with the
// method and the caller; successes are not (the sharing log records disclosures).
inline void LogRefusal(const char* method, const std::string& caller_id, const absl::Status& status) {
  log::Info("rpc_refused", {{"method", method},
                            {"caller", caller_id},
                            {"code", absl::StatusCodeToString(status.code())},
                            {"message", std::string(status.message())}});
}

// Authenticates, authorizes, runs `body` and finishes the call with its status.
template <typename Body>
void RunUnary(grpc::ServerUnaryReactor* reactor, grpc::CallbackServerContext* ctx, const security::Authenticator& auth,
              absl::Span<const domain::Role> roles, const char* method, Body& body) {
  absl::StatusOr<security::Caller> caller = auth.Authenticate(*ctx->auth_context());
  absl::Status status = caller.ok() ? security::RequireRole(*caller, roles) : caller.status();
  if (status.ok()) status = body(*caller);
  if (!status.ok()) LogRefusal(method, caller.ok() ? caller->partner.id : std::string("-"), status);
  reactor->Finish(ToGrpc(status));
}

template <typename Body>
grpc::ServerUnaryReactor* HandleUnary(grpc::CallbackServerContext* ctx, const security::Authenticator& auth,
                                      std::initializer_list<domain::Role> roles, const char* method, Body&& body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  RunUnary(reactor, ctx, auth, roles, method, body);
  return reactor;
}

// As HandleUnary, with the whole call — authentication, body, finish — run on `workers`: for
// handlers that wait on a durable write (or anything else slow). `body` is copied to another
// thread, so it must capture by value (the request, response and context pointers stay valid
// until the call finishes).
template <typename Body>
grpc::ServerUnaryReactor* HandleUnaryOn(Workers& workers, grpc::CallbackServerContext* ctx,
                                        const security::Authenticator& auth, std::initializer_list<domain::Role> roles,
                                        const char* method, Body body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  workers.Post([reactor, ctx, &auth, roles = std::vector<domain::Role>(roles), method,
                body = std::move(body)]() mutable { RunUnary(reactor, ctx, auth, roles, method, body); });
  return reactor;
}

// Finishes a unary call once, from whichever thread its last step ran on (e.g. the store's writer
// once an append is durable), logging a refusal as HandleUnary does.
class Finish {
 public:
  Finish(grpc::ServerUnaryReactor* reactor, const char* method, std::string caller_id)
      : reactor_(reactor), method_(method), caller_id_(std::move(caller_id)) {}
  void operator()(const absl::Status& status) const {
    if (!status.ok()) LogRefusal(method_, caller_id_, status);
    reactor_->Finish(ToGrpc(status));
  }

 private:
  grpc::ServerUnaryReactor* reactor_;
  const char* method_;
  std::string caller_id_;
};

// As HandleUnary, for a body that may finish later: `body(const security::Caller&, Finish)` calls
// its Finish exactly once — before it returns, or later from another thread (its last step
// asynchronous, so that the gRPC callback thread is not held while e.g. the store commits). Until
// then the request, response and context stay valid.
template <typename Body>
grpc::ServerUnaryReactor* HandleUnaryLater(grpc::CallbackServerContext* ctx, const security::Authenticator& auth,
                                           std::initializer_list<domain::Role> roles, const char* method,
                                           Body&& body) {
  grpc::ServerUnaryReactor* reactor = ctx->DefaultReactor();
  absl::StatusOr<security::Caller> caller = auth.Authenticate(*ctx->auth_context());
  absl::Status status = caller.ok() ? security::RequireRole(*caller, roles) : caller.status();
  if (!status.ok()) {
    Finish(reactor, method, caller.ok() ? caller->partner.id : std::string("-"))(status);
    return reactor;
  }
  body(*caller, Finish(reactor, method, caller->partner.id));
  return reactor;
}

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_UNARY_H_
