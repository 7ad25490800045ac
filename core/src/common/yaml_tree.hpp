// A YAML reader for untrusted files: positions on every node, limits enforced.
//
// yaml-cpp's node API loses duplicate keys and expands aliases without bound,
// so files are read through its event parser into this small tree instead:
// duplicate keys are errors, aliases are copied against a node budget (so an
// alias bomb stops at the budget), nesting depth and file size are bounded.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "retarget/diagnostics.hpp"

namespace retarget {

struct YamlLimits {
  std::size_t max_bytes = 4 << 20;
  std::size_t max_depth = 64;
  std::size_t max_nodes = 200000;  // after alias expansion
};

struct YamlNode {
  enum class Kind { kNull, kScalar, kSequence, kMap };
  Kind kind = Kind::kNull;
  std::string value;    // kScalar
  bool quoted = false;  // a quoted scalar is always a string
  int line = 0, column = 0;  // 1-based
  std::vector<YamlNode> items;                          // kSequence
  std::vector<std::pair<YamlNode, YamlNode>> entries;   // kMap, in file order

  // Declared here, defaulted after the class: clang (14, with libstdc++ 12)
  // otherwise instantiates the members of `entries` while YamlNode, and so
  // std::pair<YamlNode, YamlNode>, is still incomplete (the fuzz build).
  YamlNode();
  YamlNode(const YamlNode&);
  YamlNode(YamlNode&&) noexcept;
  YamlNode& operator=(const YamlNode&);
  YamlNode& operator=(YamlNode&&) noexcept;
  ~YamlNode();

  bool is_null() const { return kind == Kind::kNull; }
  bool is_scalar() const { return kind == Kind::kScalar; }
  bool is_sequence() const { return kind == Kind::kSequence; }
  bool is_map() const { return kind == Kind::kMap; }
  // The value of a map key, or nullptr.
  const YamlNode* find(std::string_view key) const;
  SourceLocation where(const std::string& file) const { return {file, line, column}; }
  const char* kind_name() const;
};
inline YamlNode::YamlNode() = default;
inline YamlNode::YamlNode(const YamlNode&) = default;
inline YamlNode::YamlNode(YamlNode&&) noexcept = default;
inline YamlNode& YamlNode::operator=(const YamlNode&) = default;
inline YamlNode& YamlNode::operator=(YamlNode&&) noexcept = default;
inline YamlNode::~YamlNode() = default;

// Parses one YAML document. On failure (syntax, limits) the problem is in
// `diags` and the returned node is null. Duplicate keys are reported and the
// first occurrence is kept.
YamlNode parse_yaml(std::string_view text, const std::string& file, const YamlLimits& limits, Diagnostics& diags);

// Reads a file (refusing one over limits.max_bytes) and parses it.
YamlNode load_yaml_file(const std::string& path, const YamlLimits& limits, Diagnostics& diags);

// Scalar conversions following YAML 1.2 core schema spellings.
bool yaml_as_bool(const YamlNode& n, bool& out);
bool yaml_as_int(const YamlNode& n, long long& out);
bool yaml_as_double(const YamlNode& n, double& out);

}  // namespace retarget
