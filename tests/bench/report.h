// accord-bench's results: one JSON document (the record) and the Markdown tables rendered from it.
#ifndef ACCORD_TESTS_BENCH_REPORT_H_
#define ACCORD_TESTS_BENCH_REPORT_H_

#include <string>

#include <nlohmann/json.hpp>

#include "tests/bench/load.h"

namespace accord::bench {

nlohmann::json ToJson(const LoadResult& r);

// Adds results["targets"]: each DESIGN.md §6 target with what was measured against it and
// whether it is met (true / false / null when it could not be measured in this run).
void AddTargets(nlohmann::json& results);

// The tables: throughput against echo, latency under load, the log's micro-benchmarks, targets.
std::string RenderMarkdown(const nlohmann::json& results);

}  // namespace accord::bench

#endif  // ACCORD_TESTS_BENCH_REPORT_H_
