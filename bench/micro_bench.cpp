// Micro-benchmarks of the hot kernels (Google Benchmark):
//  - BM_Bits*:     word-wise ChunkBits operations (GB/s), the evaluator's
//                  set-bit extraction loop and a column's scatter into a
//                  chunk bitset;
//  - BM_Evaluate/: Engine::evaluate(segment, with_members = false) for one
//                  segment per filter family (users/s), over an in-memory
//                  engine of 262,144 synthetic users (4 chunks, ~3.2M events);
//  - BM_Ingest*:   the event parser alone, and Engine::ingest_text into a
//                  fresh :memory: engine (events/s).
//
//   build/release/bin/retarget_micro_bench [--benchmark_filter=REGEX] [--benchmark_min_time=0.1]
//
// The first BM_Evaluate builds the shared engine (tens of seconds: it is bound
// by the ingest rate) and prints how long it took on standard error; the other
// benchmarks never pay for it. BM_Evaluate and BM_IngestEngineMemory use an
// engine with one thread (the 4 chunks run one after another), so users/s is
// the throughput of one core; with N cores up to N chunks run at once. The
// synthetic data is deterministic (a fixed per-user pseudo-random stream), so
// member counts and timings compare across runs.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "catalog/catalog.hpp"
#include "eval/bit_kernels.hpp"
#include "index/column_codec.hpp"
#include "ingest/event_parser.hpp"
#include "retarget/engine.hpp"
#include "retarget/sdk/data.hpp"
#include "retarget/sdk/types.hpp"

namespace {

using retarget::sdk::ChunkBits;
using retarget::sdk::kChunkUsers;
using retarget::sdk::kChunkWords;
using retarget::sdk::Timestamp;
using retarget::sdk::UserIndex;

// ---------------------------------------------------------------------------
// Deterministic pseudo-random numbers (splitmix64): one stream per user, so a
// user's events do not depend on how the users are sliced into batches.
class Rng {
 public:
  explicit Rng(std::uint64_t seed) : state_(seed) {}
  std::uint64_t next() {
    std::uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  // Uniform in [0, n).
  std::uint64_t below(std::uint64_t n) { return next() % n; }
  // True with probability `percent` / 100.
  bool chance(unsigned percent) { return below(100) < percent; }

 private:
  std::uint64_t state_;
};

// ---------------------------------------------------------------------------
// Bitset kernels.

// `count` chunk bitsets with about `percent` % of their bits set.
std::vector<ChunkBits> random_chunks(std::size_t count, std::uint64_t seed, unsigned percent) {
  std::vector<ChunkBits> chunks(count);
  Rng rng(seed);
  for (auto& c : chunks) {
    c.clear();
    for (std::uint32_t i = 0; i < kChunkUsers; ++i)
      if (rng.chance(percent)) c.set(i);
  }
  return chunks;
}

// Bytes and users of a kernel run over `chunks` bitsets per iteration, each
// run touching `touched` bitset-sized streams (every read and every write
// counts: and_with reads both operands and writes one, so 3).
void set_bitset_counters(benchmark::State& state, std::size_t chunks, int touched) {
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * chunks * touched * sizeof(ChunkBits)));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * chunks * kChunkUsers));
}

// a[i] op= b[i] over a working set of range(0) chunk pairs: 1 pair stays in
// L1; 1,024 pairs (16 MiB) are out of L2.
template <typename Op>
void BM_BitsBinary(benchmark::State& state, Op op) {
  const auto chunks = static_cast<std::size_t>(state.range(0));
  std::vector<ChunkBits> a = random_chunks(chunks, 1, 50);
  const std::vector<ChunkBits> b = random_chunks(chunks, 2, 50);
  for (auto _ : state) {
    for (std::size_t i = 0; i < chunks; ++i) op(a[i], b[i]);
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  set_bitset_counters(state, chunks, 3);
}

// One-operand kernels: clear (writes 1 stream), count (reads 1 stream).
template <typename Op>
void BM_BitsUnary(benchmark::State& state, Op op, int touched) {
  const auto chunks = static_cast<std::size_t>(state.range(0));
  std::vector<ChunkBits> a = random_chunks(chunks, 1, 50);
  for (auto _ : state) {
    for (std::size_t i = 0; i < chunks; ++i) op(a[i]);
    benchmark::DoNotOptimize(a.data());
    benchmark::ClobberMemory();
  }
  set_bitset_counters(state, chunks, touched);
}

void and_with(ChunkBits& a, const ChunkBits& b) { a.and_with(b); }
void or_with(ChunkBits& a, const ChunkBits& b) { a.or_with(b); }
void and_not(ChunkBits& a, const ChunkBits& b) { a.and_not(b); }
void complement_within(ChunkBits& a, const ChunkBits& universe) { a.complement_within(universe); }
void clear(ChunkBits& a) { a.clear(); }
void count(ChunkBits& a) { benchmark::DoNotOptimize(a.count()); }

BENCHMARK_CAPTURE(BM_BitsBinary, and_with, and_with)->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsBinary, or_with, or_with)->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsBinary, and_not, and_not)->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsBinary, complement_within, complement_within)->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsUnary, clear, clear, 1)->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsUnary, count, count, 1)->ArgName("chunks")->Arg(1)->Arg(1024);

// The same kernels as the evaluator runs them (eval/bit_kernels.hpp): built
// for the machine's instruction set and chosen at load, against the inline
// baseline x86-64 versions above (whose popcount is a libgcc call).
void and_with_dispatched(ChunkBits& a, const ChunkBits& b) { retarget::bit_kernels::and_with(a, b); }
void or_with_dispatched(ChunkBits& a, const ChunkBits& b) { retarget::bit_kernels::or_with(a, b); }
void complement_within_dispatched(ChunkBits& a, const ChunkBits& u) { retarget::bit_kernels::complement_within(a, u); }
void count_dispatched(ChunkBits& a) { benchmark::DoNotOptimize(retarget::bit_kernels::count(a)); }
BENCHMARK_CAPTURE(BM_BitsBinary, and_with_dispatched, and_with_dispatched)->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsBinary, or_with_dispatched, or_with_dispatched)->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsBinary, complement_within_dispatched, complement_within_dispatched)
    ->ArgName("chunks")->Arg(1)->Arg(1024);
BENCHMARK_CAPTURE(BM_BitsUnary, count_dispatched, count_dispatched, 1)->ArgName("chunks")->Arg(1)->Arg(1024);
const bool kInstructionSetNamed = [] {
  benchmark::AddCustomContext("bit_kernels", retarget::bit_kernels::instruction_set());
  return true;
}();

// The evaluator's former member extraction (a push_back per set bit, baseline
// x86-64), against bit_kernels::append_members (sized once, dispatched).
std::vector<UserIndex> extract_members(const ChunkBits& bits, std::uint32_t chunk) {
  std::vector<UserIndex> out;
  const std::uint32_t base = chunk << retarget::sdk::kChunkShift;
  for (std::uint32_t w = 0; w < kChunkWords; ++w) {
    std::uint64_t word = bits.words[w];
    while (word) {
      out.push_back(base + w * 64 + static_cast<std::uint32_t>(std::countr_zero(word)));
      word &= word - 1;
    }
  }
  return out;
}

// range(0) = the percentage of members in the chunk. Bytes = the bitset
// scanned; items = members extracted.
void BM_BitsExtractMembersDispatched(benchmark::State& state) {
  const ChunkBits bits = random_chunks(1, 3, static_cast<unsigned>(state.range(0)))[0];
  const std::uint64_t members = bits.count();
  for (auto _ : state) {
    std::vector<UserIndex> out;
    retarget::bit_kernels::append_members(bits, 1u << retarget::sdk::kChunkShift, out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sizeof(ChunkBits)));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * members));
}
BENCHMARK(BM_BitsExtractMembersDispatched)->ArgName("density_pct")->Arg(1)->Arg(10)->Arg(50)->Arg(100);

void BM_BitsExtractMembers(benchmark::State& state) {
  const ChunkBits bits = random_chunks(1, 3, static_cast<unsigned>(state.range(0)))[0];
  const std::uint64_t members = bits.count();
  for (auto _ : state) {
    std::vector<UserIndex> out = extract_members(bits, 1);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * sizeof(ChunkBits)));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * members));
}
BENCHMARK(BM_BitsExtractMembers)->ArgName("density_pct")->Arg(1)->Arg(10)->Arg(50)->Arg(100);

// IntColumn::set_chunk_bits, the scatter at the heart of every "has the fact"
// leaf (AnyFactFilter): the column's users of one chunk set their bits
// (Elias-Fano decoded, or a bitmap OR'ed where the chunk is dense).
// range(0) = the percentage of the chunk's users in the column. Bytes = the
// encoded block read; items = column entries.
void BM_BitsColumnScatter(benchmark::State& state) {
  const auto percent = static_cast<unsigned>(state.range(0));
  std::vector<UserIndex> users;
  Rng rng(4);
  for (UserIndex u = 0; u < kChunkUsers; ++u)
    if (rng.chance(percent)) users.push_back(u);
  const std::size_t entries = users.size();
  std::vector<std::int64_t> times(entries, 0);
  auto column = retarget::make_int_column<retarget::sdk::TimeTag>(users, times);
  const std::size_t block_bytes = column->scan_bytes();
  ChunkBits out;
  for (auto _ : state) {
    out.clear();
    column->set_chunk_bits(0, out);
    benchmark::DoNotOptimize(out.words);
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * block_bytes));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * entries));
}
BENCHMARK(BM_BitsColumnScatter)->ArgName("density_pct")->Arg(1)->Arg(10)->Arg(50);

// ---------------------------------------------------------------------------
// Synthetic data: a catalog and realistic events (formats.md).
//
// 30 campaigns c00..c29 (c00 multivariate and recurring, with a control group);
// 5 Canvases k0..k4 with steps s1..s3 and variations v1, v2, ctl (control).
// Tag `promo`: c00..c15 and k0..k3 (20 sources).
// Per user: 1-6 campaign receipts (email or push) with opens and clicks,
// conversions and c00 control enrollment; entry into each Canvas with 20 %
// chance, then step receipts, opens and exits; profile events (attributes
// country and lifetime_value, the new_checkout feature flag, news feed views,
// hard bounces). About 12 events per user.

constexpr std::uint32_t kUsers = 4 * kChunkUsers;  // 262,144 users: 4 chunks
constexpr std::uint32_t kSliceUsers = kChunkUsers;  // users per ingest_text call while building
constexpr std::uint32_t kSampleUsers = 8192;        // the users whose events the ingest benchmarks parse
constexpr int kCampaigns = 30;
constexpr int kCanvases = 5;
constexpr int kPromoCampaigns = 16, kPromoCanvases = 4;
constexpr Timestamp kSecond = 1000;
constexpr Timestamp kDay = retarget::sdk::kMillisPerDay;

Timestamp now_ms() {
  static const Timestamp now = *retarget::parse_time_ms("2026-06-01T00:00:00Z");
  return now;
}

// `prefix` followed by `n`, zero-padded to `width` digits. (Built by appending:
// GCC 12 warns falsely (-Wrestrict) on "literal" + std::string temporaries.)
std::string numbered(std::string prefix, std::uint64_t n, std::size_t width = 1) {
  const std::string digits = std::to_string(n);
  if (digits.size() < width) prefix.append(width - digits.size(), '0');
  return prefix.append(digits);
}
std::string two_digits(int n) { return numbered("", static_cast<std::uint64_t>(n), 2); }
std::string campaign_id(int c) { return numbered("c", static_cast<std::uint64_t>(c), 2); }
std::string canvas_id(int k) { return numbered("k", static_cast<std::uint64_t>(k)); }
std::string user_id(std::uint32_t u) { return numbered("u", u); }

std::string catalog_yaml() {
  std::string y = "version: 1\ncampaigns:\n";
  for (int c = 0; c < kCampaigns; ++c) {
    y += "  - {id: " + campaign_id(c) + ", name: Campaign " + two_digits(c);
    y += c < kPromoCampaigns ? ", tags: [promo]" : ", tags: [newsletter]";
    if (c == 0) y += ", multivariate: true, recurring: true, variants: [{id: a, name: A}, {id: b, name: B}]";
    y += ", aliases: [cta], status: active}\n";
  }
  y += "canvases:\n";
  for (int k = 0; k < kCanvases; ++k) {
    y += "  - {id: " + canvas_id(k) + ", name: Canvas " + std::to_string(k);
    y += k < kPromoCanvases ? ", tags: [promo, lifecycle]" : ", tags: [lifecycle]";
    y += ", variations: [{id: v1, name: V1}, {id: v2, name: V2}, {id: ctl, name: Control, control: true}]";
    y += ", steps: [{id: s1, name: S1}, {id: s2, name: S2}, {id: s3, name: S3}], status: active}\n";
  }
  y += "attributes:\n  country: string\n  lifetime_value: number\n";
  return y;
}

// Appends one event line; `fields` are extra JSON members ("\"campaign\":\"c00\",...").
void append_event(std::string& out, Timestamp t, const std::string& user, std::string_view type,
                  std::string_view fields = {}) {
  out += "{\"time\":\"";
  out += retarget::format_time_ms(t);
  out += "\",\"user\":\"";
  out += user;
  out += "\",\"type\":\"";
  out += type;
  out += '"';
  if (!fields.empty()) {
    out += ',';
    out += fields;
  }
  out += "}\n";
}

// A whole second within the last `days` days before now.
Timestamp recent(Rng& rng, int days) { return now_ms() - static_cast<Timestamp>(rng.below(days * 86400)) * kSecond; }

// Opens and clicks after a receipt at `t` on `channel`; `source` is the JSON source members.
void interaction_events(Rng& rng, std::string& out, const std::string& user, Timestamp t, const std::string& source,
                        bool email) {
  Timestamp later = std::min(now_ms(), t + static_cast<Timestamp>(1 + rng.below(3600)) * kSecond);
  if (!email) {
    if (rng.chance(20)) append_event(out, later, user, "interaction", source + ",\"action\":\"opened_push\"");
    return;
  }
  if (rng.chance(35)) append_event(out, later, user, "interaction", source + ",\"action\":\"opened_email\"");
  if (rng.chance(10)) append_event(out, later, user, "interaction", source + ",\"action\":\"opened_email_machine\"");
  if (rng.chance(12))
    append_event(out, later + kSecond, user, "interaction",
                 source + ",\"action\":\"clicked_email\"" + (rng.chance(50) ? ",\"alias\":\"cta\"" : ""));
}

// 1-6 distinct campaigns (a stride of 7 is coprime with 30).
void campaign_events(Rng& rng, std::string& out, const std::string& user) {
  const int receipts = 1 + static_cast<int>(rng.below(6));
  const int first = static_cast<int>(rng.below(kCampaigns));
  for (int j = 0; j < receipts; ++j) {
    const int c = (first + 7 * j) % kCampaigns;
    const std::string source = "\"campaign\":\"" + campaign_id(c) + "\"";
    const Timestamp t = recent(rng, 120);
    if (c == 0 && rng.chance(10)) {  // c00's control group: enrolled, not sent
      append_event(out, t, user, "control", source);
    } else {
      const bool email = rng.chance(70);
      std::string fields = source + ",\"channel\":\"" + (email ? "email" : "push") + "\"";
      if (c == 0) fields += rng.chance(50) ? ",\"variant\":\"a\"" : ",\"variant\":\"b\"";
      append_event(out, t, user, "received", fields);
      interaction_events(rng, out, user, t, source, email);
    }
    if (rng.chance(c == 0 ? 25 : 8)) {
      // Mostly after the receipt; some before it (the recurring c00 ignores those).
      const Timestamp after = std::min(now_ms(), t + static_cast<Timestamp>(rng.below(3 * 86400)) * kSecond);
      const Timestamp conversion = rng.chance(80) ? after : t - kDay;
      append_event(out, conversion, user, "converted", source + ",\"conversion_event\":0");
    }
  }
}

void canvas_events(Rng& rng, std::string& out, const std::string& user) {
  for (int k = 0; k < kCanvases; ++k) {
    if (!rng.chance(20)) continue;
    const std::string canvas = "\"canvas\":\"" + canvas_id(k) + "\"";
    const Timestamp entered = recent(rng, 90);
    const std::uint64_t v = rng.below(100);
    const char* variation = v < 10 ? "ctl" : v < 55 ? "v1" : "v2";
    append_event(out, entered, user, "canvas_entered", canvas + ",\"variation\":\"" + variation + "\"");
    if (v >= 10) {  // not in the control group: the steps send
      const unsigned reach[] = {100, 60, 30};
      for (int s = 0; s < 3; ++s) {
        if (!rng.chance(reach[s])) break;
        const std::string source = canvas + ",\"step\":\"s" + std::to_string(s + 1) + "\"";
        const bool email = rng.chance(70);
        const Timestamp t = std::min(now_ms(), entered + (s + 1) * kDay);
        append_event(out, t, user, "received", source + ",\"channel\":\"" + (email ? "email" : "push") + "\"");
        interaction_events(rng, out, user, t, source, email);
      }
    }
    if (rng.chance(50)) append_event(out, std::min(now_ms(), entered + 4 * kDay), user, "canvas_exited", canvas);
  }
}

void profile_events(Rng& rng, std::string& out, const std::string& user) {
  static const char* const kCountries[] = {"US", "DE", "FR", "GB", "ES", "IT", "NL", "PL", "SE", "BR"};
  if (rng.chance(90)) {
    const std::string country = kCountries[rng.below(10)];
    const std::uint64_t cents = rng.below(50000);  // lifetime_value 0.00 to 499.99
    const std::string value = std::to_string(cents / 100) + "." + two_digits(static_cast<int>(cents % 100));
    append_event(out, recent(rng, 365), user, "attributes",
                 "\"attributes\":{\"country\":\"" + country + "\",\"lifetime_value\":" + value + "}");
  }
  if (rng.chance(40))
    append_event(out, recent(rng, 60), user, "feature_flag",
                 std::string("\"flag\":\"new_checkout\",\"enabled\":") + (rng.chance(75) ? "true" : "false"));
  if (rng.chance(60)) {
    const Timestamp last = recent(rng, 30);
    const int views = 1 + static_cast<int>(rng.below(5));
    for (int i = 0; i < views; ++i) append_event(out, last - i * 3600 * kSecond, user, "news_feed_view");
  }
  if (rng.chance(2)) append_event(out, recent(rng, 200), user, "hard_bounce");
}

// The events of users [first, last), user by user.
std::string events_of_users(std::uint32_t first, std::uint32_t last) {
  std::string out;
  out.reserve(static_cast<std::size_t>(last - first) * 12 * 150);
  for (std::uint32_t u = first; u < last; ++u) {
    Rng rng(0x5eedULL * (u + 1));
    const std::string user = user_id(u);
    campaign_events(rng, out, user);
    canvas_events(rng, out, user);
    profile_events(rng, out, user);
  }
  return out;
}

// The events the ingest benchmarks parse (~100k lines, ~13 MB).
const std::string& sample_events() {
  static const std::string text = events_of_users(0, kSampleUsers);
  return text;
}

std::size_t line_count(std::string_view text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// A :memory: engine with the shipped plugins of this build and the catalog, or
// the reason it could not be made.
retarget::Result<std::unique_ptr<retarget::Engine>> open_engine() {
  retarget::EngineOptions o;
  o.data_dir = ":memory:";
  // The plugins beside the binary (<bin>/../lib/retarget/plugins), as for `retarget`.
  o.default_plugin_dirs = true;
  o.now_ms = now_ms();
  o.threads = 1;
  auto engine = retarget::Engine::Open(o);
  if (!engine.ok()) return engine.status();
  // A refused plugin (e.g. built against another SDK) would make its filters
  // "unknown" later: name it now.
  if (const auto refused = (*engine)->refused_plugins(); !refused.empty())
    return retarget::Status::Failed("plugin " + refused[0].library + " refused: " + refused[0].reason);
  retarget::Diagnostics diags;
  retarget::Status applied = (*engine)->apply_catalog_text(catalog_yaml(), "bench-catalog", diags);
  if (!applied.ok() || diags.error_count() > 0)
    return retarget::Status::Failed("the benchmark catalog is invalid: " + diags.to_string());
  return engine;
}

// ---------------------------------------------------------------------------
// Evaluate/*: one segment per filter family (params: docs/rules.md), each
// checked at setup to have members.

const char* const kRules = R"(version: 1
segments:
  - id: campaign_clicked_opened
    match: {clicked_opened_campaign: {campaign: c00, action: opened_email}}
  - id: campaign_converted
    match: {converted_campaign: {campaign: c00}}
  - id: campaign_last_received
    match: {last_received_campaign: {campaign: c00, less_than_days_ago: 30}}
  - id: canvas_received_step
    match: {received_canvas_step: {canvas: k0, step: s2}}
  - id: canvas_control_group
    match: {in_canvas_control_group: {canvas: k0, are: false}}
  - id: tag_received
    match: {received_tagged: {tag: promo}}
  - id: profile_last_received_email
    match: {last_received_email: {more_than_days_ago: 7}}
  - id: profile_feature_flag
    match: {feature_flag: {flag: new_checkout}}
  - id: profile_news_feed_views
    match: {news_feed_view_count: {op: more_than, value: 2}}
  - id: general_attribute_string
    match: {custom_attribute: {name: country, op: equals, value: DE}}
  - id: general_attribute_number
    match: {custom_attribute: {name: lifetime_value, op: more_than, value: 250}}
  - id: general_random_bucket
    match: {random_bucket: {op: less_than, value: 1000}}
  - id: composite
    match:
      all:
        - received_tagged: {tag: promo}
        - not: {converted_campaign: {campaign: c00}}
        - any:
            - clicked_opened_campaign: {campaign: c00, action: clicked_email}
            - last_received_email: {more_than_days_ago: 30}
            - custom_attribute: {name: country, op: in, value: [DE, FR, NL]}
    exclude:
      - hard_bounced: {is: true}
)";

// The engine the Evaluate benchmarks share, built on first use.
struct World {
  std::unique_ptr<retarget::Engine> engine;
  std::uint64_t users = 0;
  std::uint64_t events = 0;
  std::string error;  // non-empty: why the world could not be built
};

World build_world() {
  World w;
  const auto start = std::chrono::steady_clock::now();
  auto engine = open_engine();
  if (!engine.ok()) {
    w.error = engine.status().message();
    return w;
  }
  w.engine = std::move(*engine);
  for (std::uint32_t first = 0; first < kUsers; first += kSliceUsers) {
    auto report = w.engine->ingest_text(events_of_users(first, first + kSliceUsers));
    if (!report.ok() || report->rejected > 0) {
      w.error = !report.ok() ? report.status().message()
                             : "synthetic event rejected: line " + std::to_string(report->rejections[0].line) + ": " +
                                   report->rejections[0].reason;
      return w;
    }
    w.events += report->accepted;
  }
  retarget::Diagnostics diags;
  if (!w.engine->load_rules_text(kRules, "bench-rules", diags, /*store=*/false).ok()) {
    w.error = "the benchmark rules are invalid: " + diags.to_string();
    return w;
  }
  w.users = w.engine->users().size();
  // Building takes a while (it is bound by the engine's ingest rate): say so.
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::fprintf(stderr, "synthetic engine: %llu users, %llu events, built in %.1f s\n",
               static_cast<unsigned long long>(w.users), static_cast<unsigned long long>(w.events), seconds);
  return w;
}

const World& world() {
  static const World w = build_world();
  return w;
}

void BM_Evaluate(benchmark::State& state, const char* segment) {
  const World& w = world();
  if (!w.error.empty()) {
    state.SkipWithError(w.error.c_str());
    return;
  }
  // A benchmark of an empty result measures nothing: check first.
  auto first = w.engine->evaluate(segment, /*with_members=*/false);
  if (!first.ok()) {
    state.SkipWithError(first.status().message().c_str());
    return;
  }
  if (first->count == 0) {
    state.SkipWithError("the segment has no members in the synthetic data");
    return;
  }
  double evaluate_ms = 0, compile_ms = 0;
  for (auto _ : state) {
    auto result = w.engine->evaluate(segment, /*with_members=*/false);
    benchmark::DoNotOptimize(result);
    evaluate_ms += result->evaluate_ms;
    compile_ms += result->compile_ms;
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * w.users));
  state.counters["members"] = static_cast<double>(first->count);
  // The engine's own split of each call: the plan over the index (incl. the
  // roaring result) and the compile before it (incl. tag resolution).
  state.counters["eval_ms"] = benchmark::Counter(evaluate_ms, benchmark::Counter::kAvgIterations);
  state.counters["compile_ms"] = benchmark::Counter(compile_ms, benchmark::Counter::kAvgIterations);
}

#define RETARGET_EVALUATE_BENCHMARK(segment) \
  BENCHMARK_CAPTURE(BM_Evaluate, segment, #segment)->UseRealTime()->Unit(benchmark::kMillisecond)

RETARGET_EVALUATE_BENCHMARK(campaign_clicked_opened);
RETARGET_EVALUATE_BENCHMARK(campaign_converted);
RETARGET_EVALUATE_BENCHMARK(campaign_last_received);
RETARGET_EVALUATE_BENCHMARK(canvas_received_step);
RETARGET_EVALUATE_BENCHMARK(canvas_control_group);
RETARGET_EVALUATE_BENCHMARK(tag_received);
RETARGET_EVALUATE_BENCHMARK(profile_last_received_email);
RETARGET_EVALUATE_BENCHMARK(profile_feature_flag);
RETARGET_EVALUATE_BENCHMARK(profile_news_feed_views);
RETARGET_EVALUATE_BENCHMARK(general_attribute_string);
RETARGET_EVALUATE_BENCHMARK(general_attribute_number);
RETARGET_EVALUATE_BENCHMARK(general_random_bucket);
RETARGET_EVALUATE_BENCHMARK(composite);

// ---------------------------------------------------------------------------
// Ingest/*.

// EventParser::parse (simdjson + validation against the catalog) over every
// line of the sample, one line at a time as ingest does.
void BM_IngestEventParser(benchmark::State& state) {
  retarget::Catalog catalog;
  retarget::Diagnostics diags;
  catalog.apply_text(catalog_yaml(), "bench-catalog", diags);
  if (diags.error_count() > 0) {
    state.SkipWithError(diags.to_string().c_str());
    return;
  }
  const simdjson::padded_string padded(sample_events());  // the parser reads past a line's end
  std::vector<std::string_view> lines;
  for (std::string_view rest(padded.data(), padded.size()); !rest.empty();) {
    const std::size_t nl = rest.find('\n');
    lines.push_back(rest.substr(0, nl));
    rest.remove_prefix(nl == std::string_view::npos ? rest.size() : nl + 1);
  }
  retarget::EventParser parser(catalog);
  retarget::Event event;
  std::string error;
  for (std::string_view line : lines)
    if (!parser.parse(line, event, error)) {
      state.SkipWithError(("synthetic event rejected: " + error).c_str());
      return;
    }
  for (auto _ : state) {
    for (std::string_view line : lines) {
      bool ok = parser.parse(line, event, error);
      benchmark::DoNotOptimize(ok);
      benchmark::DoNotOptimize(event);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * padded.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines.size()));
}
BENCHMARK(BM_IngestEventParser)->Unit(benchmark::kMillisecond);

// Engine::ingest_text of the sample into a fresh :memory: engine (parse,
// content hash, store, index snapshot); opening the engine and destroying it
// are not timed.
void BM_IngestEngineMemory(benchmark::State& state) {
  const std::string& text = sample_events();
  const std::size_t lines = line_count(text);
  for (auto _ : state) {
    state.PauseTiming();
    auto engine = open_engine();
    if (!engine.ok()) {
      state.SkipWithError(engine.status().message().c_str());
      break;
    }
    state.ResumeTiming();
    auto report = (*engine)->ingest_text(text);
    state.PauseTiming();
    if (!report.ok() || report->accepted != lines) {
      state.SkipWithError(report.ok() ? "not every synthetic event was accepted" : report.status().message().c_str());
      break;
    }
    engine->reset();
    state.ResumeTiming();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * text.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines));
}
BENCHMARK(BM_IngestEngineMemory)->UseRealTime()->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
