#include "storage/record_log.hpp"

#include <algorithm>
#include <cstring>

#include "common/bytes.hpp"
#include "storage/crc32c.hpp"

namespace retarget::storage {
namespace {

constexpr char kMagic[8] = {'R', 'T', 'L', 'O', 'G', 0, 0, 1};

std::uint32_t get32(const char* p) {
  std::uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}
std::uint64_t get64(const char* p) {
  std::uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

bool all_zero(std::string_view s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return c == 0; });
}

// Whether a record starts at `off` and checks out; its end when it does.
bool record_at(std::string_view b, std::uint64_t off, std::uint64_t& end) {
  if (off + kRecordHeaderBytes > b.size()) return false;
  std::uint32_t crc = crc32c::unmask(get32(b.data() + off));
  std::uint32_t len = get32(b.data() + off + 4);
  if (off + kRecordHeaderBytes + len > b.size()) return false;
  if (crc32c::extend(0, b.data() + off + 4, 5 + std::size_t{len}) != crc) return false;
  end = off + kRecordHeaderBytes + len;
  return true;
}

}  // namespace

Result<std::unique_ptr<LogWriter>> LogWriter::Create(Env& env, const std::string& path, std::uint64_t number) {
  auto f = env.new_writable(path);
  if (!f.ok()) return f.status();
  std::string header(kMagic, 8);
  put_le<std::uint64_t>(header, number);
  Status s = (*f)->append(header);
  if (!s.ok()) return s;
  return std::unique_ptr<LogWriter>(new LogWriter(path, std::move(f).value(), header.size()));
}

Result<std::unique_ptr<LogWriter>> LogWriter::Append(Env& env, const std::string& path, std::uint64_t end) {
  auto f = env.reopen_for_append(path);
  if (!f.ok()) return f.status();
  std::uint64_t size = (*f)->size();
  if (size > end) {
    // A torn record (or an old runway): zeros, so that nothing of it is read again.
    Status s = (*f)->write_at(end, std::string(static_cast<std::size_t>(size - end), '\0'));
    if (s.ok()) s = (*f)->sync();
    if (!s.ok()) return s;
  }
  return std::unique_ptr<LogWriter>(new LogWriter(path, std::move(f).value(), end));
}

Status LogWriter::finish() {
  Status s = file_->truncate(end_);
  if (s.ok()) s = file_->sync();
  if (s.ok()) s = file_->close();
  return s;
}

namespace {

void append_record(std::string& out, std::uint8_t type, std::string_view payload) {
  std::size_t start = out.size();
  put_le<std::uint32_t>(out, 0);
  put_le<std::uint32_t>(out, static_cast<std::uint32_t>(payload.size()));
  out.push_back(static_cast<char>(type));
  out.append(payload);
  std::uint32_t crc = crc32c::mask(crc32c::extend(0, out.data() + start + 4, out.size() - start - 4));
  std::memcpy(out.data() + start, &crc, 4);
}

}  // namespace

std::string encode_log(std::uint64_t number, const std::vector<std::pair<std::uint8_t, std::string_view>>& records) {
  std::string out(kMagic, 8);
  put_le<std::uint64_t>(out, number);
  for (const auto& [type, payload] : records) append_record(out, type, payload);
  return out;
}

Status LogWriter::add(std::uint8_t type, std::string_view payload) {
  if (payload.size() > 0xffffffffu) return Status::Failed("a log record over 4 GiB");
  scratch_.clear();
  scratch_.reserve(kRecordHeaderBytes + payload.size());
  append_record(scratch_, type, payload);
  constexpr std::uint64_t kRunway = 1 << 20;
  if (scratch_.size() < kRunway / 4 && end_ + scratch_.size() > file_->size()) {
    // Zeros ahead of small records: later syncs flush data only.
    Status s = file_->write_at(file_->size(), std::string(kRunway, '\0'));
    if (!s.ok()) return s;
  }
  Status s = file_->write_at(end_, scratch_);  // one write: a crash tears at most this record
  if (s.ok()) end_ += scratch_.size();
  return s;
}

LogContents parse_log(std::string_view b, const std::string& path, bool last, bool salvage,
                      std::vector<DamagedRange>* skipped) {
  LogContents out;
  auto damage = [&](std::uint64_t off, std::string why) {
    out.corrupt = true;
    out.corrupt_offset = off;
    out.problem = path + ": damaged at byte " + std::to_string(off) + ": " + why;
  };
  if (b.size() < kLogHeaderBytes || std::memcmp(b.data(), kMagic, 8) != 0) {
    if (last && all_zero(b)) {  // created, never written: nothing was acknowledged in it
      out.torn_bytes = b.size();
      return out;
    }
    damage(0, b.size() < kLogHeaderBytes ? "the file is shorter than its header" : "not a Retarget log (bad magic)");
    return out;
  }
  out.number = get64(b.data() + 8);
  std::uint64_t off = kLogHeaderBytes;
  out.valid_bytes = off;
  while (off < b.size()) {
    std::uint64_t end = 0;
    if (record_at(b, off, end)) {
      out.records.push_back({static_cast<std::uint8_t>(b[off + 8]), b.substr(off + kRecordHeaderBytes, end - off - kRecordHeaderBytes),
                             off, end});
      off = end;
      out.valid_bytes = off;
      continue;
    }
    // Not a good record here. It is a torn tail (of the last file only) when
    // no good record follows it: a crash tears only the last write.
    std::uint64_t later = off + 1;
    while (later < b.size() && !record_at(b, later, end)) ++later;
    bool nothing_after = later >= b.size();
    // Zeros after the last record: a preallocated runway (of any file: one
    // that could not be cut when the log moved on is still whole).
    if (nothing_after && all_zero(b.substr(off))) {
      out.torn_bytes = b.size() - off;
      return out;
    }
    if (last && nothing_after) {
      out.torn_bytes = b.size() - off;
      return out;
    }
    if (!salvage) {
      damage(off, nothing_after ? "an incomplete or damaged final record in a log that is not the newest"
                                : "a damaged record followed by good ones (byte " + std::to_string(later) + ")");
      return out;
    }
    // Salvage: go on at the next record that checks out.
    if (skipped) skipped->push_back({off, later - off});
    if (!out.corrupt) damage(off, "damaged records");
    off = later;
  }
  return out;
}

}  // namespace retarget::storage
