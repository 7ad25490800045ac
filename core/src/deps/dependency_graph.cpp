#include "deps/dependency_graph.hpp"

#include <algorithm>
#include <deque>
#include <tuple>

namespace retarget {

namespace {
bool starts_with(const std::string& s, const char* p) { return s.rfind(p, 0) == 0; }
const std::size_t kSourcePrefix = 7;  // "source:"
}  // namespace

bool DependencyGraph::follows(const std::string& from, const std::string& to) const {
  // Without pin_by_tag, tag references do not carry pins to the tag's sources.
  return pin_by_tag_ || !starts_with(from, "tag:");
}

void DependencyGraph::set_out(const std::string& node, const std::set<std::string>& targets) {
  auto& current = out_[node];
  for (const auto& t : current)
    if (!targets.count(t)) in_[t].erase(node);
  for (const auto& t : targets) in_[t].insert(node);
  current = targets;
}

std::set<std::string> DependencyGraph::reach(const std::string& node) const {
  std::set<std::string> sources;
  std::unordered_set<std::string> seen{node};
  std::deque<std::string> queue{node};
  while (!queue.empty()) {
    std::string n = std::move(queue.front());
    queue.pop_front();
    if (starts_with(n, "source:")) {
      sources.insert(n.substr(kSourcePrefix));
      continue;  // a source pins nothing further
    }
    if (!follows(n, "")) continue;
    auto it = out_.find(n);
    if (it == out_.end()) continue;
    for (const auto& next : it->second)
      if (seen.insert(next).second) queue.push_back(next);
  }
  return sources;
}

std::set<std::string> DependencyGraph::pinners_reaching(const std::string& node) const {
  std::set<std::string> found;
  std::unordered_set<std::string> seen{node};
  std::deque<std::string> queue{node};
  while (!queue.empty()) {
    std::string n = std::move(queue.front());
    queue.pop_front();
    if (pinner_nodes_.count(n)) found.insert(n);
    auto it = in_.find(n);
    if (it == in_.end()) continue;
    for (const auto& prev : it->second)
      if (seen.insert(prev).second) queue.push_back(prev);
  }
  return found;
}

void DependencyGraph::refresh(const std::set<std::string>& pinners) {
  for (const auto& p : pinners) {
    std::set<std::string> next = pinner_nodes_.count(p) ? reach(p) : std::set<std::string>{};
    std::set<std::string>& current = reach_[p];
    for (const auto& s : current)
      if (!next.count(s) && --pin_count_[s] == 0) released_.push_back(s);
    for (const auto& s : next)
      if (!current.count(s)) ++pin_count_[s];
    if (next.empty()) reach_.erase(p);
    else current = std::move(next);
  }
}

void DependencyGraph::set_pinner(const std::string& node, bool pins) {
  if (pins) pinner_nodes_.insert(node);
  else pinner_nodes_.erase(node);
}

void DependencyGraph::set_consumer(const std::string& key, bool active, const Edges& edges) {
  auto it = consumer_edges_.find(key);
  if (it != consumer_edges_.end() && it->second == edges && consumer_active_[key] == active) return;
  std::string node = consumer_node(key);
  std::set<std::string> targets;
  for (const auto& s : edges.segments) targets.insert(segment_node(s));
  for (const auto& s : edges.sources) targets.insert(source_node(s));
  for (const auto& t : edges.tags) targets.insert(tag_node(t));
  set_out(node, targets);
  consumer_edges_[key] = edges;
  consumer_active_[key] = active;
  set_pinner(node, active);
  refresh({node});
}

void DependencyGraph::remove_consumer(const std::string& key) {
  if (!consumer_edges_.count(key)) return;
  std::string node = consumer_node(key);
  set_out(node, {});
  consumer_edges_.erase(key);
  consumer_active_.erase(key);
  set_pinner(node, false);
  refresh({node});
}

void DependencyGraph::set_segment(const std::string& id, const Edges& edges, bool pins_on_its_own) {
  auto it = segment_edges_.find(id);
  if (it != segment_edges_.end() && it->second == edges && segment_pins_[id] == pins_on_its_own) return;
  std::string node = segment_node(id);
  std::set<std::string> targets;
  for (const auto& s : edges.segments) targets.insert(segment_node(s));
  for (const auto& s : edges.sources) targets.insert(source_node(s));
  for (const auto& t : edges.tags) targets.insert(tag_node(t));
  std::set<std::string> affected = pinners_reaching(node);  // before the change
  set_out(node, targets);
  segment_edges_[id] = edges;
  segment_pins_[id] = pins_on_its_own;
  set_pinner(node, pins_on_its_own);
  affected.insert(node);
  for (const auto& p : pinners_reaching(node)) affected.insert(p);
  refresh(affected);
}

void DependencyGraph::remove_segment(const std::string& id) {
  if (!segment_edges_.count(id)) return;
  std::string node = segment_node(id);
  std::set<std::string> affected = pinners_reaching(node);
  affected.insert(node);
  set_out(node, {});
  segment_edges_.erase(id);
  segment_pins_.erase(id);
  set_pinner(node, false);
  refresh(affected);
}

void DependencyGraph::set_source_tags(const std::string& source_key, const std::set<std::string>& tags) {
  auto& current = source_tags_[source_key];
  if (current == tags) return;
  std::string source = source_node(source_key);
  std::set<std::string> affected;
  for (const auto& t : current)
    if (!tags.count(t)) {
      out_[tag_node(t)].erase(source);
      in_[source].erase(tag_node(t));
      for (const auto& p : pinners_reaching(tag_node(t))) affected.insert(p);
    }
  for (const auto& t : tags)
    if (!current.count(t)) {
      out_[tag_node(t)].insert(source);
      in_[source].insert(tag_node(t));
      for (const auto& p : pinners_reaching(tag_node(t))) affected.insert(p);
    }
  current = tags;
  refresh(affected);
}

void DependencyGraph::set_pin_by_tag(bool pin_by_tag) {
  if (pin_by_tag_ == pin_by_tag) return;
  pin_by_tag_ = pin_by_tag;
  std::set<std::string> all(pinner_nodes_.begin(), pinner_nodes_.end());
  for (const auto& [p, r] : reach_) all.insert(p);
  refresh(all);
}

bool DependencyGraph::pinned(const std::string& source_key) const {
  auto it = pin_count_.find(source_key);
  return it != pin_count_.end() && it->second > 0;
}

std::vector<std::string> DependencyGraph::take_released() {
  std::vector<std::string> out;
  for (auto& s : released_)
    if (!pinned(s)) out.push_back(std::move(s));
  released_.clear();
  return out;
}

std::set<std::string> DependencyGraph::reach_of_consumer(const std::string& consumer_key) const {
  return reach(consumer_node(consumer_key));
}

std::set<std::string> DependencyGraph::reach_of_segment(const std::string& id) const { return reach(segment_node(id)); }

std::vector<DependencyGraph::Pin> DependencyGraph::pins_of(const std::string& source_key) const {
  std::vector<Pin> pins;
  std::string target = source_node(source_key);
  std::vector<std::string> ordered(pinner_nodes_.begin(), pinner_nodes_.end());
  std::sort(ordered.begin(), ordered.end());
  for (const auto& pinner : ordered) {
    auto r = reach_.find(pinner);
    if (r == reach_.end() || !r->second.count(source_key)) continue;
    // Shortest path by BFS with parents.
    std::unordered_map<std::string, std::string> parent{{pinner, ""}};
    std::deque<std::string> queue{pinner};
    while (!queue.empty() && !parent.count(target)) {
      std::string n = queue.front();
      queue.pop_front();
      if (starts_with(n, "source:") || !follows(n, "")) continue;
      auto it = out_.find(n);
      if (it == out_.end()) continue;
      for (const auto& next : it->second)
        if (!parent.count(next)) parent[next] = n, queue.push_back(next);
    }
    Pin pin{pinner, {}};
    for (std::string n = target; !n.empty(); n = parent[n]) pin.path.insert(pin.path.begin(), n);
    pins.push_back(std::move(pin));
  }
  return pins;
}

std::vector<DependencyGraph::Edge> DependencyGraph::edges() const {
  std::vector<Edge> all;
  for (const auto& [from, targets] : out_)
    for (const auto& to : targets) all.push_back({from, to});
  std::sort(all.begin(), all.end(), [](const Edge& a, const Edge& b) { return std::tie(a.from, a.to) < std::tie(b.from, b.to); });
  return all;
}

std::vector<std::string> DependencyGraph::pinners() const {
  std::vector<std::string> p(pinner_nodes_.begin(), pinner_nodes_.end());
  std::sort(p.begin(), p.end());
  return p;
}

std::size_t DependencyGraph::edge_count() const {
  std::size_t n = 0;
  for (const auto& [from, targets] : out_) n += targets.size();
  return n;
}

}  // namespace retarget
