#include "store/wal.hpp"

#include <cstdio>

#include "storage/table_file.hpp"

namespace retarget::store {

std::string wal_file_name(std::uint64_t number) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%020llu.log", static_cast<unsigned long long>(number));
  return buf;
}

Result<std::vector<std::uint64_t>> wal_files(storage::Env& env, const std::string& dir) {
  auto names = env.list(dir);
  if (!names.ok()) return names.status();
  std::vector<std::uint64_t> out;
  for (const auto& n : *names) {
    if (n.size() != 24 || n.substr(20) != ".log") continue;
    bool digits = n.find_first_not_of("0123456789") == 20;
    if (digits) out.push_back(std::stoull(n.substr(0, 20)));
  }
  return out;
}

Result<LogTail> read_log_tail(storage::Env& env, const std::string& dir, LogPosition from,
                              const std::string& events_dir, const std::set<std::uint64_t>& event_blocks) {
  auto files = wal_files(env, dir);
  if (!files.ok()) return files.status();
  LogTail tail;
  std::uint64_t first_wal = files->empty() ? UINT64_MAX : files->front();
  for (std::uint64_t n : event_blocks) {
    if (n < from.file || n >= first_wal) continue;
    char name[40];
    std::snprintf(name, sizeof name, "%020llu.rte", static_cast<unsigned long long>(n));
    std::string path = events_dir + "/" + name;
    auto table = storage::TableReader::Open(env, path);
    if (!table.ok()) return table.status();
    auto buf = (*table)->read("log");
    if (!buf.ok()) return buf.status();
    storage::LogContents c = storage::parse_log((*buf)->view(), path, /*last=*/false);
    if (c.corrupt) return Status::IoError(c.problem);
    for (const auto& r : c.records) {
      if (n == from.file && r.end <= from.offset) continue;
      tail.records.push_back({static_cast<RecordType>(r.type), r.payload, {n, r.end}});
    }
    tail.buffers.push_back(std::move(buf).value());
  }
  for (std::size_t i = 0; i < files->size(); ++i) {
    std::uint64_t n = (*files)[i];
    if (n < from.file) continue;
    std::string path = dir + "/" + wal_file_name(n);
    auto buf = env.read_file(path);
    if (!buf.ok()) return buf.status();
    bool last = i + 1 == files->size();
    storage::LogContents c = storage::parse_log((*buf)->view(), path, last);
    if (c.corrupt) return Status::IoError(c.problem);
    if (c.number != 0 && c.number != n)
      return Status::IoError(path + ": the file says it is log " + std::to_string(c.number));
    for (const auto& r : c.records) {
      if (n == from.file && r.end <= from.offset) continue;
      tail.records.push_back({static_cast<RecordType>(r.type), r.payload, {n, r.end}});
    }
    tail.buffers.push_back(std::move(buf).value());
    tail.last_file = n;
    tail.last_file_valid = c.valid_bytes;
    tail.torn_bytes = c.torn_bytes;
  }
  return tail;
}

Result<std::unique_ptr<Wal>> Wal::Open(storage::Env& env, const std::string& dir, const LogTail& tail,
                                       std::uint64_t next_number) {
  std::unique_ptr<Wal> w(new Wal(env, dir));
  if (tail.last_file != 0 && tail.last_file_valid >= storage::kLogHeaderBytes) {
    std::string path = dir + "/" + wal_file_name(tail.last_file);
    // A torn record (never acknowledged) is overwritten with zeros.
    auto writer = storage::LogWriter::Append(env, path, tail.last_file_valid);
    if (!writer.ok()) return writer.status();
    w->writer_ = std::move(writer).value();
    w->number_ = tail.last_file;
    return w;
  }
  w->number_ = std::max(next_number, tail.last_file + 1);
  if (tail.last_file != 0) storage::remove_unreferenced(env, dir + "/" + wal_file_name(tail.last_file));  // a header never written
  auto writer = storage::LogWriter::Create(env, dir + "/" + wal_file_name(w->number_), w->number_);
  if (!writer.ok()) return writer.status();
  w->writer_ = std::move(writer).value();
  Status s = w->writer_->sync();
  if (s.ok()) s = env.sync_dir(dir);
  if (!s.ok()) return s;
  return w;
}

Status Wal::append(RecordType type, std::string_view payload) {
  return writer_->add(static_cast<std::uint8_t>(type), payload);
}

Result<LogPosition> Wal::roll() {
  // The new file first: if it cannot be made, the current one goes on.
  Status s = writer_->sync();
  if (!s.ok()) return s;
  std::uint64_t next = number_ + 1;
  std::string path = dir_ + "/" + wal_file_name(next);
  auto writer = storage::LogWriter::Create(env_, path, next);
  if (!writer.ok()) return writer.status();
  s = (*writer)->sync();
  if (s.ok()) s = env_.sync_dir(dir_);
  if (!s.ok()) {
    storage::remove_unreferenced(env_, path);
    return s;
  }
  // A file that is not the newest ends at its last record (no runway); if it
  // cannot be cut, its zeros read as the end all the same.
  (void)writer_->finish();
  writer_ = std::move(writer).value();
  number_ = next;
  return LogPosition{number_, writer_->size()};
}

}  // namespace retarget::store
