// Reading the files a user names (catalog, rules, config, events), with one
// phrasing for every failure so that scripts and people see the same thing.
//
// Thread safety: plain functions.
#pragma once

#include <cstddef>
#include <string>

#include "retarget/status.hpp"

namespace retarget {

// "cannot read 'PATH': WHY" as InvalidInput (exit code 2, formats.md: a
// missing or unreadable file is bad input and nothing is applied).
Status cannot_read(const std::string& path, const std::string& why);

// The whole file, when it is at most `max_bytes` long and valid UTF-8;
// otherwise InvalidInput naming the file (and, for bad UTF-8, line:column).
Result<std::string> read_text_file(const std::string& path, std::size_t max_bytes);

// The UTF-8 check of read_text_file for text that came another way (an HTTP
// body, a string passed to the API): InvalidInput "NAME:LINE:COLUMN: ..." or Ok.
Status check_utf8(std::string_view text, const std::string& name);

}  // namespace retarget
