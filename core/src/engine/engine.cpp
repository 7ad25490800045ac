#include "retarget/engine.hpp"

#include <simdjson.h>
#include <tbb/task_arena.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <iostream>
#include <iterator>
#include <mutex>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "eval/evaluator.hpp"
#include "index/index.hpp"
#include "ingest/event_parser.hpp"
#include "plugin/plugin_host.hpp"
#include "plugin/registry.hpp"
#include "retarget/sdk/helpers.hpp"
#include "rules/rules.hpp"
#include "export/exports.hpp"
#include "rules/schema.hpp"
#include "store/event_codec.hpp"
#include "index/index_builder.hpp"
#include "engine/engine_impl.hpp"

namespace retarget {

namespace fs = std::filesystem;

namespace {

std::vector<std::string> default_plugin_dirs() {
  std::vector<std::string> dirs;
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (ec) return dirs;
  for (const char* rel : {"../lib/retarget/plugins"}) {
    fs::path p = (exe.parent_path() / rel).lexically_normal();
    if (fs::is_directory(p, ec)) dirs.push_back(p.string());
  }
  return dirs;
}

ExplainNode to_public(const PointNode& n) {
  ExplainNode out{n.label, n.value, n.because, {}};
  for (const auto& c : n.children) out.children.push_back(to_public(c));
  return out;
}

std::string diag_summary(const Diagnostics& d) {
  return std::to_string(d.error_count()) + " error(s):\n" + d.to_string();
}

}  // namespace

std::optional<std::int64_t> parse_time_ms(std::string_view text) { return parse_time(text); }
std::string format_time_ms(std::int64_t ms) { return sdk::format_time(ms); }

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  if (!options.config_path.empty()) {
    Diagnostics diags;
    impl->config = load_config(options.config_path, diags);
    if (diags.has_errors()) return Status::InvalidInput("invalid config: " + diag_summary(diags));
  }
  Config& c = impl->config;
  if (options.data_dir) c.data_dir = *options.data_dir;
  if (options.threads) c.threads = *options.threads;
  auto zone = TimeZone::Locate(c.timezone);
  if (!zone.ok()) return zone.status();
  impl->zone = zone.value();

  PluginHostOptions po;
  po.directories = c.plugin_dirs;
  po.directories.insert(po.directories.end(), options.extra_plugin_dirs.begin(), options.extra_plugin_dirs.end());
  if (options.default_plugin_dirs && c.plugin_dirs.empty())
    for (auto& d : default_plugin_dirs()) po.directories.push_back(d);
  po.sha256_allowlist = c.plugin_sha256_allowlist;
  load_plugins(po, impl->registry);

  impl->policy = std::make_unique<LifecyclePolicy>(c, impl->zone);
  impl->graph.set_pin_by_tag(c.pin_by_tag);

  unsigned threads = c.threads ? c.threads : std::max(1u, std::thread::hardware_concurrency());
  impl->arena = std::make_unique<tbb::task_arena>(static_cast<int>(threads));
  if (c.data_dir != ":memory:") {
    std::error_code ec;
    fs::create_directories(c.data_dir, ec);
    auto durable = DurableStore::Open(c.data_dir);
    if (!durable.ok()) return durable.status();
    impl->durable = std::move(durable).value();
    std::lock_guard lock(impl->mu);
    Status s = impl->replay();
    if (!s.ok()) return s;
  }
  if (options.scheduler) {
    Engine::Impl* raw = impl.get();
    impl->scheduler = std::thread([raw] { raw->run_scheduler(); });
  }
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const Config& Engine::config() const { return impl_->config; }
std::int64_t Engine::now_ms() const {
  std::lock_guard lock(impl_->mu);
  return impl_->now();
}
void Engine::set_now_ms(std::optional<std::int64_t> now_ms) {
  std::lock_guard lock(impl_->mu);
  impl_->options.now_ms = now_ms;
}

std::vector<FilterDescription> Engine::filters() const {
  std::vector<FilterDescription> out;
  for (const auto& [name, f] : impl_->registry.filters()) {
    FilterDescription d;
    d.name = name;
    d.description = f.info->description;
    d.version = f.info->version;
    d.example = f.info->example;
    d.plugin = f.plugin_name;
    d.library = f.library_path;
    d.interaction_dependent = f.info->interaction_dependent;
    for (const auto& p : f.info->params) {
      d.params.push_back(
          {p.name, sdk::to_string(p.type), p.description, p.default_value, p.required, p.allowed});
    }
    out.push_back(std::move(d));
  }
  return out;
}

std::vector<PluginDescription> Engine::plugins() const {
  std::vector<PluginDescription> out;
  for (const auto& p : impl_->registry.plugins()) out.push_back({p.name, p.version, p.path, p.filters});
  return out;
}

std::vector<RefusedPluginDescription> Engine::refused_plugins() const {
  std::vector<RefusedPluginDescription> out;
  for (const auto& r : impl_->registry.refused()) out.push_back({r.path, r.reason});
  return out;
}

namespace {

// Applies a catalog change, all or nothing: the file must be valid, every
// stored segment and every consumer's audience must still compile against the
// new catalog, and nothing may become active while it needs expired data (a
// consumer whose audience reads it, or an expired source itself: the resume
// guard also guards the declarative route).
Status apply_catalog(Engine::Impl& impl, const std::function<void(Catalog&)>& apply, const std::string& file,
                     Diagnostics& diags) {
  std::size_t before = diags.error_count();
  Catalog next = impl.catalog;
  apply(next);
  if (diags.error_count() > before) return Status::InvalidInput("the catalog has errors; nothing was applied");
  if (!impl.validate(next, impl.rules, diags, nullptr, {file}).ok())
    return Status::InvalidInput("the catalog has errors; nothing was applied");
  std::set<std::string> pinned_before = impl.pinned_expired();
  Catalog previous = std::move(impl.catalog);
  impl.catalog = std::move(next);
  impl.sync_graph(&diags);
  std::vector<std::string> refused;
  auto check = [&](const std::string& key, LifecycleStatus now_status, LifecycleStatus was) {
    if (now_status != LifecycleStatus::kActive || was == LifecycleStatus::kActive) return;
    auto needs = impl.activation_needs(key);
    if (!needs.empty()) refused.push_back(key + " needs expired data of " + join(needs, ", "));
  };
  for (const auto& [id, c] : impl.catalog.campaigns()) {
    const Campaign* old = previous.campaign(id);
    check("campaign:" + id, c.status, old ? old->status : LifecycleStatus::kDraft);
  }
  for (const auto& [id, c] : impl.catalog.canvases()) {
    const Canvas* old = previous.canvas(id);
    check("canvas:" + id, c.status, old ? old->status : LifecycleStatus::kDraft);
  }
  for (const auto& [id, c] : impl.catalog.content_cards()) {
    const ContentCard* old = previous.content_card(id);
    check("card:" + id, c.status, old ? old->status : LifecycleStatus::kDraft);
  }
  if (!refused.empty()) {
    impl.catalog = std::move(previous);
    impl.sync_graph(nullptr);
    return Status::Failed("refused to activate: " + join(refused, "; ") +
                          "; restore it first (retarget restore ...) or resume with --restore; nothing was applied");
  }
  impl.report_newly_pinned(pinned_before, diags);
  impl.publish();
  return Status::Ok();
}

}  // namespace

Status Engine::apply_catalog_file(const std::string& path, Diagnostics& diags) {
  auto text = read_text_file(path, impl_->config.limits.max_rules_file_bytes);
  if (!text.ok()) {
    diags.error({path, 0, 0}, text.status().message());
    return text.status();
  }
  return apply_catalog_text(*text, path, diags);
}

Status Engine::apply_catalog_text(const std::string& yaml, const std::string& name, Diagnostics& diags) {
  std::lock_guard lock(impl_->mu);
  Status s = check_utf8(yaml, name);
  if (!s.ok()) {
    diags.error({name, 0, 0}, s.message());
    return s;
  }
  s = apply_catalog(*impl_, [&](Catalog& c) { c.apply_text(yaml, name, diags); }, name, diags);
  diags.sort();
  if (!s.ok()) return s;
  return impl_->log({{"op", "catalog"}, {"name", name}, {"text", yaml}});
}

Result<IngestReport> Engine::Impl::ingest(const char* data, std::size_t size, const IngestOptions& options,
                                          std::uint64_t line_base) {
  auto start = std::chrono::steady_clock::now();
  IngestReport report;
  std::ofstream dead_letter;
  if (!config.dead_letter.empty()) {
    dead_letter.open(config.dead_letter, std::ios::app);
    if (!dead_letter) return Status::IoError("cannot open the dead-letter file '" + config.dead_letter + "'");
  }
  std::lock_guard lock(mu);
  EventParser parser(catalog);
  Event event;
  std::string error;
  const char* end = data + size;
  const char* p = data;
  std::uint64_t line_no = line_base;
  auto reject = [&](std::string_view line, std::string reason) {
    ++report.rejected;
    if (report.rejections.size() < 1000) report.rejections.push_back({line_no, reason});
    // One JSON object per rejected line; `text` is the line itself (bytes
    // that are not UTF-8 become U+FFFD: JSON cannot hold them).
    if (dead_letter)
      dead_letter << nlohmann::json{{"line", line_no}, {"reason", reason}, {"text", utf8_replaced(line)}}.dump()
                  << "\n";
  };
  // Group commit: events are made durable a batch at a time (one synced
  // write), then applied to the in-memory store; acknowledged after that.
  std::vector<Event> pending;
  std::vector<IndexBuilder::Hash128> pending_hashes;  // content hashes of `pending`, computed once per event
  std::vector<DurableStore::Record> records;
  std::unordered_set<IndexBuilder::Hash128, IndexBuilder::Hash128Hasher> pending_keys;
  std::string value;
  std::set<std::string> revived;  // legacy-deleted sources that receive new data
  auto flush = [&]() -> Status {
    if (durable && !records.empty()) {
      Status s = durable->write(records, /*sync=*/true);
      if (!s.ok()) return s;
    }
    for (std::size_t i = 0; i < pending.size(); ++i) {
      if (builder.add(pending[i], catalog, pending_hashes[i])) ++report.accepted;
      else ++report.duplicates;
    }
    for (const auto& key : revived) {
      lifecycle[key].tier = Tier::kLive;
      Status s = save_state(key);
      if (!s.ok()) return s;
    }
    pending.clear();
    pending_hashes.clear();
    records.clear();
    pending_keys.clear();
    revived.clear();
    if (options.on_durable) options.on_durable(line_no);
    return Status::Ok();
  };
  while (p < end) {
    const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
    const char* line_end = nl ? nl : end;
    std::string_view line(p, static_cast<std::size_t>(line_end - p));
    ++line_no;
    p = nl ? nl + 1 : end;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank lines are not events
    ++report.lines;
    if (line.size() > config.limits.max_event_line_bytes) {
      reject(line.substr(0, 200), "line is " + std::to_string(line.size()) + " bytes, over the limit of " +
                                       std::to_string(config.limits.max_event_line_bytes));
      continue;
    }
    if (!parser.parse(line, event, error)) {
      reject(line, error);
      continue;
    }
    IndexBuilder::Hash128 hash = IndexBuilder::content_hash(event);
    if (builder.contains(hash) || !pending_keys.insert(hash).second) {
      ++report.duplicates;
      continue;
    }
    event.seq = next_seq++;
    if (durable) {
      encode_event(event, value);
      std::string key = IndexBuilder::key_of(hash);
      if (is_interaction_event(event.type)) {
        std::string source = source_key(event.source_kind, event.source);
        auto it = lifecycle.find(source);
        Tier tier = it == lifecycle.end() ? Tier::kLive : it->second.tier;
        if (tier == Tier::kDeleted) revived.insert(source);
        // Events of an expired source go to long-term storage, never dropped.
        records.push_back({tier == Tier::kExpired ? DurableStore::Family::kArchive : DurableStore::Family::kLive,
                           DurableStore::source_prefix(source) + key, value});
      } else {
        records.push_back({DurableStore::Family::kProfile, key, value});
      }
    } else if (is_interaction_event(event.type)) {
      std::string source = source_key(event.source_kind, event.source);
      auto it = lifecycle.find(source);
      if (it != lifecycle.end() && it->second.tier == Tier::kDeleted) revived.insert(source);
    }
    pending.push_back(std::move(event));
    pending_hashes.push_back(hash);
    if (pending.size() >= std::max<std::size_t>(1, options.batch)) {
      Status s = flush();
      if (!s.ok()) return s;
    }
  }
  Status s = flush();
  if (!s.ok()) return s;
  publish();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

Result<IngestReport> Engine::ingest_file(const std::string& path, const IngestOptions& options) {
  if (path == "-") {
    std::string text(std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>{});
    return ingest_text(text, options);
  }
  std::error_code ec;
  if (fs::is_directory(path, ec)) return cannot_read(path, "it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return cannot_read(path, std::strerror(errno));
  // Block by block (whole lines, read_block_bytes at most), so a file of any size
  // needs a bounded buffer; every block is durable and published before the
  // next is read.
  const std::size_t kBlock = std::max<std::size_t>(1, options.read_block_bytes);
  std::vector<char> buf(kBlock + simdjson::SIMDJSON_PADDING);
  std::size_t filled = 0;
  std::uint64_t line_base = 0;
  bool skipping = false;  // inside a line longer than a block (rejected once)
  IngestReport total;
  auto start = std::chrono::steady_clock::now();
  auto add = [&](const IngestReport& r) {
    total.lines += r.lines, total.accepted += r.accepted, total.duplicates += r.duplicates, total.rejected += r.rejected;
    for (const auto& x : r.rejections)
      if (total.rejections.size() < 1000) total.rejections.push_back(x);
  };
  while (true) {
    in.read(buf.data() + filled, static_cast<std::streamsize>(kBlock - filled));
    filled += static_cast<std::size_t>(in.gcount());
    bool eof = !in;
    if (in.bad()) return Status::IoError("reading events file '" + path + "' failed");
    const char* nl = static_cast<const char*>(::memrchr(buf.data(), '\n', filled));  // the last newline
    std::size_t cut = eof ? filled : nl ? static_cast<std::size_t>(nl - buf.data()) + 1 : 0;
    if (skipping) {  // drop the rest of an over-long line
      if (!nl && !eof) {
        filled = 0;
        continue;
      }
      std::size_t end_of_line = nl ? static_cast<std::size_t>(std::find(buf.data(), buf.data() + filled, '\n') - buf.data()) + 1 : filled;
      std::memmove(buf.data(), buf.data() + end_of_line, filled - end_of_line);
      filled -= end_of_line;
      skipping = false;
      continue;
    }
    if (cut == 0 && !eof) {  // one line fills the whole block: reject it, skip to its end
      ++line_base;
      ++total.lines, ++total.rejected;
      if (total.rejections.size() < 1000)
        total.rejections.push_back({line_base, "line is over " + std::to_string(kBlock) + " bytes, over the limit of " +
                                                   std::to_string(impl_->config.limits.max_event_line_bytes)});
      filled = 0;
      skipping = true;
      continue;
    }
    std::vector<char> rest(buf.begin() + static_cast<std::ptrdiff_t>(cut), buf.begin() + static_cast<std::ptrdiff_t>(filled));
    std::memset(buf.data() + cut, 0, std::min(buf.size() - cut, std::size_t{simdjson::SIMDJSON_PADDING}));
    auto r = impl_->ingest(buf.data(), cut, options, line_base);
    if (!r.ok()) return r.status();
    add(*r);
    line_base += static_cast<std::uint64_t>(std::count(buf.data(), buf.data() + cut, '\n'));
    if (cut > 0 && buf[cut - 1] != '\n') ++line_base;  // a last line without a newline
    std::copy(rest.begin(), rest.end(), buf.begin());
    filled = rest.size();
    if (eof) break;
  }
  total.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return total;
}

Result<IngestReport> Engine::ingest_text(std::string_view jsonl, const IngestOptions& options) {
  // simdjson reads up to SIMDJSON_PADDING bytes past a line's end: pad the buffer.
  simdjson::padded_string padded(jsonl);
  return impl_->ingest(padded.data(), padded.size(), options);
}

Status Engine::Impl::validate(const Catalog& cat, const RuleSet& candidate, Diagnostics& diags,
                              std::map<std::string, References>* out_refs,
                              const std::set<std::string>& warn_files, bool warn_expired_reads) const {
  Diagnostics local;
  std::set<std::string> deleted = deleted_sources();
  std::set<std::string> expired = expired_sources();
  Compiler compiler(registry, cat, candidate, compile_options(deleted));
  std::map<std::string, References> refs;
  for (const auto& [id, def] : candidate.segments()) {
    auto compiled = compiler.compile(def, local);
    if (!compiled) continue;
    refs[id] = compiled->references;
    if (!warn_expired_reads) continue;
    for (const auto& source : sources_read(*compiled, cat))
      if (expired.count(source))
        local.warning(def.where, "segment '" + id + "' reads " + source +
                                     ", whose interaction data is expired: it counts as absent until restored (" +
                                     restore_command(source) + ")");
  }
  for (const auto& def : candidate.duplicates()) compiler.compile(def, local);  // for their own problems
  compiler.check_cycles(refs, local);
  // Consumers' audiences: segments named must exist (a warning: it pins nothing
  // until it does), inline trees must compile against this catalog and rules.
  std::set<std::string> ids = candidate.ids();
  auto audience = [&](const std::string& key, const Audience& a, const SourceLocation& where) {
    for (const auto& s : a.segments)
      if (!ids.count(s))
        local.warning(where, key + "'s audience names segment '" + s +
                                 "', which is not defined yet: it pins nothing until it exists");
    if (a.match) {
      References r;
      compiler.compile_tree(*a.match, where.file, r, local);
    }
  };
  for (const auto& [id, c] : cat.campaigns()) audience("campaign:" + id, c.audience, c.where);
  for (const auto& [id, c] : cat.canvases()) audience("canvas:" + id, c.audience, c.where);
  for (const auto& [id, c] : cat.content_cards()) audience("card:" + id, c.audience, c.where);
  for (const auto& d : local.items()) {
    if (d.severity == Diagnostic::Severity::kError) diags.error(d.where, d.message);
    else if (warn_files.empty() || warn_files.count(d.where.file)) diags.warning(d.where, d.message);
  }
  if (out_refs) *out_refs = std::move(refs);
  if (local.has_errors())
    return Status::InvalidInput(std::to_string(local.error_count()) + " problem(s) in the rules");
  return Status::Ok();
}

Status Engine::validate_rules(const std::vector<std::string>& paths, Diagnostics& diags) const {
  std::vector<std::pair<std::string, std::string>> texts;
  for (const auto& p : paths) {
    auto text = read_text_file(p, impl_->config.limits.max_rules_file_bytes);
    if (!text.ok()) {
      diags.error({p, 0, 0}, text.status().message());
      return text.status();
    }
    texts.emplace_back(p, std::move(text).value());
  }
  std::lock_guard lock(impl_->mu);
  return impl_->apply_rules(texts, diags, /*commit=*/false, /*store=*/false, nullptr);
}

Status Engine::Impl::apply_rules(const std::vector<std::pair<std::string, std::string>>& texts, Diagnostics& diags,
                                 bool commit, bool store_them, RulesChange* change) {
  std::size_t before = diags.error_count();
  RuleSet added;
  std::set<std::string> files;
  for (const auto& [name, text] : texts) {
    files.insert(name);
    added.add_text(text, name, config.limits, diags);
  }
  bool read_errors = diags.error_count() > before;
  RuleSet candidate = rules;
  candidate.clear_duplicates();
  candidate.upsert(added);
  std::map<std::string, References> refs;
  // Compiled even after errors in reading, so that every problem is reported at once.
  // Rules loaded for one command (not stored): the evaluation that follows
  // warns about the expired data it reads, once.
  Status s = validate(catalog, candidate, diags, &refs, files, /*warn_expired_reads=*/store_them || !commit);
  diags.sort();
  if (read_errors || !s.ok())
    return Status::InvalidInput(std::to_string(diags.error_count() - before) + " problem(s) in the rules" +
                                (commit ? "; nothing was applied" : ""));
  if (!commit) return Status::Ok();
  if (change) {
    for (const auto& [id, def] : added.segments()) (rules.find(id) ? change->updated : change->added).push_back(id);
  }
  std::set<std::string> pinned_before = pinned_expired();
  candidate.clear_duplicates();
  rules = std::move(candidate);
  segment_refs = std::move(refs);
  sync_graph(&diags);
  report_newly_pinned(pinned_before, diags);
  diags.sort();
  if (store_them)
    for (const auto& [name, text] : texts) {
      Status logged = log({{"op", "rules"}, {"name", name}, {"text", text}});
      if (!logged.ok()) return logged;
    }
  return Status::Ok();
}

Status Engine::load_rules(const std::vector<std::string>& paths, Diagnostics& diags, bool store,
                          RulesChange* change) {
  // All files or none: validate them together first.
  std::vector<std::pair<std::string, std::string>> texts;
  for (const auto& p : paths) {
    auto text = read_text_file(p, impl_->config.limits.max_rules_file_bytes);
    if (!text.ok()) {
      diags.error({p, 0, 0}, text.status().message());
      return text.status();
    }
    texts.emplace_back(p, std::move(text).value());
  }
  std::lock_guard lock(impl_->mu);
  return impl_->apply_rules(texts, diags, /*commit=*/true, store, change);
}

Status Engine::load_rules_text(const std::string& yaml, const std::string& name, Diagnostics& diags, bool store,
                               RulesChange* change) {
  Status s = check_utf8(yaml, name);
  if (!s.ok()) {
    diags.error({name, 0, 0}, s.message());
    return s;
  }
  std::lock_guard lock(impl_->mu);
  return impl_->apply_rules({{name, yaml}}, diags, /*commit=*/true, store, change);
}

std::vector<std::string> Engine::segment_ids() const {
  std::lock_guard lock(impl_->mu);
  auto ids = impl_->rules.ids();
  return {ids.begin(), ids.end()};
}

// The evaluation behind evaluate() and footprint(); defined below.
static Result<SegmentResult> evaluate_segment(const Engine::Impl& impl, const std::string& segment_id,
                                              bool with_members, Footprint* footprint);

Result<SegmentResult> Engine::evaluate(const std::string& segment_id, bool with_members) const {
  return evaluate_segment(*impl_, segment_id, with_members, nullptr);
}

Result<EvaluationFootprint> Engine::footprint(const std::string& segment_id) const {
  Footprint f;
  auto r = evaluate_segment(*impl_, segment_id, false, &f);
  if (!r.ok()) return r.status();
  return EvaluationFootprint{f.columns, f.column_bytes, f.bitset_writes, f.bitset_writes * sizeof(sdk::ChunkBits)};
}

MemoryStats Engine::memory_stats() const {
  std::lock_guard lock(impl_->mu);
  IndexMemory im = impl_->index->memory();
  MemoryStats m;
  m.users = im.users;
  m.interaction_entries = im.interaction_entries;
  m.interaction_bytes = im.interaction_bytes;
  m.profile_entries = im.profile_entries;
  m.profile_bytes = im.profile_bytes;
  m.user_directory_bytes = im.user_directory_bytes;
  m.overhead_bytes = im.overhead_bytes;
  m.dedup_bytes = impl_->builder.dedup_memory_bytes();
  for (const auto& key : impl_->builder.source_keys()) m.interaction_events += impl_->builder.source_stats(key).records;
  return m;
}

static Result<SegmentResult> evaluate_segment(const Engine::Impl& impl, const std::string& segment_id,
                                              bool with_members, Footprint* footprint) {
  auto start = std::chrono::steady_clock::now();
  std::optional<CompiledSegment> compiled;
  std::shared_ptr<const Index> index;
  Diagnostics diags;
  sdk::Timestamp now;
  {
    std::lock_guard lock(impl.mu);
    now = impl.now();
    if (!impl.rules.find(segment_id)) {
      auto ids = impl.rules.ids();
      return Status::NotFound("unknown segment '" + segment_id + "'" +
                              (ids.empty() ? std::string(" (no rules are loaded: pass --rules FILE)") : ""));
    }
    compiled = impl.compile(segment_id, diags);
    index = impl.index;
  }
  if (!compiled) return Status::InvalidInput(diag_summary(diags));
  std::vector<std::string> expired_reads;
  {
    std::lock_guard lock(impl.mu);
    std::set<std::string> expired = impl.expired_sources();
    for (const auto& source : sources_read(*compiled, impl.catalog))
      if (expired.count(source))
        expired_reads.push_back("expired data excluded: " + source +
                                " is in long-term storage, so its interaction data counts as absent (" +
                                restore_command(source) + " to include it)");
  }
  double compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto bulk = evaluate_bulk(*compiled, *index, *impl.arena, now, with_members, footprint);
  if (!bulk.ok()) return bulk.status();
  SegmentResult out;
  out.id = compiled->id;
  out.name = compiled->name;
  out.count = bulk->count;
  out.evaluate_ms = bulk->evaluate_ms;
  out.compile_ms = compile_ms;
  // Each warning once: the compile's own, then one per expired source read.
  std::set<std::string> seen;
  for (const auto& d : diags.items())
    if (d.severity == Diagnostic::Severity::kWarning && seen.insert(d.to_string()).second)
      out.warnings.push_back(d.to_string());
  for (auto& w : expired_reads)
    if (seen.insert(w).second) out.warnings.push_back(std::move(w));
  if (with_members) {
    out.members.reserve(bulk->count);
    for (sdk::UserIndex u : bulk->members) out.members.emplace_back(index->user_id(u));
    std::sort(out.members.begin(), out.members.end());
  }
  return out;
}

Result<Explanation> Engine::explain(const std::string& segment_id, const std::string& user) const {
  std::optional<CompiledSegment> compiled;
  std::shared_ptr<const Index> index;
  Diagnostics diags;
  sdk::Timestamp now;
  {
    std::lock_guard lock(impl_->mu);
    now = impl_->now();
    if (!impl_->rules.find(segment_id)) return Status::NotFound("unknown segment '" + segment_id + "'");
    compiled = impl_->compile(segment_id, diags);
    index = impl_->index;
  }
  if (!compiled) return Status::InvalidInput(diag_summary(diags));
  Explanation out;
  out.segment = segment_id;
  out.user = user;
  for (const auto& d : diags.items())
    if (d.severity == Diagnostic::Severity::kWarning) out.warnings.push_back(d.to_string());
  {
    std::lock_guard lock(impl_->mu);
    std::set<std::string> expired = impl_->expired_sources();
    for (const auto& source : sources_read(*compiled, impl_->catalog))
      if (expired.count(source)) out.warnings.push_back("expired data excluded: " + source);
  }
  auto u = index->find_user(user);
  if (!u || *u >= index->user_count()) {
    out.known_user = false;
    out.match.label = "(user not in U: no accepted event names '" + user + "')";
    return out;
  }
  out.known_user = true;
  auto point = evaluate_point(*compiled, *index, *u, now);
  if (!point.ok()) return point.status();
  out.member = point->member;
  out.match = to_public(point->match);
  for (const auto& e : point->exclude) out.exclude.push_back(to_public(e));
  return out;
}

namespace {

// The top-level "warnings" of an interaction-data surface: one per expired
// source that holds data of the users it shows (and only those).
nlohmann::json expired_warnings(const std::map<std::string, std::vector<std::string>>& users_by_source) {
  nlohmann::json out = nlohmann::json::array();
  for (const auto& [source, users] : users_by_source) {
    std::vector<std::string> shown(users.begin(), users.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(users.size(), 10)));
    std::string who = join(shown, ", ") + (users.size() > shown.size() ? " and " + std::to_string(users.size() - shown.size()) + " more" : "");
    out.push_back("expired data excluded: " + source + " is in long-term storage and holds interaction data of " +
                  who + " (" + restore_command(source) + " to include it)");
  }
  return out;
}

}  // namespace

Result<std::string> Engine::profile(const std::string& user) const {
  std::lock_guard lock(impl_->mu);
  auto u = impl_->index->find_user(user);
  if (!u || *u >= impl_->index->user_count()) return Status::NotFound("unknown user '" + user + "'");
  nlohmann::json j = user_export(*impl_->index, impl_->catalog, *u);
  std::map<std::string, std::vector<std::string>> hidden;
  for (auto& source : impl_->index->expired_sources_of(*u)) hidden[source].push_back(user);
  j["warnings"] = expired_warnings(hidden);
  return j.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string Engine::export_users(const std::vector<std::string>& ids) const {
  std::lock_guard lock(impl_->mu);
  nlohmann::json users = nlohmann::json::array(), invalid = nlohmann::json::array();
  std::map<std::string, std::vector<std::string>> hidden;
  for (const auto& id : ids) {
    auto u = impl_->index->find_user(id);
    if (!u || *u >= impl_->index->user_count()) {
      invalid.push_back(id);
      continue;
    }
    users.push_back(user_export(*impl_->index, impl_->catalog, *u));
    for (auto& source : impl_->index->expired_sources_of(*u)) hidden[source].push_back(id);
  }
  return nlohmann::json{{"users", users}, {"invalid_user_ids", invalid}, {"message", "success"},
                        {"warnings", expired_warnings(hidden)}}
      .dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::string> Engine::export_recipients(const std::string& kind, const std::string& id, const std::string& step,
                                              std::vector<std::string>* warnings) const {
  std::lock_guard lock(impl_->mu);
  sdk::SourceKind k = kind == "canvas" ? sdk::SourceKind::kCanvas : sdk::SourceKind::kCampaign;
  if (k == sdk::SourceKind::kCampaign && !impl_->catalog.campaign(id)) return Status::NotFound("unknown campaign '" + id + "'");
  if (k == sdk::SourceKind::kCanvas) {
    const Canvas* c = impl_->catalog.canvas(id);
    if (!c) return Status::NotFound("unknown Canvas '" + id + "'");
    if (!step.empty() && !c->step(step)) return Status::NotFound("unknown step '" + step + "' of Canvas '" + id + "'");
  }
  std::string key = source_key(k, id);
  if (warnings && impl_->expired_sources().count(key))
    warnings->push_back(key + " is expired: its recipients are in long-term storage and not exported (restore it first)");
  return recipients_csv(*impl_->index, impl_->catalog, k, id, step);
}

Result<std::string> Engine::analytics(const std::string& kind, const std::string& id) const {
  std::lock_guard lock(impl_->mu);
  if (kind == "campaign" && !impl_->catalog.campaign(id)) return Status::NotFound("unknown campaign '" + id + "'");
  if (kind == "canvas" && !impl_->catalog.canvas(id)) return Status::NotFound("unknown Canvas '" + id + "'");
  std::string key = kind + ":" + id;
  return analytics_json(impl_->builder.analytics(key), key).dump(2);
}

std::string Engine::rules_json_schema() const {
  std::lock_guard lock(impl_->mu);
  auto ids = impl_->rules.ids();
  return retarget::rules_json_schema(impl_->registry, impl_->catalog, {ids.begin(), ids.end()}, impl_->config.limits)
      .dump(2);
}

std::vector<std::string> Engine::users() const {
  std::shared_ptr<const Index> index;
  {
    std::lock_guard lock(impl_->mu);
    index = impl_->index;
  }
  std::vector<std::string> out;
  for (std::uint32_t u = 0; u < index->user_count(); ++u) out.emplace_back(index->user_id(u));
  return out;
}

}  // namespace retarget
