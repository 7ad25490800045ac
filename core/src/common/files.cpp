#include "common/files.hpp"

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "common/text.hpp"

namespace retarget {

Status cannot_read(const std::string& path, const std::string& why) {
  return Status::InvalidInput("cannot read '" + utf8_replaced(path) + "': " + why);
}

Status check_utf8(std::string_view text, const std::string& name) {
  auto bad = invalid_utf8_offset(text);
  if (!bad) return Status::Ok();
  int line, column;
  line_column(text, *bad, line, column);
  return Status::InvalidInput(utf8_replaced(name) + ":" + std::to_string(line) + ":" + std::to_string(column) +
                              ": the text is not valid UTF-8 (byte offset " + std::to_string(*bad) + ")");
}

Result<std::string> read_text_file(const std::string& path, std::size_t max_bytes) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return cannot_read(path, "it is a directory");
  std::ifstream in(path, std::ios::binary);
  if (!in) return cannot_read(path, std::strerror(errno));
  in.seekg(0, std::ios::end);
  auto end = in.tellg();
  if (end < 0) return cannot_read(path, "cannot determine its size");
  auto size = static_cast<std::size_t>(end);
  if (size > max_bytes)
    return Status::InvalidInput(utf8_replaced(path) + ": the file is " + std::to_string(size) +
                                " bytes, over the limit of " + std::to_string(max_bytes));
  in.seekg(0);
  std::string text(size, '\0');
  in.read(text.data(), static_cast<std::streamsize>(size));
  if (!in) return cannot_read(path, "the read failed");
  Status utf8 = check_utf8(text, path);
  if (!utf8.ok()) return utf8;
  return text;
}

}  // namespace retarget
