// Parses JSON Lines events with simdjson and validates them against the catalog.
//
// Thread safety: one EventParser per thread (it owns a simdjson parser).
#pragma once

#include <simdjson.h>

#include <string>
#include <string_view>

#include "catalog/catalog.hpp"
#include "ingest/event.hpp"

namespace retarget {

class EventParser {
 public:
  explicit EventParser(const Catalog& catalog) : catalog_(catalog) {}

  // Parses one line. REQUIRES: at least simdjson::SIMDJSON_PADDING readable
  // bytes after line.end(). On failure returns false and sets `error` to a
  // plain sentence naming the field ("field 'time': not an RFC 3339 time").
  bool parse(std::string_view line, Event& out, std::string& error);

 private:
  const Catalog& catalog_;
  simdjson::dom::parser parser_;
};

}  // namespace retarget
