// Fuzz target: the JSON Lines event parser (core/src/ingest/event_parser).
// Input: any bytes, split into lines as ingest splits them; each line is
// parsed (padded, as ingest pads it) against the fuzz catalog. A line either
// parses into an event or gets an error sentence: never a crash or a hang.
#include <simdjson.h>

#include <cstdlib>

#include "catalog/catalog.hpp"
#include "fuzz_support.hpp"
#include "ingest/event_parser.hpp"
#include "retarget/config.hpp"

using namespace retarget;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Catalog* catalog = [] {
    auto* c = new Catalog;
    Diagnostics d;
    c->apply_text(fuzz::kCatalog, "catalog.yaml", d);
    if (d.has_errors()) std::abort();
    return c;
  }();
  static EventParser parser(*catalog);
  const std::size_t max_line = Limits{}.max_event_line_bytes;  // ingest refuses longer lines before parsing
  std::string_view all = fuzz::as_text(data, size);
  std::size_t start = 0;
  while (start <= all.size()) {
    std::size_t nl = all.find('\n', start);
    if (nl == std::string_view::npos) nl = all.size();
    std::string_view line = all.substr(start, nl - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.size() <= max_line) {
      simdjson::padded_string padded(line);
      Event ev;
      std::string error;
      bool ok = parser.parse(std::string_view(padded.data(), padded.size()), ev, error);
      if (!ok && error.empty()) std::abort();  // a refusal always says why
      if (ok && ev.user.empty()) std::abort();  // an accepted event names its user
    }
    start = nl + 1;
  }
  return 0;
}
