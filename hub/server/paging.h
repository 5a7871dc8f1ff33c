// AIP-158 paging shared by every List RPC: validate page_size and page_token, fetch one item more
// than asked to learn whether another page follows, emit the page and set next_page_token.
#ifndef ACCORD_HUB_SERVER_PAGING_H_
#define ACCORD_HUB_SERVER_PAGING_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "hub/domain/validation.h"

namespace accord::server {

// `fetch(after_id, limit) -> StatusOr<std::vector<Item>>` returns items ordered by id;
// `emit(const Item&)` adds one to the response; `.id` names an item.
template <typename Fetch, typename Emit>
absl::Status ServePage(int page_size, const std::string& page_token, int max_page_size, Fetch&& fetch, Emit&& emit,
                       std::string* next_page_token) {
  absl::StatusOr<int> size = domain::EffectivePageSize(page_size, max_page_size);
  if (!size.ok()) return size.status();
  absl::StatusOr<std::string> after = domain::DecodePageToken(page_token);
  if (!after.ok()) return after.status();
  auto page = fetch(*after, *size + 1);
  if (!page.ok()) return page.status();
  bool more = static_cast<int>(page->size()) > *size;
  if (more) page->pop_back();
  for (const auto& item : *page) emit(item);
  if (more) *next_page_token = domain::EncodePageToken(page->back().id);
  return absl::OkStatus();
}

}  // namespace accord::server

#endif  // ACCORD_HUB_SERVER_PAGING_H_
