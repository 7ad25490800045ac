// The Engine facade: opening, the catalog, rules, ingest, evaluation and the
// interaction-data surfaces. Readers (evaluate, explain, footprint, profile,
// exports, users) work on the current Version and take no engine lock;
// changes go through the writer path (writer_mu), log first, then memory.
#include "retarget/engine.hpp"
#include "retarget/identity.hpp"

#include <simdjson.h>
#include <tbb/task_arena.h>
#include <tbb/info.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <iterator>
#include <thread>
#include <unordered_set>

#include <nlohmann/json.hpp>

#include "catalog/catalog.hpp"
#include "common/files.hpp"
#include "common/text.hpp"
#include "common/time.hpp"
#include "engine/engine_impl.hpp"
#include "eval/evaluator.hpp"
#include "export/exports.hpp"
#include "index/index.hpp"
#include "ingest/event_parser.hpp"
#include "plugin/plugin_host.hpp"
#include "retarget/sdk/helpers.hpp"
#include "rules/rules.hpp"
#include "rules/schema.hpp"
#include "store/event_codec.hpp"

namespace retarget {

namespace fs = std::filesystem;

namespace {

#ifndef RETARGET_INSTALLED_PLUGIN_DIR
#define RETARGET_INSTALLED_PLUGIN_DIR "/usr/lib/retarget/plugins"
#endif

// <dir of the program>/../lib/retarget/plugins (the command and the service,
// in the build tree and installed); failing that, the installed plugin
// directory (a program of an embedder, linking the installed library). Only
// one: the same filters from two places would be refused as duplicates.
std::vector<std::string> default_plugin_dirs() {
  std::error_code ec;
  fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    fs::path beside = (exe.parent_path() / "../lib/retarget/plugins").lexically_normal();
    if (fs::is_directory(beside, ec)) return {beside.string()};
  }
  if (fs::is_directory(RETARGET_INSTALLED_PLUGIN_DIR, ec)) return {RETARGET_INSTALLED_PLUGIN_DIR};
  return {};
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

Result<std::unique_ptr<Engine>> Engine::Open(const EngineOptions& options) { return OpenImpl(options, false); }

Result<std::unique_ptr<Engine>> Engine::OpenImpl(const EngineOptions& options, bool rebuild) {
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->rebuild = rebuild;
  impl->on_open_progress = options.on_open_progress;
  if (options.now_ms) impl->fixed_now = *options.now_ms;
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
  // One per core this process may run on (its affinity mask: under mpirun or
  // taskset that is fewer than the machine has).
  unsigned threads = c.threads ? c.threads : static_cast<unsigned>(std::max(1, tbb::info::default_concurrency()));
  impl->arena = std::make_unique<tbb::task_arena>(static_cast<int>(threads));
  impl->read_only = options.read_only && c.data_dir != ":memory:";
  {
    MutexLock lock(impl->writer_mu);
    impl->graph.set_pin_by_tag(c.pin_by_tag);
    if (c.data_dir != ":memory:") {
      store::DataDirOptions dopt;
      dopt.env = options.env;
      dopt.read_only = impl->read_only;
      auto dir = store::DataDir::Open(c.data_dir, dopt);
      if (!dir.ok()) return dir.status();
      impl->data = std::move(dir).value();
      Status s = impl->recover(impl->rebuild);
      impl->on_open_progress = nullptr;  // the caller's display may not outlive the open
      if (!s.ok()) return s;
    } else {
      impl->as_of_ms = impl->now();
      impl->publish(true);
    }
  }
  impl->start_background();
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

const Config& Engine::config() const { return impl_->config; }
std::int64_t Engine::now_ms() const { return impl_->now(); }
void Engine::set_now_ms(std::optional<std::int64_t> now_ms) {
  impl_->fixed_now = now_ms ? *now_ms : Impl::kWallClock;
}
bool Engine::read_only() const { return impl_->read_only; }
std::int64_t Engine::as_of_ms() const { return impl_->current()->as_of_ms; }

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
    for (const auto& p : f.info->params)
      d.params.push_back({p.name, sdk::to_string(p.type), p.description, p.default_value, p.required, p.allowed});
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

// --- the writer path's helpers ----------------------------------------------------

Status Engine::Impl::require_writable() const {
  if (!read_only) return Status::Ok();
  return Status::Failed("the data directory '" + config.data_dir +
                        "' is open read-only (another process may hold it for writing): this command changes it");
}

void Engine::Impl::publish(bool schema_changed) {
  if (schema_changed || !schema) {
    auto s = std::make_shared<Schema>();
    s->id = ++schema_id;
    s->catalog = catalog;
    s->rules = rules;
    s->lifecycle = lifecycle;
    s->expired = expired_sources();
    s->deleted = deleted_sources();
    schema = std::move(s);
  }
  auto v = std::make_shared<Version>();
  v->index = builder.snapshot();
  v->schema = schema;
  v->as_of_ms = read_only ? as_of_ms : now();
  version.store(std::move(v));
}

std::set<std::string> Engine::Impl::deleted_sources() const {
  std::set<std::string> out;
  for (const auto& [key, s] : lifecycle)
    if (s.tier == Tier::kDeleted) out.insert(key);
  return out;
}

std::set<std::string> Engine::Impl::expired_sources() const {
  std::set<std::string> out;
  for (const auto& [key, s] : lifecycle)
    if (s.tier == Tier::kExpired) out.insert(key);
  return out;
}

std::shared_ptr<const CompiledPlan> Engine::Impl::plan(const Schema& s, const std::string& id) const {
  return s.plan(id, [&] {
    CompiledPlan p;
    const SegmentDefinition* def = s.rules.find(id);
    if (!def) return p;
    Compiler compiler(registry, s.catalog, s.rules, compile_options(s.deleted));
    p.segment = compiler.compile(*def, p.diags);
    if (p.segment) p.sources_read = sources_read(*p.segment, s.catalog);
    return p;
  });
}

Status Engine::Impl::log(store::RecordType type, std::string_view payload, bool sync) {
  if (!data) return Status::Ok();
  Status s = data->log(type, payload);
  if (s.ok() && sync) s = data->sync();
  return s;
}

Status Engine::Impl::log_meta(nlohmann::json op) {
  op["logged_at"] = now();
  Status s = log(store::RecordType::kMeta, op.dump(), /*sync=*/true);
  if (!s.ok()) return s;
  Status applied = apply_meta(op, nullptr);
  meta_ops.push_back(std::move(op));
  return applied;
}

Status Engine::Impl::log_lifecycle(const std::string& key) {
  const SourceLifecycle& st = lifecycle[key];
  nlohmann::json j{{"source", key},
                   {"tier", to_string(st.tier)},
                   {"restored_at", st.restored_at},
                   {"pin_released_at", st.pin_released_at},
                   {"tier_changed_at", st.tier_changed_at},
                   {"logged_at", now()}};
  return log(store::RecordType::kLifecycle, j.dump(), /*sync=*/false);
}

Status Engine::Impl::log_job(const RestoreJobInfo& info, bool sync) {
  return log(store::RecordType::kJob, job_json(info).dump(), sync);
}

// --- the catalog ----------------------------------------------------------------

namespace {

// Applies a catalog change, all or nothing: the file must be valid, every
// stored segment and every consumer's audience must still compile against the
// new catalog, and nothing may become active while it needs expired data (a
// consumer whose audience reads it, or an expired source itself: the resume
// guard also guards the declarative route). Logged first, then applied.
Status apply_catalog(Engine::Impl& impl, const std::string& yaml, const std::string& file, Diagnostics& diags)
    REQUIRES(impl.writer_mu) {
  std::size_t before = diags.error_count();
  Catalog next = impl.catalog;
  next.apply_text(yaml, file, diags);
  if (diags.error_count() > before) return Status::InvalidInput("the catalog has errors; nothing was applied");
  if (!impl.validate(next, impl.rules, diags, nullptr, {file}).ok())
    return Status::InvalidInput("the catalog has errors; nothing was applied");
  // The guard, on the graph as it would be.
  std::set<std::string> pinned_before = impl.pinned_expired();
  Catalog previous = std::move(impl.catalog);
  impl.catalog = std::move(next);
  impl.sync_graph(nullptr);
  std::vector<std::string> refused;
  auto check = [&](const std::string& key, LifecycleStatus now_status, LifecycleStatus was) REQUIRES(impl.writer_mu) {
    if (now_status != LifecycleStatus::kActive || was == LifecycleStatus::kActive) return;
    auto needs = impl.activation_needs(key);
    if (!needs.empty()) refused.push_back(key + " needs expired data of " + join(needs, ", "));
  };
  for (const auto& [id, c] : impl.catalog.campaigns()) {
    const Campaign* old = previous.campaign(id);
    check(source_key(SourceKind::kCampaign, id), c.status, old ? old->status : LifecycleStatus::kDraft);
  }
  for (const auto& [id, c] : impl.catalog.canvases()) {
    const Canvas* old = previous.canvas(id);
    check(source_key(SourceKind::kCanvas, id), c.status, old ? old->status : LifecycleStatus::kDraft);
  }
  for (const auto& [id, c] : impl.catalog.content_cards()) {
    const ContentCard* old = previous.content_card(id);
    check("card:" + id, c.status, old ? old->status : LifecycleStatus::kDraft);
  }
  impl.catalog = std::move(previous);
  if (!refused.empty()) {
    impl.sync_graph(nullptr);
    return Status::Failed("refused to activate: " + join(refused, ", ") +
                          "; restore it first (retarget restore ...) or resume with --restore; nothing was applied");
  }
  Status s = impl.log_meta({{"op", "catalog"}, {"name", file}, {"text", yaml}});
  if (!s.ok()) {
    impl.sync_graph(nullptr);
    return s;
  }
  impl.sync_graph(&diags);
  impl.report_newly_pinned(pinned_before, diags);
  impl.publish(true);
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
  Status s = impl_->require_writable();
  if (!s.ok()) return s;
  s = check_utf8(yaml, name);
  if (!s.ok()) {
    diags.error({name, 0, 0}, s.message());
    return s;
  }
  MutexLock lock(impl_->writer_mu);
  s = apply_catalog(*impl_, yaml, name, diags);
  diags.sort();
  return s;
}

// --- ingest -----------------------------------------------------------------------

Result<IngestReport> Engine::Impl::ingest(const char* data_ptr, std::size_t size, const IngestOptions& options,
                                          const IngestProgress& base) {
  auto start = std::chrono::steady_clock::now();
  Status writable = require_writable();
  if (!writable.ok()) return writable;
  IngestReport report;
  std::ofstream dead_letter;
  if (!config.dead_letter.empty()) {
    dead_letter.open(config.dead_letter, std::ios::app);
    if (!dead_letter) return Status::IoError("cannot open the dead-letter file '" + config.dead_letter + "'");
  }
  // Parsing and validating against the catalog happen outside the writer
  // lock, on the catalog readers see now.
  std::shared_ptr<const Version> v = current();
  EventParser parser(v->schema->catalog);
  Event event;
  std::string error;
  const char* end = data_ptr + size;
  const char* p = data_ptr;
  std::uint64_t line_no = base.lines;
  auto reject_at = [&](std::uint64_t at, std::string_view line, std::string reason) {
    // A partitioned ingest passes its lines' numbers in the whole input.
    if (options.line_numbers && at >= 1 && at <= options.line_numbers->size()) at = (*options.line_numbers)[at - 1];
    ++report.rejected;
    if (report.rejections.size() < 1000) report.rejections.push_back({at, reason});
    // One JSON object per rejected line; `text` is the line itself (bytes
    // that are not UTF-8 become U+FFFD: JSON cannot hold them).
    if (dead_letter)
      // One write per line: processes appending to the same file (retarget-mpi) never tear a line.
      dead_letter << nlohmann::json{{"line", at}, {"reason", reason}, {"text", utf8_replaced(line)}}.dump() + "\n"
                  << std::flush;
  };
  auto reject = [&](std::string_view line, std::string reason) { reject_at(line_no, line, std::move(reason)); };
  // Group commit: a batch of events is one log record, made durable by one
  // sync, then applied and published; acknowledged after that.
  std::vector<Event> pending;
  std::vector<IndexBuilder::Hash128> pending_hashes;  // content hashes of `pending`, computed once per event
  std::unordered_set<IndexBuilder::Hash128, IndexBuilder::Hash128Hasher> pending_keys;
  // Where each pending event came from (a rejection at flush names its line).
  std::vector<std::pair<std::uint64_t, std::string_view>> pending_lines;
  std::string record;
  auto flush = [&]() -> Status {
    if (!pending.empty()) {
      MutexLock lock(writer_mu);
      Status s = builder.ensure_dedup_loaded();
      if (!s.ok()) return s;
      // Duplicates of what is stored (perhaps by another ingest since parsing).
      std::vector<Event> fresh;
      std::vector<IndexBuilder::Hash128> fresh_hashes;
      std::set<std::string> revived;  // legacy-deleted sources that receive new data
      std::set<std::string, std::less<>> new_names;  // attribute names this batch adds
      const std::size_t max_names = config.limits.max_attribute_names;
      for (std::size_t i = 0; i < pending.size(); ++i) {
        if (builder.contains(pending_hashes[i])) {
          ++report.duplicates;
          continue;
        }
        if (pending[i].type == EventType::kAttributes) {
          std::vector<std::string_view> adds;
          for (const auto& [name, value] : pending[i].attributes)
            if (!builder.has_attribute(name) && !new_names.count(name) &&
                std::find(adds.begin(), adds.end(), name) == adds.end())
              adds.push_back(name);
          if (!adds.empty() && builder.attribute_name_count() + new_names.size() + adds.size() > max_names) {
            reject_at(pending_lines[i].first, pending_lines[i].second,
                      "attribute '" + std::string(adds.front()) + "' would be a new attribute name beyond the " +
                          std::to_string(max_names) +
                          " stored ones that limits.max_attribute_names allows (the config's limits)");
            continue;
          }
          new_names.insert(adds.begin(), adds.end());
        }
        pending[i].seq = next_seq++;
        if (is_interaction_event(pending[i].type)) {
          std::string key = source_key(pending[i].source_kind, pending[i].source);
          auto it = lifecycle.find(key);
          if (it != lifecycle.end() && it->second.tier == Tier::kDeleted) revived.insert(key);
        }
        fresh.push_back(std::move(pending[i]));
        fresh_hashes.push_back(pending_hashes[i]);
      }
      for (const auto& key : revived) {
        lifecycle[key].tier = Tier::kLive;
        builder.revive_source(key);
        s = log_lifecycle(key);
        if (!s.ok()) return s;
      }
      if (!fresh.empty()) {
        encode_event_batch(fresh, fresh_hashes, now(), record);
        s = log(store::RecordType::kEvents, record, /*sync=*/true);
        if (!s.ok()) return s;
        for (std::size_t i = 0; i < fresh.size(); ++i) builder.add(fresh[i], catalog, fresh_hashes[i]);
        report.accepted += fresh.size();
        publish(!revived.empty());
        want_checkpoint_if_due();
      }
    }
    pending.clear();
    pending_hashes.clear();
    pending_keys.clear();
    pending_lines.clear();
    if (options.on_durable) options.on_durable(line_no);
    if (options.on_progress)
      options.on_progress({line_no, base.bytes + static_cast<std::uint64_t>(p - data_ptr),
                           base.accepted + report.accepted, base.duplicates + report.duplicates,
                           base.rejected + report.rejected});
    return Status::Ok();
  };
  while (p < end) {
    // Asked to stop: what was read so far is committed below, and the report says up to where.
    if (options.stop && options.stop->load(std::memory_order_relaxed)) {
      report.interrupted = true;
      break;
    }
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
    if (event.type == EventType::kAttributes) {
      const std::size_t max_value = config.limits.max_attribute_value_bytes;
      auto big = std::find_if(event.attributes.begin(), event.attributes.end(), [&](const auto& a) {
        return a.second && a.second->type == AttributeValue::Type::kString && a.second->text.size() > max_value;
      });
      if (big != event.attributes.end()) {
        reject(line, "field 'attributes." + big->first + "': the value is " + std::to_string(big->second->text.size()) +
                         " bytes, more than limits.max_attribute_value_bytes (" + std::to_string(max_value) +
                         ") allows");
        continue;
      }
    }
    IndexBuilder::Hash128 hash = IndexBuilder::content_hash(event);
    if (!pending_keys.insert(hash).second) {
      ++report.duplicates;
      continue;
    }
    pending.push_back(std::move(event));
    pending_hashes.push_back(hash);
    pending_lines.emplace_back(line_no, line);
    if (pending.size() >= std::max<std::size_t>(1, options.batch)) {
      Status s = flush();
      if (!s.ok()) return s;
    }
  }
  Status s = flush();
  if (!s.ok()) return s;
  report.durable_line = line_no;
  // Rejections found when a batch is applied (limits.max_attribute_names) come
  // after the parse rejections of later lines: report them in line order.
  std::stable_sort(report.rejections.begin(), report.rejections.end(),
                   [](const auto& a, const auto& b) { return a.line < b.line; });
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
  std::uint64_t byte_base = 0;  // bytes of the file handed to ingest so far (progress)
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
        byte_base += filled;
        filled = 0;
        continue;
      }
      std::size_t end_of_line =
          nl ? static_cast<std::size_t>(std::find(buf.data(), buf.data() + filled, '\n') - buf.data()) + 1 : filled;
      std::memmove(buf.data(), buf.data() + end_of_line, filled - end_of_line);
      filled -= end_of_line;
      byte_base += end_of_line;
      skipping = false;
      continue;
    }
    if (cut == 0 && !eof) {  // one line fills the whole block: reject it, skip to its end
      ++line_base;
      ++total.lines, ++total.rejected;
      if (total.rejections.size() < 1000)
        total.rejections.push_back({line_base, "line is over " + std::to_string(kBlock) + " bytes, over the limit of " +
                                                   std::to_string(impl_->config.limits.max_event_line_bytes)});
      byte_base += filled;
      filled = 0;
      skipping = true;
      continue;
    }
    std::vector<char> rest(buf.begin() + static_cast<std::ptrdiff_t>(cut),
                           buf.begin() + static_cast<std::ptrdiff_t>(filled));
    std::memset(buf.data() + cut, 0, std::min(buf.size() - cut, std::size_t{simdjson::SIMDJSON_PADDING}));
    auto r = impl_->ingest(buf.data(), cut, options,
                           {line_base, byte_base, total.accepted, total.duplicates, total.rejected});
    if (!r.ok()) return r.status();
    add(*r);
    if (r->interrupted) {
      total.interrupted = true;
      total.durable_line = r->durable_line;
      break;
    }
    line_base += static_cast<std::uint64_t>(std::count(buf.data(), buf.data() + cut, '\n'));
    if (cut > 0 && buf[cut - 1] != '\n') ++line_base;  // a last line without a newline
    byte_base += cut;
    std::copy(rest.begin(), rest.end(), buf.begin());
    filled = rest.size();
    if (eof) break;
  }
  if (!total.interrupted) total.durable_line = line_base;
  total.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return total;
}

Result<IngestReport> Engine::ingest_text(std::string_view jsonl, const IngestOptions& options) {
  // simdjson reads up to SIMDJSON_PADDING bytes past a line's end: pad the buffer.
  simdjson::padded_string padded(jsonl);
  return impl_->ingest(padded.data(), padded.size(), options);
}

// --- rules ------------------------------------------------------------------------

Status Engine::Impl::validate(const Catalog& cat, const RuleSet& candidate, Diagnostics& diags,
                              std::map<std::string, References>* out_refs, const std::set<std::string>& warn_files,
                              bool warn_expired_reads) const {
  Diagnostics local;
  std::set<std::string> deleted = deleted_sources();
  std::set<std::string> expired = expired_sources();
  Compiler compiler(registry, cat, candidate, compile_options(deleted));
  // Each segment's own trees compiled once, then the graph of nested segments
  // checked as a whole: linear in the rule set, whatever its nesting.
  std::map<std::string, References> refs;
  for (const auto& [id, def] : candidate.segments()) {
    auto own = compiler.compile_own(def, local);
    if (own) refs[id] = own->references;
  }
  for (const auto& def : candidate.duplicates()) compiler.compile_own(def, local);  // for their own problems
  std::vector<std::string> order;  // children before parents
  bool graph_ok = compiler.check_nesting(refs, local, &order);
  if (warn_expired_reads && graph_ok && !expired.empty()) {
    // The sources each segment reads, nested segments' included: built in
    // that order, so a long chain stays linear.
    std::map<std::string, std::set<std::string>> reads;
    for (const auto& id : order) {
      const References& r = refs.at(id);
      std::set<std::string>& out = reads[id];
      add_sources_read(r, cat, out);
      for (const auto& c : r.segments) {
        auto it = reads.find(c);
        if (it != reads.end()) out.insert(it->second.begin(), it->second.end());
      }
    }
    for (const auto& [id, sources] : reads)
      for (const auto& source : sources)
        if (expired.count(source))
          local.warning(candidate.find(id)->where,
                        "segment '" + id + "' reads " + source +
                            ", whose interaction data is expired: it counts as absent until restored (" +
                            restore_command(source) + ")");
  }
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
  for (const auto& [id, c] : cat.campaigns()) audience(source_key(SourceKind::kCampaign, id), c.audience, c.where);
  for (const auto& [id, c] : cat.canvases()) audience(source_key(SourceKind::kCanvas, id), c.audience, c.where);
  for (const auto& [id, c] : cat.content_cards()) audience("card:" + id, c.audience, c.where);
  for (const auto& d : local.items()) {
    if (d.severity == Diagnostic::Severity::kError) diags.error(d.where, d.message);
    else if (warn_files.empty() || warn_files.count(d.where.file)) diags.warning(d.where, d.message);
  }
  if (out_refs) *out_refs = std::move(refs);
  if (local.has_errors()) return Status::InvalidInput(std::to_string(local.error_count()) + " problem(s) in the rules");
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
  MutexLock lock(impl_->writer_mu);
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
  // Compiled even after errors in reading, so that every problem is reported
  // at once. Rules loaded for one command (not stored): the evaluation that
  // follows warns about the expired data it reads, once.
  Status s = validate(catalog, candidate, diags, &refs, files, /*warn_expired_reads=*/store_them || !commit);
  diags.sort();
  if (read_errors || !s.ok())
    return Status::InvalidInput(std::to_string(diags.error_count() - before) + " problem(s) in the rules" +
                                (commit ? "; nothing was applied" : ""));
  if (!commit) return Status::Ok();
  if (store_them) {
    Status w = require_writable();
    if (!w.ok()) return w;
  }
  if (change)
    for (const auto& [id, def] : added.segments()) (rules.find(id) ? change->updated : change->added).push_back(id);
  std::set<std::string> pinned_before = pinned_expired();
  if (store_them) {
    // Logged (and applied by apply_meta, as replay does) file by file.
    for (const auto& [name, text] : texts) {
      Status logged = log_meta({{"op", "rules"}, {"name", name}, {"text", text}});
      if (!logged.ok()) return logged;
    }
  } else {
    candidate.clear_duplicates();
    rules = std::move(candidate);
  }
  segment_refs = std::move(refs);
  sync_graph(&diags);
  report_newly_pinned(pinned_before, diags);
  diags.sort();
  publish(true);
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
  MutexLock lock(impl_->writer_mu);
  return impl_->apply_rules(texts, diags, /*commit=*/true, store, change);
}

Status Engine::load_rules_text(const std::string& yaml, const std::string& name, Diagnostics& diags, bool store,
                               RulesChange* change) {
  Status s = check_utf8(yaml, name);
  if (!s.ok()) {
    diags.error({name, 0, 0}, s.message());
    return s;
  }
  MutexLock lock(impl_->writer_mu);
  return impl_->apply_rules({{name, yaml}}, diags, /*commit=*/true, store, change);
}

std::vector<std::string> Engine::segment_ids() const {
  auto ids = impl_->current()->schema->rules.ids();
  return {ids.begin(), ids.end()};
}

std::vector<SegmentSummary> Engine::segments() const {
  std::shared_ptr<const Version> v = impl_->current();
  MutexLock lock(impl_->writer_mu);
  // Who names each segment: the graph's edges into "segment:<id>", from
  // consumers ("consumer:campaign:x") and segments ("segment:s").
  std::map<std::string, std::vector<std::string>> used_by;
  const std::string consumer_prefix = "consumer:";
  for (const auto& e : impl_->graph.edges()) {
    std::string_view to = e.to;
    if (to.substr(0, 8) != "segment:") continue;
    std::string from = e.from.rfind(consumer_prefix, 0) == 0 ? e.from.substr(consumer_prefix.size()) : e.from;
    used_by[std::string(to.substr(8))].push_back(std::move(from));
  }
  std::vector<SegmentSummary> out;
  for (const auto& [id, def] : v->schema->rules.segments()) {
    SegmentSummary s{id, def.name, def.where, std::move(used_by[id]), {}};
    std::set<std::string> reads = impl_->graph.reach_of_segment(id);
    s.reads.assign(reads.begin(), reads.end());
    out.push_back(std::move(s));
  }
  return out;
}

// --- evaluation (readers: no engine lock) --------------------------------------------

namespace {

Result<SegmentResult> evaluate_segment(const Engine::Impl& impl, const std::string& segment_id, bool with_members,
                                       Footprint* footprint, const EvaluateOptions& options = {}) {
  auto start = std::chrono::steady_clock::now();
  Deadline deadline;
  deadline.limit_ms = options.timeout ? options.timeout->count() : impl.config.limits.max_evaluation_ms;
  // (Beyond 30 years there is no deadline: the clock arithmetic stays in range.)
  if (deadline.limit_ms <= 0) deadline.at = start;
  else if (deadline.limit_ms < 1'000'000'000'000) deadline.at = start + std::chrono::milliseconds(deadline.limit_ms);
  deadline.cancel = options.cancel;
  std::shared_ptr<const Version> v = impl.current();
  sdk::Timestamp now = impl.now();
  if (!v->schema->rules.find(segment_id)) {
    return Status::NotFound("unknown segment '" + segment_id + "'" +
                            (v->schema->rules.ids().empty() ? std::string(" (no rules are loaded: pass --rules FILE)")
                                                            : ""));
  }
  auto plan = impl.plan(*v->schema, segment_id);
  if (!plan->segment) return Status::InvalidInput(diag_summary(plan->diags));
  double compile_ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
  auto bulk = evaluate_bulk(*plan->segment, *v->index, *impl.arena, now, with_members, footprint, deadline);
  if (!bulk.ok()) return bulk.status();
  SegmentResult out;
  out.id = plan->segment->id;
  out.name = plan->segment->name;
  out.count = bulk->count;
  out.evaluate_ms = bulk->evaluate_ms;
  out.compile_ms = compile_ms;
  // Each warning once: the compile's own, then one per expired source read.
  std::set<std::string> seen;
  for (const auto& d : plan->diags.items())
    if (d.severity == Diagnostic::Severity::kWarning && seen.insert(d.to_string()).second)
      out.warnings.push_back(d.to_string());
  for (const auto& source : plan->sources_read)
    if (v->schema->expired.count(source)) {
      std::string w = "expired data excluded: " + source +
                      " is in long-term storage, so its interaction data counts as absent (" +
                      restore_command(source) + " to include it)";
      if (seen.insert(w).second) out.warnings.push_back(std::move(w));
    }
  if (with_members) {
    auto order = impl.order_for(*v->index, bulk->count);
    MemberPage page = list_members(*v->index, bulk->members, order.get(), options.members_after, options.members_limit,
                                   options.members_as_lines);
    out.members = std::move(page.ids);
    out.member_lines = std::move(page.lines);
    out.next_after = std::move(page.next_after);
  }
  return out;
}

}  // namespace

std::shared_ptr<const IdOrder> Engine::Impl::order_for(const Index& index, std::uint64_t members) const {
  // Short lists sort quickly: an order pays from lists of about this size.
  constexpr std::uint64_t kLongList = 65536;
  MutexLock lock(order_mu);
  const bool same_directory = id_order && id_order->covers_directory_of(index);
  // A reader of an older snapshot than the order's: sort (never replace a
  // newer order with an older one).
  if (same_directory && id_order->size() > index.user_count()) return nullptr;
  // Users added since the order was built are sorted per listing: rebuild
  // when they are more than an eighth of those it ranks.
  const bool fresh = same_directory && index.user_count() - id_order->size() <= id_order->size() / 8;
  if (fresh || members < kLongList) return same_directory ? id_order : nullptr;
  if (++long_listings < 2) return same_directory ? id_order : nullptr;
  // Concurrent listings wait for the build (seconds at 10M users); counts do not.
  id_order = IdOrder::Build(index, *arena);
  return id_order;
}

Result<SegmentResult> Engine::evaluate(const std::string& segment_id, bool with_members) const {
  return evaluate_segment(*impl_, segment_id, with_members, nullptr);
}

Result<SegmentResult> Engine::evaluate(const std::string& segment_id, const EvaluateOptions& options) const {
  return evaluate_segment(*impl_, segment_id, options.with_members, nullptr, options);
}

Result<EvaluationFootprint> Engine::footprint(const std::string& segment_id) const {
  Footprint f;
  auto r = evaluate_segment(*impl_, segment_id, false, &f);
  if (!r.ok()) return r.status();
  return EvaluationFootprint{f.columns, f.column_bytes, f.bitset_writes, f.bitset_writes * sizeof(sdk::ChunkBits)};
}

MemoryStats Engine::memory_stats() const {
  IndexMemory im = impl_->current()->index->memory();
  MemoryStats m;
  m.users = im.users;
  m.interaction_entries = im.interaction_entries;
  m.interaction_bytes = im.interaction_bytes;
  m.profile_entries = im.profile_entries;
  m.profile_bytes = im.profile_bytes;
  m.user_directory_bytes = im.user_directory_bytes;
  m.overhead_bytes = im.overhead_bytes;
  MutexLock lock(impl_->writer_mu);
  m.dedup_bytes = impl_->builder.dedup_memory_bytes();
  for (const auto& key : impl_->builder.source_keys()) m.interaction_events += impl_->builder.source_stats(key).records;
  return m;
}

Result<Explanation> Engine::explain(const std::string& segment_id, const std::string& user) const {
  std::shared_ptr<const Version> v = impl_->current();
  sdk::Timestamp now = impl_->now();
  if (!v->schema->rules.find(segment_id)) return Status::NotFound("unknown segment '" + segment_id + "'");
  auto plan = impl_->plan(*v->schema, segment_id);
  if (!plan->segment) return Status::InvalidInput(diag_summary(plan->diags));
  Explanation out;
  out.segment = segment_id;
  out.user = user;
  for (const auto& d : plan->diags.items())
    if (d.severity == Diagnostic::Severity::kWarning) out.warnings.push_back(d.to_string());
  for (const auto& source : plan->sources_read)
    if (v->schema->expired.count(source)) out.warnings.push_back("expired data excluded: " + source);
  auto u = v->index->find_user(user);
  if (!u) {
    out.known_user = false;
    out.match.label = "(user not in U: no accepted event names '" + user + "')";
    return out;
  }
  out.known_user = true;
  auto point = evaluate_point(*plan->segment, *v->index, *u, now);
  if (!point.ok()) return point.status();
  out.member = point->member;
  out.match = to_public(point->match);
  for (const auto& e : point->exclude) out.exclude.push_back(to_public(e));
  return out;
}

// --- interaction-data surfaces (readers) ---------------------------------------------

// The top-level "warnings" of an interaction-data surface: one per expired
// source that holds data of the users it shows (and only those).
std::vector<std::string> expired_data_warnings(const std::map<std::string, std::vector<std::string>>& users_by_source) {
  std::vector<std::string> out;
  for (const auto& [source, users] : users_by_source) {
    std::vector<std::string> shown(users.begin(),
                                   users.begin() + static_cast<std::ptrdiff_t>(std::min<std::size_t>(users.size(), 10)));
    std::string who = join(shown, ", ") +
                      (users.size() > shown.size() ? " and " + std::to_string(users.size() - shown.size()) + " more" : "");
    out.push_back("expired data excluded: " + source + " is in long-term storage and holds interaction data of " +
                  who + " (" + restore_command(source) + " to include it)");
  }
  return out;
}

Result<UserProfile> Engine::profile(const std::string& user) const {
  std::shared_ptr<const Version> v = impl_->current();
  auto u = v->index->find_user(user);
  if (!u) return Status::NotFound("unknown user '" + user + "'");
  UserProfile p = user_profile(*v->index, v->schema->catalog, *u);
  std::map<std::string, std::vector<std::string>> hidden;
  for (auto& source : v->index->expired_sources_of(*u)) hidden[source].push_back(user);
  p.warnings = expired_data_warnings(hidden);
  return p;
}

Result<UsersExport> Engine::export_users(const std::vector<std::string>& ids) const {
  const std::size_t max_ids = impl_->config.limits.max_users_per_request;
  if (ids.size() > max_ids)
    return Status::InvalidInput(std::to_string(ids.size()) + " external ids in one users export, more than " +
                                "limits.max_users_per_request (" + std::to_string(max_ids) + ") allows");
  std::shared_ptr<const Version> v = impl_->current();
  UsersExport out;
  std::map<std::string, std::vector<std::string>> hidden;
  for (const auto& id : ids) {
    auto u = v->index->find_user(id);
    if (!u) {
      out.invalid_user_ids.push_back(id);
      continue;
    }
    out.users.push_back(user_profile(*v->index, v->schema->catalog, *u));
    for (auto& source : v->index->expired_sources_of(*u)) hidden[source].push_back(id);
  }
  out.warnings = expired_data_warnings(hidden);
  out.expired_users = std::move(hidden);
  return out;
}

Result<RecipientsExport> Engine::export_recipients(SourceKind kind, const std::string& id,
                                                   const std::string& step) const {
  std::shared_ptr<const Version> v = impl_->current();
  const Catalog& catalog = v->schema->catalog;
  if (kind == SourceKind::kCampaign && !catalog.campaign(id)) return Status::NotFound("unknown campaign '" + id + "'");
  if (kind == SourceKind::kCanvas) {
    const Canvas* c = catalog.canvas(id);
    if (!c) return Status::NotFound("unknown Canvas '" + id + "'");
    if (!step.empty() && !c->step(step)) return Status::NotFound("unknown step '" + step + "' of Canvas '" + id + "'");
  }
  RecipientsExport out = recipients(*v->index, catalog, kind, id, step);
  std::string key = source_key(kind, id);
  if (v->schema->expired.count(key))
    out.warnings.push_back(key + " is expired: its recipients are in long-term storage and not exported (" +
                           restore_command(key) + " first)");
  return out;
}

Result<AnalyticsReport> Engine::analytics(SourceKind kind, const std::string& id) const {
  std::shared_ptr<const Version> v = impl_->current();
  if (kind == SourceKind::kCampaign && !v->schema->catalog.campaign(id))
    return Status::NotFound("unknown campaign '" + id + "'");
  if (kind == SourceKind::kCanvas && !v->schema->catalog.canvas(id)) return Status::NotFound("unknown Canvas '" + id + "'");
  std::string key = source_key(kind, id);
  // Counters live with the writer (updated per event): a short lock to read one source's.
  MutexLock lock(impl_->writer_mu);
  return analytics_of(impl_->builder.analytics(key), key);
}

std::string Engine::rules_json_schema() const {
  std::shared_ptr<const Version> v = impl_->current();
  auto ids = v->schema->rules.ids();
  return retarget::rules_json_schema(impl_->registry, v->schema->catalog, {ids.begin(), ids.end()},
                                     impl_->config.limits)
      .dump(2);
}

std::vector<std::string> Engine::users() const {
  std::shared_ptr<const Version> v = impl_->current();
  std::vector<std::string> out;
  out.reserve(v->index->user_count());
  for (std::uint32_t u = 0; u < v->index->user_count(); ++u) out.emplace_back(v->index->user_id(u));
  return out;
}

Status Engine::checkpoint() {
  Status s = impl_->require_writable();
  if (!s.ok()) return s;
  return impl_->checkpoint_now(/*full=*/false);
}

Status Engine::settle() { return settle({}); }

Status Engine::settle(const std::function<void(std::uint64_t, std::uint64_t)>& on_progress) {
  Status s = impl_->require_writable();
  if (!s.ok()) return s;
  return impl_->settle_moves(on_progress);
}

}  // namespace retarget
