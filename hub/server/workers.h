// Threads for handler work that waits — a durable write through the store, a call to an isolated
// plugin host — so that gRPC's callback threads (as many as the machine has cores) are never held
// by it: while a write waits for its commit, or a record system for its deadline, the hub goes on
// answering everything else, and many waiting writes share one commit.
//
// Thread-safe. Destroying it waits for the work already posted; post nothing after the server has
// stopped.
#ifndef ACCORD_HUB_SERVER_WORKERS_H_
#define ACCORD_HUB_SERVER_WORKERS_H_

#include <functional>
#include <memory>

namespace boost::asio {
class thread_pool;
}  // namespace boost::asio

namespace accord::server {

class Workers {
 public:
  explicit Workers(int threads);
  ~Workers();
  Workers(const Workers&) = delete;
  Workers& operator=(const Workers&) = delete;

  // Runs `work` on one of the threads, in the order posted when a thread is free.
  void Post(std::function<void()> work);

 private:
  std::unique_ptr<boost::asio::thread_pool> pool_;
};

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_WORKERS_H_
