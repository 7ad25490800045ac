// The YAML reader for untrusted files (common/yaml_tree.hpp): positions,
// duplicate keys, quoting, aliases and their budget, limits, errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <unistd.h>

#include "common/yaml_tree.hpp"

namespace retarget {
namespace {

YamlNode parse(const std::string& text, Diagnostics& diags, YamlLimits limits = {}) {
  return parse_yaml(text, "t.yaml", limits, diags);
}

bool any_message_contains(const Diagnostics& d, const std::string& needle) {
  for (const auto& i : d.items())
    if (i.message.find(needle) != std::string::npos) return true;
  return false;
}

// ------------------------------------------------------------------ positions

TEST(YamlTree, PositionsAreOneBased) {
  Diagnostics d;
  YamlNode root = parse("a: 1\nb:\n  c: x\n  list:\n    - p\n    - q\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  ASSERT_TRUE(root.is_map());
  EXPECT_EQ(root.line, 1);
  EXPECT_EQ(root.column, 1);
  ASSERT_EQ(root.entries.size(), 2u);
  const auto& [ka, va] = root.entries[0];
  EXPECT_EQ(ka.value, "a");
  EXPECT_EQ(ka.line, 1);
  EXPECT_EQ(ka.column, 1);
  EXPECT_EQ(va.value, "1");
  EXPECT_EQ(va.line, 1);
  EXPECT_EQ(va.column, 4);
  const auto& [kb, vb] = root.entries[1];
  EXPECT_EQ(kb.line, 2);
  EXPECT_EQ(kb.column, 1);
  ASSERT_TRUE(vb.is_map());
  EXPECT_EQ(vb.line, 3);
  EXPECT_EQ(vb.column, 3);
  const YamlNode* c = vb.find("c");
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->value, "x");
  EXPECT_EQ(c->line, 3);
  EXPECT_EQ(c->column, 6);
  const YamlNode* list = vb.find("list");
  ASSERT_NE(list, nullptr);
  ASSERT_TRUE(list->is_sequence());
  ASSERT_EQ(list->items.size(), 2u);
  EXPECT_EQ(list->items[0].value, "p");
  EXPECT_EQ(list->items[0].line, 5);
  EXPECT_EQ(list->items[0].column, 7);
  EXPECT_EQ(list->items[1].value, "q");
  EXPECT_EQ(list->items[1].line, 6);
  EXPECT_EQ(list->items[1].column, 7);

  SourceLocation where = c->where("t.yaml");
  EXPECT_EQ(where.file, "t.yaml");
  EXPECT_EQ(where.line, 3);
  EXPECT_EQ(where.column, 6);
}

TEST(YamlTree, CrLfLineEndingsKeepLineNumbers) {
  Diagnostics d;
  YamlNode root = parse("a: 1\r\nb:\r\n  c: x\r\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  const YamlNode* b = root.find("b");
  ASSERT_NE(b, nullptr);
  ASSERT_NE(b->find("c"), nullptr);
  EXPECT_EQ(b->find("c")->value, "x");
  EXPECT_EQ(b->find("c")->line, 3);
  EXPECT_EQ(b->find("c")->column, 6);
  Diagnostics dup;
  parse("a: 1\r\nb: 2\r\na: 3\r\n", dup);
  ASSERT_EQ(dup.error_count(), 1u);
  EXPECT_EQ(dup.items()[0].where.line, 3);
}

TEST(YamlTree, FlowCollectionPositions) {
  Diagnostics d;
  YamlNode root = parse("k: {x: 1, y: [a, b]}\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  const YamlNode* k = root.find("k");
  ASSERT_NE(k, nullptr);
  ASSERT_TRUE(k->is_map());
  EXPECT_EQ(k->line, 1);
  EXPECT_EQ(k->column, 4);
  const YamlNode* y = k->find("y");
  ASSERT_NE(y, nullptr);
  ASSERT_TRUE(y->is_sequence());
  EXPECT_EQ(y->column, 14);
  ASSERT_EQ(y->items.size(), 2u);
  EXPECT_EQ(y->items[1].value, "b");
  EXPECT_EQ(y->items[1].column, 18);
}

TEST(YamlTree, MapKeepsFileOrderAndFindWorks) {
  Diagnostics d;
  YamlNode root = parse("z: 1\na: 2\nm: 3\n", d);
  ASSERT_FALSE(d.has_errors());
  ASSERT_EQ(root.entries.size(), 3u);
  EXPECT_EQ(root.entries[0].first.value, "z");
  EXPECT_EQ(root.entries[1].first.value, "a");
  EXPECT_EQ(root.entries[2].first.value, "m");
  ASSERT_NE(root.find("a"), nullptr);
  EXPECT_EQ(root.find("a")->value, "2");
  EXPECT_EQ(root.find("nope"), nullptr);
}

// ------------------------------------------------------------- duplicate keys

TEST(YamlTree, DuplicateKeyIsReportedWithItsLocationAndTheFirstIsKept) {
  Diagnostics d;
  YamlNode root = parse("a: 1\nb: 2\na: 3\n", d);
  ASSERT_TRUE(d.has_errors());
  ASSERT_EQ(d.error_count(), 1u) << d.to_string();
  const Diagnostic& e = d.items()[0];
  EXPECT_EQ(e.where.file, "t.yaml");
  EXPECT_EQ(e.where.line, 3);
  EXPECT_EQ(e.where.column, 1);
  EXPECT_NE(e.message.find("duplicate"), std::string::npos) << e.message;
  EXPECT_NE(e.message.find("'a'"), std::string::npos) << e.message;
  ASSERT_TRUE(root.is_map());
  EXPECT_EQ(root.entries.size(), 2u);
  ASSERT_NE(root.find("a"), nullptr);
  EXPECT_EQ(root.find("a")->value, "1");
}

TEST(YamlTree, DuplicateKeysInNestedAndFlowMaps) {
  Diagnostics d;
  YamlNode root = parse("outer:\n  inner: {x: 1, y: 2, x: 3}\n  k: a\n  k: b\n", d);
  EXPECT_EQ(d.error_count(), 2u) << d.to_string();
  bool line2 = false, line4 = false;
  for (const auto& i : d.items()) {
    line2 |= i.where.line == 2;
    line4 |= i.where.line == 4 && i.where.column == 3;
  }
  EXPECT_TRUE(line2) << d.to_string();
  EXPECT_TRUE(line4) << d.to_string();
  // The same key in two different maps is not a duplicate.
  Diagnostics d2;
  parse("a: {id: 1}\nb: {id: 2}\n", d2);
  EXPECT_FALSE(d2.has_errors()) << d2.to_string();
}

TEST(YamlTree, QuotedAndPlainSpellingsOfTheSameKeyAreDuplicates) {
  Diagnostics d;
  parse("a: 1\n\"a\": 2\n", d);
  EXPECT_TRUE(d.has_errors());
}

// ------------------------------------------------------------------- scalars

TEST(YamlTree, QuotedVersusPlainScalars) {
  Diagnostics d;
  YamlNode root = parse("p: yes\nq: \"true\"\nr: 'x'\ns: 12\nt: \"12\"\nu: true\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_FALSE(root.find("p")->quoted);
  EXPECT_TRUE(root.find("q")->quoted);
  EXPECT_EQ(root.find("q")->value, "true");
  EXPECT_TRUE(root.find("r")->quoted);
  EXPECT_EQ(root.find("r")->value, "x");
  EXPECT_FALSE(root.find("s")->quoted);
  EXPECT_TRUE(root.find("t")->quoted);

  bool b = false;
  EXPECT_TRUE(yaml_as_bool(*root.find("u"), b));
  EXPECT_TRUE(b);
  // A quoted scalar is always a string.
  EXPECT_FALSE(yaml_as_bool(*root.find("q"), b));
  long long n = 0;
  EXPECT_TRUE(yaml_as_int(*root.find("s"), n));
  EXPECT_EQ(n, 12);
  EXPECT_FALSE(yaml_as_int(*root.find("t"), n));
  double x = 0;
  EXPECT_FALSE(yaml_as_double(*root.find("t"), x));
  // YAML 1.2 core schema: "yes" is a string, not a bool.
  EXPECT_FALSE(yaml_as_bool(*root.find("p"), b));
}

TEST(YamlTree, NullSpellings) {
  Diagnostics d;
  YamlNode root = parse("a: ~\nb:\nc: null\nd: \"null\"\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_TRUE(root.find("a")->is_null());
  EXPECT_TRUE(root.find("b")->is_null());
  EXPECT_TRUE(root.find("c")->is_null());
  EXPECT_TRUE(root.find("d")->is_scalar());
  EXPECT_EQ(root.find("d")->value, "null");
}

TEST(YamlTree, ScalarConversions) {
  auto scalar = [](std::string v) {
    YamlNode n;
    n.kind = YamlNode::Kind::kScalar;
    n.value = std::move(v);
    return n;
  };
  bool b;
  for (const char* t : {"true", "True", "TRUE"}) {
    b = false;
    EXPECT_TRUE(yaml_as_bool(scalar(t), b)) << t;
    EXPECT_TRUE(b) << t;
  }
  for (const char* f : {"false", "False", "FALSE"}) {
    b = true;
    EXPECT_TRUE(yaml_as_bool(scalar(f), b)) << f;
    EXPECT_FALSE(b) << f;
  }
  for (const char* bad : {"yes", "no", "on", "1", "", "tru"}) EXPECT_FALSE(yaml_as_bool(scalar(bad), b)) << bad;
  long long n;
  EXPECT_TRUE(yaml_as_int(scalar("42"), n));
  EXPECT_EQ(n, 42);
  EXPECT_TRUE(yaml_as_int(scalar("-7"), n));
  EXPECT_EQ(n, -7);
  EXPECT_TRUE(yaml_as_int(scalar("+3"), n));
  EXPECT_EQ(n, 3);
  for (const char* bad : {"1.5", "", "12a", "a12", " 1", "--1"}) EXPECT_FALSE(yaml_as_int(scalar(bad), n)) << bad;
  double x;
  EXPECT_TRUE(yaml_as_double(scalar("1.5"), x));
  EXPECT_DOUBLE_EQ(x, 1.5);
  EXPECT_TRUE(yaml_as_double(scalar("-2e3"), x));
  EXPECT_DOUBLE_EQ(x, -2000);
  EXPECT_TRUE(yaml_as_double(scalar("7"), x));
  EXPECT_DOUBLE_EQ(x, 7);
  for (const char* bad : {"", "abc", "1.5x"}) EXPECT_FALSE(yaml_as_double(scalar(bad), x)) << bad;
  YamlNode seq;
  seq.kind = YamlNode::Kind::kSequence;
  EXPECT_FALSE(yaml_as_bool(seq, b));
  EXPECT_FALSE(yaml_as_int(seq, n));
  EXPECT_FALSE(yaml_as_double(seq, x));
}

// ------------------------------------------------------------------- aliases

TEST(YamlTree, AliasWithinBudgetIsExpanded) {
  Diagnostics d;
  YamlNode root = parse("base: &b {x: 1, y: [p, q]}\ncopy: *b\nlist: &l [1, 2, 3]\nagain: *l\n", d);
  ASSERT_FALSE(d.has_errors()) << d.to_string();
  const YamlNode* copy = root.find("copy");
  ASSERT_NE(copy, nullptr);
  ASSERT_TRUE(copy->is_map());
  ASSERT_NE(copy->find("x"), nullptr);
  EXPECT_EQ(copy->find("x")->value, "1");
  ASSERT_NE(copy->find("y"), nullptr);
  ASSERT_TRUE(copy->find("y")->is_sequence());
  EXPECT_EQ(copy->find("y")->items.size(), 2u);
  const YamlNode* again = root.find("again");
  ASSERT_NE(again, nullptr);
  ASSERT_TRUE(again->is_sequence());
  ASSERT_EQ(again->items.size(), 3u);
  EXPECT_EQ(again->items[2].value, "3");
  // A scalar anchor too.
  Diagnostics d2;
  YamlNode r2 = parse("a: &s hello\nb: *s\n", d2);
  ASSERT_FALSE(d2.has_errors()) << d2.to_string();
  EXPECT_EQ(r2.find("b")->value, "hello");
}

TEST(YamlTree, AliasExpansionCountsAgainstTheNodeBudget) {
  // 10-item list: 11 nodes per copy.
  std::string few = "a: &l [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: *l\nc: *l\n";
  std::string many = few + "d: *l\ne: *l\nf: *l\ng: *l\n";
  YamlLimits limits;
  limits.max_nodes = 50;
  Diagnostics ok;
  parse(few, ok, limits);  // about 39 nodes after expansion
  EXPECT_FALSE(ok.has_errors()) << ok.to_string();
  Diagnostics bad;
  YamlNode root = parse(many, bad, limits);  // about 83 nodes after expansion
  EXPECT_TRUE(bad.has_errors());
  EXPECT_TRUE(root.is_null());
  // Without the aliases the same document is tiny: the budget is about expansion.
  Diagnostics plain;
  parse("a: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]\nb: x\nc: x\nd: x\ne: x\nf: x\ng: x\n", plain, limits);
  EXPECT_FALSE(plain.has_errors()) << plain.to_string();
}

std::string billion_laughs() {
  std::string s = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n";
  const char* names = "abcdefghi";
  for (int level = 1; level < 9; ++level) {
    char prev = names[level - 1], cur = names[level];
    s += std::string(1, cur) + ": &" + cur + " [";
    for (int i = 0; i < 9; ++i) s += std::string(i ? ", " : "") + "*" + prev;
    s += "]\n";
  }
  return s;  // "i" expands to 9^9 (387 million) scalars
}

TEST(YamlTree, BillionLaughsIsStoppedWithAnError) {
  Diagnostics d;
  auto start = std::chrono::steady_clock::now();
  YamlNode root = parse(billion_laughs(), d);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_TRUE(d.has_errors());
  EXPECT_TRUE(root.is_null());
  EXPECT_TRUE(any_message_contains(d, "alias") || any_message_contains(d, "nodes")) << d.to_string();
  EXPECT_GT(d.items()[0].where.line, 0);
  EXPECT_LT(seconds, 2.0);
}

TEST(YamlTree, UnknownAliasIsAnError) {
  Diagnostics d;
  YamlNode root = parse("a: *nowhere\n", d);
  EXPECT_TRUE(d.has_errors());
  EXPECT_TRUE(root.is_null());
}

// -------------------------------------------------------------------- limits

TEST(YamlTree, DepthLimit) {
  YamlLimits limits;
  limits.max_depth = 3;
  Diagnostics ok;
  YamlNode r = parse("a: {b: {c: 1}}\n", ok, limits);  // three nested maps
  EXPECT_FALSE(ok.has_errors()) << ok.to_string();
  EXPECT_TRUE(r.is_map());
  Diagnostics bad;
  YamlNode r2 = parse("a: {b: {c: {d: 1}}}\n", bad, limits);  // four
  EXPECT_TRUE(bad.has_errors());
  EXPECT_TRUE(r2.is_null());
  ASSERT_FALSE(bad.items().empty());
  EXPECT_EQ(bad.items()[0].where.line, 1);
  Diagnostics block;
  parse("a:\n  b:\n    - c:\n        d: 1\n", block, limits);  // map, map, list, map
  EXPECT_TRUE(block.has_errors());
}

std::size_t depth(const YamlNode& n) {
  std::size_t d = 0;
  for (const auto& i : n.items) d = std::max(d, depth(i));
  for (const auto& [k, v] : n.entries) d = std::max(d, depth(v));
  return (n.is_map() || n.is_sequence()) ? d + 1 : d;
}

TEST(YamlTree, DepthLimitHoldsAfterAliasExpansion) {
  // A node of depth 2 copied two levels deep makes a tree of depth 4: the
  // depth limit, like the node limit, must hold for the expanded tree.
  YamlLimits limits;
  limits.max_depth = 3;
  Diagnostics d;
  YamlNode r = parse("a: &x {b: {c: 1}}\nd: {e: *x}\n", d, limits);
  if (!d.has_errors()) {
    ADD_FAILURE() << "accepted a tree of depth " << depth(r) << " with max_depth 3";
  }
  // Chained anchors must not build an arbitrarily deep tree either.
  std::string chain = "a0: &a0 [x]\n";
  for (int i = 1; i < 200; ++i) {
    std::string n = std::to_string(i), prev = std::to_string(i - 1);
    chain += "a";
    chain += n;
    chain += ": &a";
    chain += n;
    chain += " [[*a";
    chain += prev;
    chain += "]]\n";
  }
  Diagnostics d2;
  YamlNode r2 = parse(chain, d2);  // default limits: depth 64
  if (!d2.has_errors()) {
    EXPECT_LE(depth(r2), YamlLimits{}.max_depth);
  }
}

TEST(YamlTree, DeepNestingIsRefusedWithoutCrashing) {
  Diagnostics d;
  std::string deep(100, '[');
  deep += std::string(100, ']');
  YamlNode r = parse(deep, d);  // default depth limit is 64
  EXPECT_TRUE(d.has_errors());
  EXPECT_TRUE(r.is_null());

  Diagnostics d2;
  std::string very_deep(200000, '[');  // unterminated, far beyond any limit
  YamlNode r2 = parse(very_deep, d2);
  EXPECT_TRUE(d2.has_errors());
  EXPECT_TRUE(r2.is_null());
}

TEST(YamlTree, AFlatMapWithManyKeysParsesInLinearTime) {
  // An untrusted file well within the limits (about 270 KB, 60,000 nodes)
  // must not take seconds: duplicate-key detection may not be quadratic.
  std::string s;
  for (int i = 0; i < 30000; ++i) {
    s += 'k';
    s += std::to_string(i);
    s += ": 1\n";
  }
  ASSERT_LT(s.size(), YamlLimits{}.max_bytes);
  Diagnostics d;
  auto start = std::chrono::steady_clock::now();
  YamlNode r = parse(s, d);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_FALSE(d.has_errors()) << d.to_string();
  EXPECT_EQ(r.entries.size(), 30000u);
  EXPECT_LT(seconds, 1.5) << "30,000 keys took " << seconds << " s";
}

TEST(YamlTree, NodeLimitWithoutAliases) {
  YamlLimits limits;
  limits.max_nodes = 20;
  std::string list = "[";
  for (int i = 0; i < 30; ++i) list += (i ? ", " : "") + std::to_string(i);
  list += "]";
  Diagnostics d;
  YamlNode r = parse(list, d, limits);
  EXPECT_TRUE(d.has_errors());
  EXPECT_TRUE(r.is_null());
}

TEST(YamlTree, SizeLimit) {
  YamlLimits limits;
  limits.max_bytes = 10;
  Diagnostics ok;
  parse("a: 123456", ok, limits);  // 9 bytes
  EXPECT_FALSE(ok.has_errors()) << ok.to_string();
  Diagnostics exact;
  parse("a: 1234567", exact, limits);  // 10 bytes
  EXPECT_FALSE(exact.has_errors()) << exact.to_string();
  Diagnostics bad;
  YamlNode r = parse("a: 12345678", bad, limits);  // 11 bytes
  EXPECT_TRUE(bad.has_errors());
  EXPECT_TRUE(r.is_null());
}

TEST(YamlTree, LoadFileRefusesOversizedAndMissingFiles) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / ("retarget_yaml_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  fs::path p = dir / "f.yaml";
  {
    std::ofstream out(p);
    out << "key: value\nother: [1, 2]\n";
  }
  YamlLimits limits;
  Diagnostics ok;
  YamlNode r = load_yaml_file(p.string(), limits, ok);
  EXPECT_FALSE(ok.has_errors()) << ok.to_string();
  ASSERT_TRUE(r.is_map());
  EXPECT_EQ(r.find("key")->value, "value");

  limits.max_bytes = 5;
  Diagnostics big;
  YamlNode r2 = load_yaml_file(p.string(), limits, big);
  EXPECT_TRUE(big.has_errors());
  EXPECT_TRUE(r2.is_null());

  Diagnostics missing;
  load_yaml_file((dir / "nope.yaml").string(), YamlLimits{}, missing);
  EXPECT_TRUE(missing.has_errors());
  ASSERT_FALSE(missing.items().empty());
  EXPECT_EQ(missing.items()[0].where.file, (dir / "nope.yaml").string());
  fs::remove_all(dir);
}

// -------------------------------------------------------- errors, documents

TEST(YamlTree, SyntaxErrorsHaveLineNumbers) {
  Diagnostics d;
  YamlNode r = parse("a: 1\nb: 2\nc: [1, 2\nd: 3\n", d);
  ASSERT_TRUE(d.has_errors());
  EXPECT_TRUE(r.is_null());
  EXPECT_GE(d.items()[0].where.line, 3) << d.to_string();
  EXPECT_EQ(d.items()[0].where.file, "t.yaml");

  Diagnostics d2;
  parse("a: 1\nb: 2\n- c\n", d2);  // a list entry inside a map
  ASSERT_TRUE(d2.has_errors());
  EXPECT_EQ(d2.items()[0].where.line, 3) << d2.to_string();

  Diagnostics d3;
  parse("a: 1\n  b: 2\n", d3);
  ASSERT_TRUE(d3.has_errors());
  EXPECT_EQ(d3.items()[0].where.line, 2) << d3.to_string();
}

TEST(YamlTree, MultipleDocumentsAreRejected) {
  Diagnostics d;
  parse("a: 1\n---\nb: 2\n", d);
  EXPECT_TRUE(d.has_errors());
  Diagnostics single;
  YamlNode r = parse("---\na: 1\n", single);
  EXPECT_FALSE(single.has_errors()) << single.to_string();
  EXPECT_TRUE(r.is_map());
}

TEST(YamlTree, DiagnosticToString) {
  Diagnostics d;
  parse("a: 1\na: 2\n", d);
  ASSERT_EQ(d.items().size(), 1u);
  std::string s = d.items()[0].to_string();
  EXPECT_EQ(s.rfind("t.yaml:2:1: error: ", 0), 0u) << s;
}

TEST(YamlTree, KindNames) {
  YamlNode n;
  EXPECT_TRUE(n.is_null());
  EXPECT_NE(std::string(n.kind_name()), "");
  n.kind = YamlNode::Kind::kMap;
  EXPECT_TRUE(n.is_map());
  EXPECT_NE(std::string(n.kind_name()), std::string(YamlNode{}.kind_name()));
}

}  // namespace
}  // namespace retarget
