// A compact binary encoding of events, for the write-ahead log.
// One event (little endian): a version byte (1), then every field in a fixed
// order; strings as varint length + bytes. A batch (one log record): format
// (u32, 1), logged at (i64 ms), count (u32), then per event its content hash
// (2 x u64), length (u32) and bytes. Decoding rejects anything malformed.
//
// Thread safety: pure functions.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "index/hash_set.hpp"
#include "ingest/event.hpp"

namespace retarget {

void encode_event(const Event& e, std::string& out);
bool decode_event(std::string_view in, Event& e);

void encode_event_batch(const std::vector<Event>& events, const std::vector<HashSet128::Key>& hashes,
                        std::int64_t logged_at_ms, std::string& out);
// Calls f(event, hash) for each event of a batch; false when it does not decode.
bool decode_event_batch(std::string_view in, std::int64_t& logged_at_ms,
                        const std::function<void(const Event&, const HashSet128::Key&)>& f);

}  // namespace retarget
