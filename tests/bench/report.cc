#include "tests/bench/report.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace accord::bench {
namespace {

using nlohmann::json;

constexpr uint64_t kTenMillion = 10'000'000;

json UsageJson(const Usage& u) {
  return {{"cpu_percent", u.cpu_percent},
          {"rss_peak_bytes", u.rss_peak_bytes},
          {"rss_end_bytes", u.rss_end_bytes},
          {"threads_peak", u.threads_peak}};
}

double Num(const json& j, const char* key, double fallback = 0) {
  auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : fallback;
}

std::string Ms(double us) { return us >= 10000 ? absl::StrFormat("%.0f", us / 1000) : absl::StrFormat("%.2f", us / 1000); }
std::string Mb(double bytes) { return absl::StrFormat("%.0f", bytes / 1e6); }
std::string Rate(double r) { return absl::StrFormat("%.0f", r); }

const json* Find(const json& results, const std::string& id) {
  for (const json& s : results["scenarios"]) {
    if (s["id"] == id) return &s;
  }
  return nullptr;
}

// "12 (DEADLINE_EXCEEDED 12)" or "0".
std::string Errors(const json& r) {
  uint64_t errors = r.value("errors", uint64_t{0});
  uint64_t dropped = r.value("not_started", uint64_t{0});
  std::string out = absl::StrCat(errors);
  if (errors > 0) {
    std::string codes;
    for (const auto& [code, n] : r["errors_by_code"].items()) absl::StrAppend(&codes, codes.empty() ? "" : ", ", code, " ", n.get<uint64_t>());
    absl::StrAppend(&out, " (", codes, ")");
  }
  if (dropped > 0) absl::StrAppend(&out, " + ", dropped, " not started");
  return out;
}

std::string LatencyCells(const json& r) {
  const json& l = r["latency_us"];
  return absl::StrCat(Ms(Num(l, "p50")), " | ", Ms(Num(l, "p90")), " | ", Ms(Num(l, "p99")), " | ", Ms(Num(l, "p999")));
}

json Target(std::string target, std::string measured, json met) {
  return {{"target", std::move(target)}, {"measured", std::move(measured)}, {"met", std::move(met)}};
}

}  // namespace

json ToJson(const LoadResult& r) {
  return {{"offered_rate", r.offered_rate},
          {"seconds", r.seconds},
          {"ok", r.ok},
          {"errors", r.errors},
          {"not_started", r.not_started},
          {"errors_by_code", r.errors_by_code},
          {"first_error", r.first_error},
          {"throughput", r.throughput},
          {"latency_us",
           {{"count", r.latency.count},
            {"mean", r.latency.mean_us},
            {"p50", r.latency.p50_us},
            {"p90", r.latency.p90_us},
            {"p99", r.latency.p99_us},
            {"p999", r.latency.p999_us},
            {"max", r.latency.max_us}}},
          {"server", UsageJson(r.server)},
          {"client", UsageJson(r.client)}};
}

void AddTargets(json& results) {
  json targets = json::array();
  const json* echo = Find(results, "echo");

  for (const char* id : {"request_records", "submit_referral"}) {
    const json* s = Find(results, id);
    if (!s) continue;
    std::string name = absl::StrFormat("%s >= %.0f %% of echo throughput", (*s)["title"].get<std::string>(),
                                       100 * Num(*s, "target_ratio"));
    if (!s->value("available", false)) {
      targets.push_back(Target(name, "not available yet", nullptr));
    } else if (s->contains("ratio_to_echo")) {
      double ratio = Num(*s, "ratio_to_echo");
      targets.push_back(Target(name, absl::StrFormat("%.0f %%", 100 * ratio), ratio >= Num(*s, "target_ratio")));
    }
  }

  // p99 at half of each scenario's own peak against echo's p99 at half of its peak.
  const json* echo_half = nullptr;
  if (echo && echo->contains("half_own_peak")) echo_half = &(*echo)["half_own_peak"];
  for (const json& s : results["scenarios"]) {
    if (s["id"] == "echo" || !s.value("available", false)) continue;
    // A stream's latency (all of its items) is not comparable with one echo call's.
    if (Num(s, "items_per_call", 1) > 1) continue;
    std::string name = absl::StrCat("p99 at half load <= 3x echo's: ", s["title"].get<std::string>());
    if (!s.contains("half_own_peak") || !echo_half) {
      targets.push_back(Target(name, "not measured", nullptr));
      continue;
    }
    double mine = Num(s["half_own_peak"]["latency_us"], "p99");
    double theirs = Num((*echo_half)["latency_us"], "p99");
    double x = theirs > 0 ? mine / theirs : 0;
    auto runs = [](const json& r) {
      std::string out;
      if (!r.contains("p99_runs_us")) return out;
      for (const json& v : r["p99_runs_us"]) absl::StrAppend(&out, out.empty() ? "" : " / ", Ms(v.get<double>()));
      return absl::StrCat(" [runs: ", out, "]");
    };
    targets.push_back(Target(name,
                             absl::StrFormat("%s ms%s vs %s ms%s (%.1fx)", Ms(mine), runs(s["half_own_peak"]),
                                             Ms(theirs), runs(*echo_half), x),
                             x <= 3));
  }

  const json& logs = results["log_bench"];
  for (const json& l : logs) {
    double rate = Num(l["append_batched"], "events_per_second");
    targets.push_back(Target(absl::StrFormat("log >= 100000 durable appends/s (at %.0f events)", Num(l, "log_size")),
                             absl::StrFormat("%.0f /s", rate), rate >= 100000));
  }
  const json* largest = nullptr;
  for (const json& l : logs) {
    if (!largest || Num(l, "log_size") > Num(*largest, "log_size")) largest = &l;
  }
  if (largest) {
    double size = Num(*largest, "log_size");
    bool full = size >= kTenMillion;
    std::string at = full ? "" : absl::StrFormat(" (measured at %.0f events; 10 M not run)", size);
    double proof = Num((*largest)["inclusion_proof"], "p99_us");
    targets.push_back(Target("inclusion proof < 1 ms at 10 M events",
                             absl::StrFormat("p99 %.0f us%s", proof, at), full ? json(proof < 1000) : json(nullptr)));
    double query = Num((*largest)["child_query"], "p99_ms");
    targets.push_back(Target("one child's query < 20 ms at 10 M events",
                             absl::StrFormat("p99 %.1f ms (median %.1f)%s", query,
                                             Num((*largest)["child_query"], "median_ms"), at),
                             full ? json(query < 20) : json(nullptr)));
  } else {
    targets.push_back(Target("inclusion proof < 1 ms at 10 M events", "log benchmark not run", nullptr));
    targets.push_back(Target("one child's query < 20 ms at 10 M events", "log benchmark not run", nullptr));
  }

  const json& hub = results["hub"];
  double events = Num(hub, "log_events");
  double rss = Num(hub, "rss_peak_bytes");
  bool full = events >= kTenMillion;
  targets.push_back(Target("hub RSS < 200 MB at 10 M events",
                           absl::StrFormat("peak %s MB with %.0f events in the log%s", Mb(rss), events,
                                           full ? "" : " (10 M not run)"),
                           full ? json(rss < 200e6) : json(nullptr)));
  const json* soaked = nullptr;
  for (const json& s : results["scenarios"]) {
    if (s.contains("soak")) soaked = &s;
  }
  if (soaked) {
    // Flat: after the first five minutes (allocator and caches warm), RSS stays within 10 % of
    // where it stood then. Only a soak of an hour or more can meet the target.
    const json& iv = (*soaked)["soak"]["intervals"];
    double base = 0, last = 0, high = 0, seconds = 0;
    for (const json& i : iv) {
      double rss = Num(i, "hub_rss_bytes");
      seconds = Num(i, "end_s");
      if (base == 0 && (seconds >= 300 || &i == &iv.back())) base = rss;
      if (base > 0) high = std::max(high, rss);
      last = rss;
    }
    bool flat = base > 0 && high <= 1.10 * base;
    targets.push_back(Target("hub RSS flat (+-10 %) over a one-hour soak",
                             absl::StrFormat("%s for %.0f min at %.0f calls/s: %s MB after 5 min, %s MB at most after, "
                                             "%s MB at the end",
                                             (*soaked)["title"].get<std::string>(), seconds / 60,
                                             Num((*soaked)["soak"], "offered_rate"), Mb(base), Mb(high), Mb(last)),
                             seconds >= 3600 ? json(flat) : json(nullptr)));
  } else {
    targets.push_back(Target("hub RSS flat (+-10 %) over a one-hour soak",
                             absl::StrFormat("not run (accord-bench --soak 3600); over this run: %s MB idle -> %s MB "
                                             "at the end",
                                             Mb(Num(hub, "rss_idle_bytes")), Mb(Num(hub, "rss_end_bytes"))),
                             nullptr));
  }
  results["targets"] = std::move(targets);
}

std::string RenderMarkdown(const json& results) {
  std::string md;
  const json& m = results["machine"];
  const json& set = results["settings"];
  absl::StrAppend(&md, "# Accord benchmark results\n\n");
  absl::StrAppend(&md, "Run ", results.value("generated_at", ""), " on ", m.value("cpu_model", "?"), " (",
                  m.value("cpus", 0), " cores), ", Mb(Num(m, "memory_bytes")), " MB RAM, ", m.value("os", "?"),
                  ", kernel ", m.value("kernel", "?"), "; load average at start ", m.value("loadavg", "?"), ".\n\n");
  absl::StrAppend(&md, "Closed loop: ", set.value("connections", 0), " connections x ", set.value("inflight", 0),
                  " calls in flight, ", Num(set, "warmup_s"), " s warm-up then ", Num(set, "duration_s"),
                  " s measured; echo payload ", set.value("payload_bytes", 0),
                  " bytes. Every call is a new unary RPC over mTLS on loopback; client and servers share the machine. "
                  "The hub's log held ",
                  Rate(Num(results["hub"], "log_events")), " events before the run.\n\n");

  absl::StrAppend(&md, "## Throughput against the echo ceiling\n\n");
  absl::StrAppend(&md,
                  "Peak = closed loop. \"x echo\" divides a scenario's calls/s by the echo peak measured right "
                  "before it (\"echo alongside\"), so that other work on the machine weighs on both alike. "
                  "CPU % is of one core; client and servers share the machine's cores. For a stream scenario a "
                  "call is one stream: its items/s (each one message sent, like one echo reply) are compared with "
                  "echo, and its latencies are those of a whole stream.\n\n");
  absl::StrAppend(&md,
                  "| scenario | calls/s | echo alongside | x echo | target | p50 ms | p90 ms | p99 ms | p99.9 ms | errors | server CPU % | "
                  "server RSS peak MB | server threads | client CPU % |\n");
  absl::StrAppend(&md, "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|---:|\n");
  for (const json& s : results["scenarios"]) {
    std::string target = Num(s, "target_ratio") > 0 ? absl::StrFormat(">= %.2f", Num(s, "target_ratio")) : "";
    if (s["id"] == "echo") target = "ceiling";
    if (!s.value("available", false)) {
      absl::StrAppend(&md, "| ", s["title"].get<std::string>(), " | not available yet | | | ", target,
                      " | | | | | | | | | |\n");
      continue;
    }
    if (!s.contains("peak")) {
      absl::StrAppend(&md, "| ", s["title"].get<std::string>(), " | failed: ", s.value("error", ""), " | | | ", target,
                      " | | | | | | | | | |\n");
      continue;
    }
    const json& p = s["peak"];
    std::string alongside = s.contains("echo_alongside") ? Rate(Num(s["echo_alongside"], "throughput")) : "";
    std::string rate = Rate(Num(p, "throughput"));
    if (Num(s, "items_per_call", 1) > 1) {
      rate = absl::StrCat(Rate(Num(s, "items_per_second")), " items (", rate, " streams)");
    }
    absl::StrAppend(&md, "| ", s["title"].get<std::string>(), " | ", rate, " | ", alongside,
                    " | ", absl::StrFormat("%.2f", Num(s, "ratio_to_echo")), " | ", target, " | ", LatencyCells(p), " | ",
                    Errors(p), " | ", absl::StrFormat("%.0f", Num(p["server"], "cpu_percent")), " | ",
                    Mb(Num(p["server"], "rss_peak_bytes")), " | ", Rate(Num(p["server"], "threads_peak")), " | ",
                    absl::StrFormat("%.0f", Num(p["client"], "cpu_percent")), " |\n");
  }

  absl::StrAppend(&md, "\n## Latency under load (open loop, fixed offered rate)\n\n");
  const bool rates_run = !set.value("rates_percent_of_echo", json::array()).empty();
  if (!rates_run) {
    absl::StrAppend(&md, "Not run (--rates none).\n");
  } else {
    absl::StrAppend(&md,
                    "Offered rates are shares of the echo ceiling; latency counts from each call's scheduled start. "
                    "A rate above a scenario's own peak is not run (it would only measure a growing queue); "
                    "\"half own peak\" (and echo's 50 %) is the DESIGN.md §6 load for the p99 target: run ",
                    set.value("repeats", 1), " times, the run with the median p99 shown.\n\n");
    absl::StrAppend(&md, "| scenario | load | offered/s | achieved/s | p50 ms | p90 ms | p99 ms | p99.9 ms | errors |\n");
    absl::StrAppend(&md, "|---|---|---:|---:|---:|---:|---:|---:|---|\n");
  }
  for (const json& s : results["scenarios"]) {
    if (!s.value("available", false) || !s.contains("under_load")) continue;
    auto row = [&](const std::string& load, const json& r) {
      absl::StrAppend(&md, "| ", s["title"].get<std::string>(), " | ", load, " | ", Rate(Num(r, "offered_rate")), " | ",
                      Rate(Num(r, "throughput")), " | ", LatencyCells(r), " | ", Errors(r), " |\n");
    };
    for (const json& u : s["under_load"]) {
      std::string load = absl::StrFormat("%.0f %% of echo", Num(u, "percent_of_echo"));
      if (u.contains("skipped")) {
        absl::StrAppend(&md, "| ", s["title"].get<std::string>(), " | ", load, " | ", Rate(Num(u, "offered_rate")),
                        " | not run: ", u["skipped"].get<std::string>(), " | | | | | |\n");
      } else {
        row(load, u["result"]);
      }
    }
    if (s.contains("half_own_peak") && s["id"] != "echo") row("half own peak", s["half_own_peak"]);
  }

  absl::StrAppend(&md, "\n## Sharing log on its own (accord-log-bench)\n\n");
  if (results["log_bench"].empty()) {
    absl::StrAppend(&md, "Not run.\n");
  } else {
    absl::StrAppend(&md,
                    "| events | durable appends/s (batched) | appends/s (1 event per call) | inclusion proof median / p99 "
                    "us | one child's events median / p99 ms | SQLite MB |\n");
    absl::StrAppend(&md, "|---:|---:|---:|---:|---:|---:|\n");
    for (const json& l : results["log_bench"]) {
      absl::StrAppend(&md, "| ", Rate(Num(l, "log_size")), " | ", Rate(Num(l["append_batched"], "events_per_second")),
                      " | ", Rate(Num(l["append_single"], "events_per_second")), " | ",
                      absl::StrFormat("%.1f / %.1f", Num(l["inclusion_proof"], "median_us"),
                                      Num(l["inclusion_proof"], "p99_us")),
                      " | ",
                      absl::StrFormat("%.2f / %.2f", Num(l["child_query"], "median_ms"), Num(l["child_query"], "p99_ms")),
                      " | ", Mb(Num(l, "db_bytes")), " |\n");
    }
  }

  for (const json& s : results["scenarios"]) {
    if (!s.contains("soak")) continue;
    const json& soak = s["soak"];
    absl::StrAppend(&md, "\n## Soak: ", s["title"].get<std::string>(), "\n\n", Rate(Num(soak, "offered_rate")),
                    " calls/s offered (open loop), reported every ", Num(soak, "interval_s"), " s.\n\n");
    absl::StrAppend(&md, "| end of interval (min) | achieved/s | p50 ms | p99 ms | errors | server CPU % | hub RSS MB |\n");
    absl::StrAppend(&md, "|---:|---:|---:|---:|---|---:|---:|\n");
    for (const json& i : soak["intervals"]) {
      absl::StrAppend(&md, "| ", absl::StrFormat("%.1f", Num(i, "end_s") / 60), " | ", Rate(Num(i, "throughput")), " | ",
                      Ms(Num(i["latency_us"], "p50")), " | ", Ms(Num(i["latency_us"], "p99")), " | ",
                      Errors(i), " | ", Rate(Num(i["server"], "cpu_percent")), " | ",
                      Mb(Num(i, "hub_rss_bytes")), " |\n");
    }
  }

  absl::StrAppend(&md, "\n## Hub memory\n\n");
  const json& hub = results["hub"];
  absl::StrAppend(&md, "RSS with ", Rate(Num(hub, "log_events")), " events in the log: ", Mb(Num(hub, "rss_idle_bytes")),
                  " MB idle after start, ", Mb(Num(hub, "rss_peak_bytes")), " MB peak under load, ",
                  Mb(Num(hub, "rss_end_bytes")), " MB at the end.\n");

  if (results.contains("targets")) {
    absl::StrAppend(&md, "\n## Targets (DESIGN.md §6)\n\n| target | measured | met |\n|---|---|---|\n");
    for (const json& t : results["targets"]) {
      std::string met = t["met"].is_null() ? "n/a" : (t["met"].get<bool>() ? "yes" : "**no**");
      absl::StrAppend(&md, "| ", t["target"].get<std::string>(), " | ", t["measured"].get<std::string>(), " | ", met,
                      " |\n");
    }
  }
  return md;
}

}  // namespace accord::bench
