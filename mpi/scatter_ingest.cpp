// scatter_ingest.hpp: read (rank 0) -> route by owner -> scatter -> ingest
// on every rank -> counts back to rank 0, block by block.
#include "scatter_ingest.hpp"

#include <simdjson.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>

#include "codec.hpp"
#include "partition.hpp"
#include "result_codec.hpp"

namespace retarget::mpi {

namespace {

// Input is read in blocks of at least this many bytes (more when the
// configured line limit is larger, so that no line a single process would
// accept is ever cut).
constexpr std::size_t kMinBlockBytes = std::size_t{16} << 20;

// The user of an event line, or "" when it has none that a single process
// would accept (then rank 0's engine rejects the line).
class UserReader {
 public:
  std::string_view user_of(std::string_view line) {
    buffer_.assign(line.data(), line.size());
    buffer_.append(simdjson::SIMDJSON_PADDING, '\0');
    simdjson::ondemand::document doc;
    if (parser_.iterate(buffer_.data(), line.size(), buffer_.size()).get(doc) != simdjson::SUCCESS) return {};
    simdjson::ondemand::object object;
    if (doc.get_object().get(object) != simdjson::SUCCESS) return {};
    std::string_view user;
    if (object.find_field_unordered("user").get_string().get(user) != simdjson::SUCCESS) return {};
    user_ = user;
    return user_;
  }

 private:
  simdjson::ondemand::parser parser_;
  std::string buffer_, user_;
};

// Rank 0's reader of the input: whole lines, a bounded block at a time.
class LineSource {
 public:
  LineSource(const std::string& path, std::size_t block_bytes) : block_bytes_(block_bytes) {
    if (path == "-") {
      in_ = &std::cin;
    } else {
      file_ = std::make_unique<std::ifstream>(path, std::ios::binary);
      in_ = file_.get();
    }
  }
  // The next block: whole lines (the last may lack its newline at the end of
  // the input); false at the end. A line longer than a block is cut to one
  // block (the engine rejects it as over-long, with its line number) and the
  // rest of it is skipped, so memory stays bounded whatever the input.
  bool next(std::string& block) {
    block.swap(carry_);
    carry_.clear();
    while (skipping_ && !eof_) {  // the rest of an over-long line, up to its newline
      std::size_t nl = block.find('\n');
      if (nl != std::string::npos) {
        block.erase(0, nl + 1);
        skipping_ = false;
        break;
      }
      block.clear();
      if (!read_more(block)) return false;
    }
    if (skipping_) block.clear();  // the input ended inside the over-long line
    while (block.size() < block_bytes_ && !eof_) {
      std::size_t at = block.size();
      if (!read_more(block)) return false;
      if (block.find('\n', at) != std::string::npos) break;
    }
    if (!eof_) {
      std::size_t last = block.rfind('\n');
      if (last == std::string::npos) {  // one line fills the block: keep a block of it, skip the rest
        block.resize(block_bytes_);
        block.push_back('\n');
        skipping_ = true;
        return true;
      }
      carry_.assign(block, last + 1, std::string::npos);
      block.resize(last + 1);
    }
    return !block.empty();
  }
  bool failed() const { return !eof_ && !*in_; }

 private:
  std::unique_ptr<std::ifstream> file_;
  std::istream* in_;
  // Appends up to a block of input; false on a read error.
  bool read_more(std::string& block) {
    std::size_t at = block.size();
    block.resize(at + block_bytes_);
    in_->read(block.data() + at, static_cast<std::streamsize>(block_bytes_));
    block.resize(at + static_cast<std::size_t>(in_->gcount()));
    if (in_->eof()) eof_ = true;
    else if (!*in_) return false;
    return true;
  }

  std::size_t block_bytes_;
  std::string carry_;
  bool eof_ = false;
  bool skipping_ = false;  // inside an over-long line cut at a block
};

struct Share {
  std::string text;                   // the rank's lines, each ending in '\n'
  std::vector<std::uint64_t> lines;   // the input line number of each
};

std::string encode(const Share& s) {
  Writer w;
  w.u64(s.lines.size());
  for (auto l : s.lines) w.u64(l);
  w.str(s.text);
  return w.take();
}

Share decode(const std::string& bytes) {
  Share s;
  Reader r(bytes);
  for (std::uint64_t n = r.u64(); n; --n) s.lines.push_back(r.u64());
  s.text = r.str();
  return s;
}

void put_report(Writer& w, const IngestReport& r) {
  w.u64(r.lines).u64(r.accepted).u64(r.duplicates).u64(r.rejected).u64(r.rejections.size());
  for (const auto& x : r.rejections) w.u64(x.line).str(x.reason);
}

IngestReport get_report(Reader& rd) {
  IngestReport r;
  r.lines = rd.u64(), r.accepted = rd.u64(), r.duplicates = rd.u64(), r.rejected = rd.u64();
  for (std::uint64_t n = rd.u64(); n; --n) {
    std::uint64_t line = rd.u64();
    r.rejections.push_back({line, rd.str()});
  }
  return r;
}

constexpr std::size_t kMaxRejectionsListed = 1000;  // as IngestReport::rejections

}  // namespace

Result<IngestReport> scatter_ingest(Comm& comm, Engine& engine, const std::string& path, const IngestOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const int processes = comm.size();
  std::unique_ptr<LineSource> source;
  if (comm.root())
    source = std::make_unique<LineSource>(path, std::max(kMinBlockBytes, engine.config().limits.max_event_line_bytes + 2));
  UserReader users;
  IngestReport mine;    // this rank's share, in input line numbers
  IngestReport totals;  // rank 0: every rank's counts so far
  Status failure = Status::Ok();
  std::uint64_t line_no = 0, bytes_read = 0;
  std::string block;
  IngestOptions local = options;
  // Rank 0 alone decides where to stop (a signal, a failed rank): a rank's share is ingested whole.
  local.on_durable = nullptr, local.on_progress = nullptr, local.stop = nullptr;
  bool interrupted = false, a_rank_failed = false;
  for (;;) {
    // Rank 0 says whether a block follows (1), the input ended (0), or it failed (2).
    std::string control;
    std::vector<std::string> parts;
    if (comm.root() && (a_rank_failed || (options.stop && options.stop->load()))) {
      interrupted = !a_rank_failed;  // every line up to line_no is durable on every rank
      control = "0";
    } else if (comm.root()) {
      bool more = source->next(block);
      if (!more && source->failed()) {
        control = "2cannot read " + path;
      } else {
        control = more ? "1" : "0";
        std::vector<Share> shares(processes);
        const char* p = block.data();
        const char* end = p + block.size();
        while (p < end) {
          const char* nl = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
          const char* line_end = nl ? nl : end;
          std::string_view line(p, static_cast<std::size_t>(line_end - p));
          p = nl ? nl + 1 : end;
          ++line_no;
          std::string_view content = line;
          if (!content.empty() && content.back() == '\r') content.remove_suffix(1);
          if (content.find_first_not_of(" \t") == std::string_view::npos) continue;  // blank: not an event
          std::string_view user = users.user_of(content);
          Share& s = shares[user.empty() ? 0 : owner_of(user, processes)];
          s.text.append(line.data(), line.size()).push_back('\n');
          s.lines.push_back(line_no);
        }
        bytes_read += block.size();
        for (const auto& s : shares) parts.push_back(encode(s));
      }
    }
    control = comm.broadcast(control, /*after_work=*/true);  // rank 0 may wait long for input
    if (control[0] == '0') break;
    if (control[0] == '2') {
      failure = Status::InvalidInput(control.substr(1));
      break;
    }
    Share share = decode(comm.scatter(parts));
    IngestReport block_report;
    if (failure.ok() && !share.lines.empty()) {
      local.line_numbers = &share.lines;  // rejections and the dead-letter file name the input's lines
      auto r = engine.ingest_text(share.text, local);
      if (!r.ok()) failure = r.status();  // later blocks are still received (the ranks stay in step), not ingested
      else block_report = *r;
    }
    mine.lines += block_report.lines, mine.accepted += block_report.accepted;
    mine.duplicates += block_report.duplicates, mine.rejected += block_report.rejected;
    for (auto& x : block_report.rejections)
      if (mine.rejections.size() < kMaxRejectionsListed) mine.rejections.push_back(std::move(x));
    // Every rank's share of the block is durable: counts to rank 0 (progress, --ack).
    Writer w;
    w.u64(block_report.accepted).u64(block_report.duplicates).u64(block_report.rejected).u64(!failure.ok());
    std::vector<std::string> counts = comm.gather(w.bytes());
    if (comm.root()) {
      for (const auto& c : counts) {
        Reader r(c);
        totals.accepted += r.u64(), totals.duplicates += r.u64(), totals.rejected += r.u64();
        if (r.u64()) a_rank_failed = true;  // no more blocks: the report carries its error
      }
      // Acknowledged only when every rank holds its share of the block.
      if (options.on_durable && !a_rank_failed) options.on_durable(line_no);
      if (options.on_progress)
        options.on_progress({line_no, bytes_read, totals.accepted, totals.duplicates, totals.rejected});
    }
  }
  // The whole input's report, the same on every rank.
  Writer w;
  put(w, failure);
  put_report(w, mine);
  std::vector<std::string> all = comm.gather(w.bytes());
  Writer merged;
  if (comm.root()) {
    Status first = Status::Ok();
    IngestReport report;
    for (std::size_t r = 0; r < all.size(); ++r) {
      Reader rd(all[r]);
      Status s = get_status(rd);
      if (!s.ok() && first.ok()) first = from_rank(r, s);
      IngestReport part = get_report(rd);
      report.lines += part.lines, report.accepted += part.accepted, report.duplicates += part.duplicates;
      report.rejected += part.rejected;
      for (auto& x : part.rejections) report.rejections.push_back(std::move(x));
    }
    std::sort(report.rejections.begin(), report.rejections.end(),
              [](const auto& a, const auto& b) { return a.line < b.line; });
    if (report.rejections.size() > kMaxRejectionsListed) report.rejections.resize(kMaxRejectionsListed);
    report.interrupted = interrupted;
    report.durable_line = line_no;
    put(merged, first);
    put_report(merged, report);
    merged.u64(report.interrupted).u64(report.durable_line);
  }
  std::string bytes = comm.broadcast(merged.bytes());
  Reader rd(bytes);
  Status verdict = get_status(rd);
  if (!verdict.ok()) return verdict;
  IngestReport report = get_report(rd);
  report.interrupted = rd.u64() != 0;
  report.durable_line = rd.u64();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace retarget::mpi
