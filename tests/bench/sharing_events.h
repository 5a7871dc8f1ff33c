// Realistic sharing-log events for the benchmarks: the mix services write (disclosures under
// consent, refusals, consent changes, person-index links, DPO reads), spread over many children.
#ifndef ACCORD_TESTS_BENCH_SHARING_EVENTS_H_
#define ACCORD_TESTS_BENCH_SHARING_EVENTS_H_

#include <cstdint>
#include <random>
#include <string>

#include "hub/store/store.h"

namespace accord::bench {

// The id of the n-th benchmark child (16 hex digits; stable, so a later query can find it).
std::string SubjectId(uint64_t n);

// One event about a child drawn from `children`; personal free text on about four in ten.
store::NewEvent MakeEvent(std::mt19937_64& rng, uint64_t children);

}  // namespace accord::bench

#endif  // ACCORD_TESTS_BENCH_SHARING_EVENTS_H_
