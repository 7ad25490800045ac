// A compact binary encoding of one Event, for the durable store.
// Format (little endian): a version byte (1), then every field in a fixed
// order; strings as varint length + bytes. decode() rejects anything malformed.
#pragma once

#include <string>
#include <string_view>

#include "ingest/event.hpp"

namespace retarget {

void encode_event(const Event& e, std::string& out);
bool decode_event(std::string_view in, Event& e);

}  // namespace retarget
