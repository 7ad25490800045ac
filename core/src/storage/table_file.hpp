// Immutable, checksummed files of named sections: the checkpoint's column
// files and the long-term storage's archive files.
//
//   file      := header section* directory footer
//   header    := "RTTBL" 0 0 1 (magic, format version 1) | version (u32) | flags (u32)
//   section   := its bytes (zstd-compressed when the writer asked), padded to 8 bytes
//   directory := count (u32) | per section: name length (u16) | name | offset (u64)
//                | stored length (u64) | length (u64) | masked crc32c of the stored bytes (u32) | codec (u8)
//   footer    := directory offset (u64) | directory length (u64) | masked crc32c of the directory (u32) | "RTTB"
//
// A section read back is verified against its CRC (and decompressed); an
// uncompressed section's bytes start 8-byte aligned in the buffer, so column
// blocks are used in place.
//
// Thread safety: a TableWriter by one thread; a TableReader's methods may be
// called from any thread.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "storage/env.hpp"

namespace retarget::storage {

inline constexpr std::uint32_t kTableFormatVersion = 1;

struct SectionInfo {
  std::string name;
  std::uint64_t offset = 0;
  std::uint64_t stored = 0;  // bytes in the file
  std::uint64_t length = 0;  // bytes once decompressed
  std::uint32_t crc = 0;     // of the stored bytes (unmasked)
  std::uint8_t codec = 0;    // 0 none, 1 zstd
};

class TableWriter {
 public:
  static Result<std::unique_ptr<TableWriter>> Create(Env& env, const std::string& path);
  // REQUIRES: a name not added before.
  Status add(const std::string& name, std::string_view bytes, bool compress = false);
  // Writes the directory and footer, syncs and closes the file.
  Status finish();
  std::uint64_t bytes_written() const { return offset_; }
  const std::string& path() const { return path_; }

 private:
  TableWriter(std::string path, std::unique_ptr<WritableFile> f) : path_(std::move(path)), file_(std::move(f)) {}
  std::string path_;
  std::unique_ptr<WritableFile> file_;
  std::uint64_t offset_ = 0;
  std::vector<SectionInfo> sections_;
};

class TableReader {
 public:
  // Reads and checks the footer and directory.
  static Result<std::shared_ptr<const TableReader>> Open(Env& env, const std::string& path);
  const std::vector<SectionInfo>& sections() const { return sections_; }
  const SectionInfo* find(std::string_view name) const;
  // The section's bytes, verified (and decompressed).
  Result<std::shared_ptr<FileBuffer>> read(const SectionInfo& section) const;
  Result<std::shared_ptr<FileBuffer>> read(std::string_view name) const;
  // Reads every section and checks its CRC; the first problem, with its offset.
  Status verify() const;
  const std::string& path() const { return path_; }
  std::uint64_t file_size() const { return size_; }

 private:
  TableReader(Env& env, std::string path) : env_(env), path_(std::move(path)) {}
  Env& env_;
  std::string path_;
  std::uint64_t size_ = 0;
  std::vector<SectionInfo> sections_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
};

}  // namespace retarget::storage
