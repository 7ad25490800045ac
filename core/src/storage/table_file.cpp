#include "storage/table_file.hpp"

#include <zstd.h>

#include <cstring>

#include "common/bytes.hpp"
#include "storage/crc32c.hpp"

namespace retarget::storage {
namespace {

constexpr char kMagic[8] = {'R', 'T', 'T', 'B', 'L', 0, 0, 1};
constexpr char kFooterMagic[4] = {'R', 'T', 'T', 'B'};
constexpr std::size_t kHeaderBytes = 16, kFooterBytes = 24;


}  // namespace

Result<std::unique_ptr<TableWriter>> TableWriter::Create(Env& env, const std::string& path) {
  auto f = env.new_writable(path);
  if (!f.ok()) return f.status();
  std::string header(kMagic, 8);
  put_le<std::uint32_t>(header, kTableFormatVersion);
  put_le<std::uint32_t>(header, 0);
  Status s = (*f)->append(header);
  if (!s.ok()) return s;
  std::unique_ptr<TableWriter> w(new TableWriter(path, std::move(f).value()));
  w->offset_ = header.size();
  return w;
}

Status TableWriter::add(const std::string& name, std::string_view bytes, bool compress) {
  SectionInfo info;
  info.name = name;
  info.offset = offset_;
  info.length = bytes.size();
  std::string packed;
  std::string_view stored = bytes;
  if (compress) {
    packed.resize(ZSTD_compressBound(bytes.size()));
    std::size_t n = ZSTD_compress(packed.data(), packed.size(), bytes.data(), bytes.size(), 3);
    if (ZSTD_isError(n)) return Status::Failed(std::string("zstd: ") + ZSTD_getErrorName(n));
    packed.resize(n);
    stored = packed;
    info.codec = 1;
  }
  info.stored = stored.size();
  info.crc = crc32c::value(stored);
  Status s = file_->append(stored);
  if (!s.ok()) return s;
  std::size_t pad = (8 - stored.size() % 8) % 8;
  if (pad) {
    s = file_->append(std::string_view("\0\0\0\0\0\0\0", pad));
    if (!s.ok()) return s;
  }
  offset_ += stored.size() + pad;
  sections_.push_back(std::move(info));
  return Status::Ok();
}

Status TableWriter::finish() {
  std::string dir;
  put_le<std::uint32_t>(dir, static_cast<std::uint32_t>(sections_.size()));
  for (const auto& s : sections_) {
    put_le<std::uint16_t>(dir, static_cast<std::uint16_t>(s.name.size()));
    dir += s.name;
    put_le<std::uint64_t>(dir, s.offset);
    put_le<std::uint64_t>(dir, s.stored);
    put_le<std::uint64_t>(dir, s.length);
    put_le<std::uint32_t>(dir, crc32c::mask(s.crc));
    put_le<std::uint8_t>(dir, s.codec);
  }
  std::string footer;
  put_le<std::uint64_t>(footer, offset_);
  put_le<std::uint64_t>(footer, dir.size());
  put_le<std::uint32_t>(footer, crc32c::mask(crc32c::value(dir)));
  footer.append(kFooterMagic, 4);
  Status s = file_->append(dir);
  if (s.ok()) s = file_->append(footer);
  if (s.ok()) s = file_->sync();
  if (s.ok()) s = file_->close();
  offset_ += dir.size() + footer.size();
  return s;
}

Result<std::shared_ptr<const TableReader>> TableReader::Open(Env& env, const std::string& path) {
  auto size = env.file_size(path);
  if (!size.ok()) return size.status();
  std::shared_ptr<TableReader> r(new TableReader(env, path));
  r->size_ = *size;
  auto bad = [&](std::uint64_t at, const std::string& why) {
    return Status::IoError(path + ": damaged at byte " + std::to_string(at) + ": " + why);
  };
  if (*size < kHeaderBytes + kFooterBytes) return bad(0, "the file is too short to be a table");
  auto header = env.read_range(path, 0, kHeaderBytes);
  if (!header.ok()) return header.status();
  if (std::memcmp((*header)->data(), kMagic, 8) != 0) return bad(0, "not a Retarget table (bad magic)");
  std::uint32_t version;
  std::memcpy(&version, (*header)->data() + 8, 4);
  if (version != kTableFormatVersion)
    return Status::IoError(path + ": table format version " + std::to_string(version) + ", this build reads " +
                           std::to_string(kTableFormatVersion) + " (run `retarget store rebuild`)");
  auto footer = env.read_range(path, *size - kFooterBytes, kFooterBytes);
  if (!footer.ok()) return footer.status();
  std::string_view f = (*footer)->view();
  std::uint64_t dir_off = 0, dir_len = 0;
  std::uint32_t dir_crc = 0;
  get_le(f, dir_off);
  get_le(f, dir_len);
  get_le(f, dir_crc);
  if (std::memcmp(f.data(), kFooterMagic, 4) != 0) return bad(*size - 4, "no table footer (an incomplete file)");
  if (dir_off + dir_len + kFooterBytes != *size) return bad(*size - kFooterBytes, "the footer's directory does not fit");
  auto dir = env.read_range(path, dir_off, dir_len);
  if (!dir.ok()) return dir.status();
  if (crc32c::value((*dir)->view()) != crc32c::unmask(dir_crc)) return bad(dir_off, "the directory's checksum does not match");
  std::string_view d = (*dir)->view();
  std::uint32_t count;
  if (!get_le(d, count)) return bad(dir_off, "a truncated directory");
  for (std::uint32_t i = 0; i < count; ++i) {
    SectionInfo s;
    std::uint16_t name_len;
    std::uint32_t crc;
    if (!get_le(d, name_len) || d.size() < name_len) return bad(dir_off, "a truncated directory");
    s.name.assign(d.data(), name_len);
    d.remove_prefix(name_len);
    if (!get_le(d, s.offset) || !get_le(d, s.stored) || !get_le(d, s.length) || !get_le(d, crc) || !get_le(d, s.codec))
      return bad(dir_off, "a truncated directory");
    s.crc = crc32c::unmask(crc);
    if (s.offset + s.stored > dir_off) return bad(dir_off, "section '" + s.name + "' lies outside the file");
    r->by_name_[s.name] = r->sections_.size();
    r->sections_.push_back(std::move(s));
  }
  return std::shared_ptr<const TableReader>(std::move(r));
}

const SectionInfo* TableReader::find(std::string_view name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? nullptr : &sections_[it->second];
}

Result<std::shared_ptr<FileBuffer>> TableReader::read(const SectionInfo& s) const {
  auto buf = env_.read_range(path_, s.offset, s.stored);
  if (!buf.ok()) return buf.status();
  if (crc32c::value((*buf)->view()) != s.crc)
    return Status::IoError(path_ + ": damaged at byte " + std::to_string(s.offset) + ": section '" + s.name +
                           "' does not match its checksum");
  if (s.codec == 0) return buf;
  auto out = std::make_shared<FileBuffer>(static_cast<std::size_t>(s.length));
  std::size_t n = ZSTD_decompress(out->data(), out->size(), (*buf)->data(), (*buf)->size());
  if (ZSTD_isError(n) || n != s.length)
    return Status::IoError(path_ + ": section '" + s.name + "' does not decompress");
  return out;
}

Result<std::shared_ptr<FileBuffer>> TableReader::read(std::string_view name) const {
  const SectionInfo* s = find(name);
  if (!s) return Status::IoError(path_ + ": no section '" + std::string(name) + "'");
  return read(*s);
}

Status TableReader::verify() const {
  for (const auto& s : sections_) {
    auto b = read(s);
    if (!b.ok()) return b.status();
  }
  return Status::Ok();
}

}  // namespace retarget::storage
