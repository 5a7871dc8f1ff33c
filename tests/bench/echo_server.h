// The benchmark's ceiling: a bare EchoService in its own process, served exactly as the hub
// serves — the same gRPC library, the hub configuration's TLS files (server certificate, client
// certificates requested and checked only for possession of their key, as the hub's handshake
// does), message-size limits, health checking and reflection — and nothing else: no
// authentication, no store, no log.
#ifndef ACCORD_TESTS_BENCH_ECHO_SERVER_H_
#define ACCORD_TESTS_BENCH_ECHO_SERVER_H_

#include <filesystem>

namespace accord::bench {

// Reads the hub configuration `hub_config`, listens on its host with a free port, writes
// "localhost:PORT\n" to `address_file` (atomically) once serving, and serves until SIGTERM or
// SIGINT. Returns the process exit code (0 after a signal, 1 when it cannot start).
int RunEchoServer(const std::filesystem::path& hub_config, const std::filesystem::path& address_file);

}  // namespace accord::bench

#endif  // ACCORD_TESTS_BENCH_ECHO_SERVER_H_
