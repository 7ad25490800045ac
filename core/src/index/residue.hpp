// A residue: what the legacy purge keeps of a deleted source's events when it
// rewrites the raw-event blocks without them (lifecycle.md, the legacy
// policy). The interaction data (who did what in the source, when) is gone
// for good; what the spec keeps is kept: the profile summaries the events
// moved forward (per user, with no source attached), the source's analytics
// (counts and distinct recipients / control users), and the events' content
// hashes (so that ingesting the same event again is still a duplicate).
//
// A residue replaces the events of one block and is replayed where they were
// (IndexBuilder::apply_residue): every part of it is a count to add, a set
// to join or a latest time to keep, so replaying it gives the state the
// events gave, minus their facts.
//
// Encoding (a log record of type kResidue, little endian, strings as varint
// length + bytes): format (u32, 1), source, purged events (u64), hashes
// (count, 16 bytes each), users (count, ids), sends, opens, clicks,
// conversions (u64), last_sent (i64), recipients and control (count, user
// numbers as u32), summaries (count; per column: key, count, then user
// number (u32) and time (i64) pairs).
//
// Thread safety: plain values and pure functions.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "catalog/catalog.hpp"
#include "index/hash_set.hpp"
#include "ingest/event.hpp"

namespace retarget {

struct Residue {
  std::string source;                 // the deleted source's key
  std::uint64_t events = 0;           // events purged
  std::vector<HashSet128::Key> hashes;
  std::vector<std::string> users;     // numbered from 0 in the fields below
  std::uint64_t sends = 0, opens = 0, clicks = 0, conversions = 0;
  std::int64_t last_sent = sdk::kNoTime;
  std::vector<std::uint32_t> recipients, control;
  std::map<std::string, std::map<std::uint32_t, std::int64_t>> summaries;  // column key -> user -> latest time
};

std::string encode_residue(const Residue& r);
bool decode_residue(std::string_view in, Residue& r);

// Collects the residue of the events one purge drops from one block.
class ResidueBuilder {
 public:
  explicit ResidueBuilder(std::string source) { r_.source = std::move(source); }
  // `catalog`: the catalog the event was ingested under (canvas control groups).
  void add(const Event& e, const HashSet128::Key& hash, const Catalog& catalog);
  bool empty() const { return r_.events == 0; }
  const Residue& residue() const { return r_; }

 private:
  std::uint32_t user(const std::string& id);
  Residue r_;
  std::unordered_map<std::string, std::uint32_t> numbers_;
  std::map<std::uint32_t, bool> recipients_, control_;
};

}  // namespace retarget
