#include "common/yaml_tree.hpp"

#include "common/files.hpp"
#include "common/text.hpp"

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/exceptions.h>
#include <yaml-cpp/parser.h>

#include <charconv>
#include <fstream>
#include <algorithm>
#include <map>
#include <unordered_map>
#include <sstream>

namespace retarget {
namespace {

struct LimitExceeded {
  std::string message;
  int line, column;
};

class TreeBuilder : public YAML::EventHandler {
 public:
  TreeBuilder(const YamlLimits& limits, const std::string& file, Diagnostics& diags)
      : limits_(limits), file_(file), diags_(diags) {}

  YamlNode take_root() { return std::move(root_); }

  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    YamlNode n = make(mark, YamlNode::Kind::kNull);
    finish(std::move(n), anchor);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = anchors_.find(anchor);
    if (it == anchors_.end()) throw LimitExceeded{"unknown alias", mark.line + 1, mark.column + 1};
    std::size_t size = count(it->second);
    nodes_ += size;
    if (nodes_ > limits_.max_nodes)
      throw LimitExceeded{"YAML alias expansion exceeds the limit of " + std::to_string(limits_.max_nodes) +
                              " nodes (an alias bomb?)",
                          mark.line + 1, mark.column + 1};
    std::size_t depth = stack_.size() + depth_of(it->second);
    if (depth > limits_.max_depth)
      throw LimitExceeded{"nesting deeper than " + std::to_string(limits_.max_depth) + " levels (through an alias)",
                          mark.line + 1, mark.column + 1};
    YamlNode copy = it->second;
    finish(std::move(copy), 0);
  }
  void OnScalar(const YAML::Mark& mark, const std::string& tag, YAML::anchor_t anchor,
                const std::string& value) override {
    YamlNode n = make(mark, YamlNode::Kind::kScalar);
    n.value = value;
    n.quoted = (tag == "!");
    finish(std::move(n), anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(make(mark, YamlNode::Kind::kSequence), anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(make(mark, YamlNode::Kind::kMap), anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  struct Open {
    YamlNode node;
    YAML::anchor_t anchor = 0;
    bool have_key = false;
    YamlNode key;
    std::unordered_map<std::string, int> key_lines;  // scalar keys seen -> line (duplicates in O(1))
  };

  YamlNode make(const YAML::Mark& mark, YamlNode::Kind kind) {
    if (++nodes_ > limits_.max_nodes)
      throw LimitExceeded{"the document has more than " + std::to_string(limits_.max_nodes) + " nodes",
                          mark.line + 1, mark.column + 1};
    YamlNode n;
    n.kind = kind;
    n.line = mark.line + 1;
    n.column = mark.column + 1;
    return n;
  }

  // Levels of maps and lists in n (a scalar is 0).
  static std::size_t depth_of(const YamlNode& n) {
    std::size_t d = 0;
    for (const auto& i : n.items) d = std::max(d, depth_of(i));
    for (const auto& [k, v] : n.entries) d = std::max(d, depth_of(v));
    return (n.is_map() || n.is_sequence()) ? d + 1 : 0;
  }

  static std::size_t count(const YamlNode& n) {
    std::size_t c = 1;
    for (const auto& i : n.items) c += count(i);
    for (const auto& [k, v] : n.entries) c += count(k) + count(v);
    return c;
  }

  void open(YamlNode n, YAML::anchor_t anchor) {
    if (stack_.size() >= limits_.max_depth)
      throw LimitExceeded{"nesting deeper than " + std::to_string(limits_.max_depth) + " levels", n.line, n.column};
    Open o;
    o.node = std::move(n);
    o.anchor = anchor;
    stack_.push_back(std::move(o));
  }

  void close() {
    Open top = std::move(stack_.back());
    stack_.pop_back();
    finish(std::move(top.node), top.anchor);
  }

  void finish(YamlNode n, YAML::anchor_t anchor) {
    if (anchor != 0) anchors_[anchor] = n;
    if (stack_.empty()) {
      root_ = std::move(n);
      return;
    }
    Open& parent = stack_.back();
    if (parent.node.kind == YamlNode::Kind::kSequence) {
      parent.node.items.push_back(std::move(n));
    } else if (!parent.have_key) {
      parent.key = std::move(n);
      parent.have_key = true;
    } else {
      parent.have_key = false;
      const YamlNode& key = parent.key;
      bool duplicate = false;
      if (key.is_scalar()) {
        auto [it, inserted] = parent.key_lines.emplace(key.value, key.line);
        if (!inserted) {
          diags_.error(key.where(file_), "duplicate key '" + key.value + "' (first at line " +
                                             std::to_string(it->second) + ")");
          duplicate = true;
        }
      }
      if (!duplicate) parent.node.entries.emplace_back(std::move(parent.key), std::move(n));
    }
  }

  const YamlLimits& limits_;
  const std::string& file_;
  Diagnostics& diags_;
  std::vector<Open> stack_;
  std::map<YAML::anchor_t, YamlNode> anchors_;
  std::size_t nodes_ = 0;
  YamlNode root_;
};

}  // namespace

const YamlNode* YamlNode::find(std::string_view key) const {
  for (const auto& [k, v] : entries)
    if (k.is_scalar() && k.value == key) return &v;
  return nullptr;
}

const char* YamlNode::kind_name() const {
  switch (kind) {
    case Kind::kNull: return "null";
    case Kind::kScalar: return "a scalar";
    case Kind::kSequence: return "a list";
    case Kind::kMap: return "a map";
  }
  return "?";
}

YamlNode parse_yaml(std::string_view text, const std::string& file, const YamlLimits& limits, Diagnostics& diags) {
  if (text.size() > limits.max_bytes) {
    diags.error({file, 0, 0}, "the file is " + std::to_string(text.size()) + " bytes, over the limit of " +
                                  std::to_string(limits.max_bytes));
    return {};
  }
  if (auto bad = invalid_utf8_offset(text)) {
    int line, column;
    line_column(text, *bad, line, column);
    diags.error({file, line, column}, "the text is not valid UTF-8 (byte offset " + std::to_string(*bad) + ")");
    return {};
  }
  std::istringstream in{std::string(text)};
  TreeBuilder builder(limits, file, diags);
  try {
    YAML::Parser parser(in);
    if (!parser.HandleNextDocument(builder)) return {};
    YamlNode root = builder.take_root();
    if (parser.HandleNextDocument(builder))
      diags.error({file, 0, 0}, "the file holds more than one YAML document; one is expected");
    return root;
  } catch (const LimitExceeded& e) {
    diags.error({file, e.line, e.column}, e.message);
  } catch (const YAML::DeepRecursion& e) {
    diags.error({file, e.mark.line + 1, e.mark.column + 1}, "nesting too deep");
  } catch (const YAML::Exception& e) {
    diags.error({file, e.mark.line + 1, e.mark.column + 1}, "YAML syntax error: " + e.msg);
  }
  return {};
}

YamlNode load_yaml_file(const std::string& path, const YamlLimits& limits, Diagnostics& diags) {
  auto text = read_text_file(path, limits.max_bytes);
  if (!text.ok()) {
    diags.error({path, 0, 0}, text.status().message());
    return {};
  }
  return parse_yaml(*text, path, limits, diags);
}

bool yaml_as_bool(const YamlNode& n, bool& out) {
  if (!n.is_scalar() || n.quoted) return false;
  if (n.value == "true" || n.value == "True" || n.value == "TRUE") return out = true, true;
  if (n.value == "false" || n.value == "False" || n.value == "FALSE") return out = false, true;
  return false;
}

bool yaml_as_int(const YamlNode& n, long long& out) {
  if (!n.is_scalar() || n.quoted || n.value.empty()) return false;
  const char* b = n.value.data();
  const char* e = b + n.value.size();
  if (*b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e;
}

bool yaml_as_double(const YamlNode& n, double& out) {
  if (!n.is_scalar() || n.quoted || n.value.empty()) return false;
  const char* b = n.value.data();
  const char* e = b + n.value.size();
  if (*b == '+') ++b;
  auto [p, ec] = std::from_chars(b, e, out);
  return ec == std::errc() && p == e;
}

}  // namespace retarget
