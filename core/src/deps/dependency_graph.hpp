// The dependency graph of lifecycle.md: who pins which source, and why.
//
// Nodes: consumers (campaigns, Canvases, Content Cards with an audience),
// stored segments, tags and sources (campaigns and Canvases as owners of
// interaction data). Edges: consumer -> segment it targets; consumer or
// segment -> segment it nests, source it references by id, tag it references;
// tag -> every source carrying it.
//
// A source is pinned when it is reachable from a pinner: an active consumer,
// or (segments_pin) any segment that is not archived. Pins are maintained
// incrementally: every pinner caches the set of sources it reaches, and a
// change re-walks only the pinners that can reach the changed node, so one
// status change costs the size of that consumer's reach, not of the graph.
//
// Thread safety: not synchronised; the engine serialises changes.
#pragma once

#include <map>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

namespace retarget {

class DependencyGraph {
 public:
  struct Edges {
    std::set<std::string> segments;  // segment ids
    std::set<std::string> sources;   // source keys: "campaign:<id>" / "canvas:<id>"
    std::set<std::string> tags;
    bool operator==(const Edges&) const = default;
  };

  // Node keys of the graph ("consumer:campaign:x", "segment:s", "tag:t", "source:canvas:y").
  static std::string consumer_node(const std::string& consumer_key) { return "consumer:" + consumer_key; }
  static std::string segment_node(const std::string& id) { return "segment:" + id; }
  static std::string tag_node(const std::string& tag) { return "tag:" + tag; }
  static std::string source_node(const std::string& source_key) { return "source:" + source_key; }

  // Each setter is a no-op when nothing changed. `consumer_key` is
  // "campaign:<id>", "canvas:<id>" or "card:<id>".
  void set_consumer(const std::string& consumer_key, bool active, const Edges& edges);
  void remove_consumer(const std::string& consumer_key);
  void set_segment(const std::string& id, const Edges& edges, bool pins_on_its_own);
  void remove_segment(const std::string& id);
  void set_source_tags(const std::string& source_key, const std::set<std::string>& tags);
  // Whether tag references pin the tag's sources (pin_by_tag).
  void set_pin_by_tag(bool pin_by_tag);

  bool pinned(const std::string& source_key) const;
  // Sources whose last pin was released since the last call (to restart their clock).
  std::vector<std::string> take_released();

  // The sources a consumer would reach if it were active (the resume guard).
  std::set<std::string> reach_of_consumer(const std::string& consumer_key) const;
  std::set<std::string> reach_of_segment(const std::string& id) const;

  struct Pin {
    std::string pinner;             // node key of the active consumer (or pinning segment)
    std::vector<std::string> path;  // node keys from the pinner to the source
  };
  // Who pins a source and through which path (one shortest path per pinner).
  std::vector<Pin> pins_of(const std::string& source_key) const;

  struct Edge {
    std::string from, to;
  };
  std::vector<Edge> edges() const;
  std::vector<std::string> pinners() const;
  std::size_t edge_count() const;

 private:
  void set_out(const std::string& node, const std::set<std::string>& targets);
  std::set<std::string> reach(const std::string& node) const;  // source keys
  // Pinners that can reach `node` (walking reverse edges).
  std::set<std::string> pinners_reaching(const std::string& node) const;
  void set_pinner(const std::string& node, bool pins);
  void refresh(const std::set<std::string>& pinners);
  bool follows(const std::string& from, const std::string& to) const;

  std::unordered_map<std::string, std::set<std::string>> out_;
  std::unordered_map<std::string, std::set<std::string>> in_;
  std::unordered_map<std::string, Edges> consumer_edges_, segment_edges_;
  std::unordered_map<std::string, std::set<std::string>> source_tags_;
  std::unordered_set<std::string> pinner_nodes_;
  std::unordered_map<std::string, std::set<std::string>> reach_;  // pinner -> sources
  std::unordered_map<std::string, int> pin_count_;                 // source key -> pinners reaching it
  std::map<std::string, bool> consumer_active_, segment_pins_;
  std::vector<std::string> released_;
  bool pin_by_tag_ = true;
};

}  // namespace retarget
