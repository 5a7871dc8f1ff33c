#include "hub/server/workers.h"

#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

namespace accord::server {

Workers::Workers(int threads) : pool_(std::make_unique<boost::asio::thread_pool>(threads)) {}

Workers::~Workers() { pool_->join(); }

void Workers::Post(std::function<void()> work) { boost::asio::post(*pool_, std::move(work)); }

}  // namespace accord::server
