// Diagnostics: the problems found while reading a file, all at once.
//
// Validation never stops at the first problem: every problem is collected with
// its location and a plain sentence, so an author fixes a file in one pass.
//
// Thread safety: not synchronised; one Diagnostics per validation.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace retarget {

struct SourceLocation {
  std::string file;
  int line = 0;    // 1-based, 0 = unknown
  int column = 0;  // 1-based, 0 = unknown
  std::string to_string() const;  // "file:line:column" (parts that are known)
};

struct Diagnostic {
  enum class Severity { kError, kWarning };
  Severity severity = Severity::kError;
  SourceLocation where;
  std::string message;
  std::string to_string() const;  // "file:3:7: error: message"
};

// " (did you mean 'x'?)" when one of `candidates` is a plausible typo of
// `word` (edit distance), else "".
std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates);

// Whether `text` is valid UTF-8 (what every input must be).
bool is_utf8_text(std::string_view text);

class Diagnostics {
 public:
  void error(SourceLocation where, std::string message);
  void warning(SourceLocation where, std::string message);
  void append(const Diagnostics& other);
  // Orders the items by file, line and column (stable otherwise), so that a
  // report reads in the order of the input.
  void sort();

  bool has_errors() const { return errors_ > 0; }
  std::size_t error_count() const { return errors_; }
  const std::vector<Diagnostic>& items() const { return items_; }
  // Every item, one per line.
  std::string to_string() const;

 private:
  std::vector<Diagnostic> items_;
  std::size_t errors_ = 0;
};

}  // namespace retarget
