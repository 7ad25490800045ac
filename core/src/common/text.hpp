// Small text helpers: "did you mean", joining.
#pragma once

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

}  // namespace retarget
