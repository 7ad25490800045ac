// A log of checksummed records: the format of the write-ahead log and the
// MANIFEST (LevelDB's log is the model).
//
//   file   := header record*
//   header := "RTLOG" 0 0 1 (8 bytes: magic and format version 1), file number (u64)
//   record := masked crc32c (u32) | length (u32) | type (u8) | payload (length bytes)
// The CRC covers length, type and payload; integers are little endian.
//
// Reading tells a torn tail from damage. Only the last file may end in a torn
// record (a crash while appending one): an incomplete record, one whose CRC
// fails and that reaches the end of the file, or a zero-filled tail. That tail
// is dropped: it was never acknowledged, because a record is acknowledged
// only after the sync that follows it. Anything else that does not check out
// is corruption, reported with the file and the byte offset.
//
// Thread safety: a LogWriter is used by one thread at a time; reading is a
// pure function of the bytes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/env.hpp"

namespace retarget::storage {

inline constexpr std::size_t kLogHeaderBytes = 16;
inline constexpr std::size_t kRecordHeaderBytes = 9;

// Appends records. Small records go into a runway of zeros written ahead of
// them (1 MiB at a time): a sync then flushes only data, not the file's size
// (a tenth of a millisecond instead of several), which is what keeps
// acknowledging a single event fast. Readers take the zeros for the end.
class LogWriter {
 public:
  // Starts a new log file (writes its header). The file is not synced.
  static Result<std::unique_ptr<LogWriter>> Create(Env& env, const std::string& path, std::uint64_t number);
  // Continues a log file whose records end at `end` (what reading it found);
  // whatever lies after is overwritten with zeros.
  static Result<std::unique_ptr<LogWriter>> Append(Env& env, const std::string& path, std::uint64_t end);

  Status add(std::uint8_t type, std::string_view payload);
  Status sync() { return file_->sync(); }
  // Cuts the runway off (the file ends at its last record), syncs, closes.
  Status finish();
  // The end of the last record.
  std::uint64_t size() const { return end_; }
  const std::string& path() const { return path_; }

 private:
  LogWriter(std::string path, std::unique_ptr<WritableFile> f, std::uint64_t end)
      : path_(std::move(path)), file_(std::move(f)), end_(end) {}
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  std::uint64_t end_ = 0;
  std::string scratch_;
};

// A whole log file's bytes with these records (REQUIRES: each payload < 4 GiB):
// what a rewritten raw-event block holds.
std::string encode_log(std::uint64_t number, const std::vector<std::pair<std::uint8_t, std::string_view>>& records);

struct LogRecord {
  std::uint8_t type;
  std::string_view payload;  // into the buffer read
  std::uint64_t offset;      // of the record's header in the file
  std::uint64_t end;         // offset just past the record
};

struct LogContents {
  std::uint64_t number = 0;
  std::vector<LogRecord> records;
  std::uint64_t valid_bytes = 0;  // end of the last good record (or of the header)
  std::uint64_t torn_bytes = 0;   // a torn tail dropped (last file only)
  // Set when the file is damaged: the first bad offset and what was wrong.
  bool corrupt = false;
  std::uint64_t corrupt_offset = 0;
  std::string problem;
};

// Parses a log file's bytes. `last` = the file is the newest of its log (a
// torn tail is tolerated only there). With `salvage`, parsing goes on after
// damage, resynchronising on the next record that checks out, and `skipped`
// receives each damaged byte range (store repair).
struct DamagedRange {
  std::uint64_t offset, length;
};
LogContents parse_log(std::string_view bytes, const std::string& path, bool last, bool salvage = false,
                      std::vector<DamagedRange>* skipped = nullptr);

}  // namespace retarget::storage
