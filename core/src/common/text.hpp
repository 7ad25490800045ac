// Small text helpers: "did you mean", joining, UTF-8 validation.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace retarget {

// The candidate closest to `word` by edit distance, or "" when none is close
// enough to be a plausible typo.
std::string nearest(std::string_view word, const std::vector<std::string>& candidates);
// " (did you mean 'x'?)" or "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);
std::string join(const std::vector<std::string>& items, std::string_view sep);

// Every text that enters (files, command-line arguments, HTTP paths) must be
// UTF-8 (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF).
// Returns the offset of the first byte of the first invalid sequence, or
// nullopt when `text` is valid.
std::optional<std::size_t> invalid_utf8_offset(std::string_view text);
inline bool is_utf8(std::string_view text) { return !invalid_utf8_offset(text); }
// 1-based line and column (in bytes) of `offset` in `text`.
void line_column(std::string_view text, std::size_t offset, int& line, int& column);
// `text` with every invalid UTF-8 sequence replaced by U+FFFD (for messages
// that quote bad input).
std::string utf8_replaced(std::string_view text);

}  // namespace retarget
