// Encoding the compact blocks of sdk/column.hpp (the SDK decodes them).
//
//   auto chunk = encode_values(offsets, values);   // one chunk of a time column
//   chunk->block.for_each(...);
//
// Each encoder picks, per chunk, the smaller user coding (Elias-Fano or a
// bitmap) and the narrowest value width, so a block costs close to the
// entropy of its data while staying exact.
//
// Thread safety: plain functions over their arguments.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "common/attribute_value.hpp"
#include "retarget/sdk/column.hpp"

namespace retarget {

// REQUIRES: offsets strictly ascending, each < kChunkUsers; values parallel;
// at least one entry.
std::shared_ptr<const sdk::ValueChunk> encode_values(std::span<const std::uint32_t> offsets,
                                                     std::span<const std::int64_t> values);
// The same into `out` (cleared first): the block's words.
void encode_values_into(std::span<const std::uint32_t> offsets, std::span<const std::int64_t> values,
                        std::vector<std::uint64_t>& out);

// REQUIRES: as above, `values` one per offset.
std::shared_ptr<const sdk::AttributeChunk> encode_attributes(std::span<const std::uint32_t> offsets,
                                                             std::span<const AttributeValue> values);

// A whole column from users (strictly ascending) and their values, chunk by
// chunk (tests, benchmarks, bulk builds).
template <typename Tag>
std::shared_ptr<const sdk::IntColumn<Tag>> make_int_column(std::span<const sdk::UserIndex> users,
                                                           std::span<const std::int64_t> values) {
  std::vector<typename sdk::IntColumn<Tag>::ChunkPtr> chunks;
  std::vector<std::uint32_t> offsets;
  std::size_t i = 0;
  while (i < users.size()) {
    std::uint32_t c = sdk::chunk_of(users[i]);
    std::size_t j = i;
    offsets.clear();
    while (j < users.size() && sdk::chunk_of(users[j]) == c) offsets.push_back(sdk::offset_in_chunk(users[j++]));
    if (chunks.size() <= c) chunks.resize(c + 1);
    chunks[c] = encode_values(offsets, values.subspan(i, j - i));
    i = j;
  }
  return std::make_shared<const sdk::IntColumn<Tag>>(std::move(chunks));
}
std::shared_ptr<const sdk::UserAttributes> make_attribute_column(std::span<const sdk::UserIndex> users,
                                                                 std::span<const AttributeValue> values);

// A chunk whose words live in `owner` (a file buffer): no copy.
std::shared_ptr<const sdk::ValueChunk> value_chunk_view(std::shared_ptr<const void> owner, const std::uint64_t* words);
std::shared_ptr<const sdk::AttributeChunk> attribute_chunk_view(std::shared_ptr<const void> owner,
                                                                const std::uint64_t* words);

// Decoding a whole chunk (block and delta) into arrays of its effective values.
void decode_values(const sdk::ValueChunk& chunk, std::vector<std::uint32_t>& offsets, std::vector<std::int64_t>& values);
void decode_attributes(const sdk::AttributeChunk& chunk, std::vector<std::uint32_t>& offsets,
                       std::vector<AttributeValue>& values);

// The next version of a chunk after `changes`: (offset, the user's value now;
// kNoTime = no value any more), sorted by offset, one per offset, each with
// whether the user had a value before (`had`). The changes join the chunk's
// delta; when the delta outgrows its block (more than max(min_delta,
// block / 8) entries) it is merged into a new block. nullptr: no user left.
// REQUIRES: changes not empty.
struct IntChange {
  std::uint32_t offset;
  std::int64_t value;
  bool had;
};
std::shared_ptr<const sdk::ValueChunk> edit_chunk(const sdk::ValueChunk* old, const std::vector<IntChange>& changes,
                                                  std::size_t min_delta = 512);
// The chunk with its delta merged into one block (itself when it has none).
std::shared_ptr<const sdk::ValueChunk> compacted(const std::shared_ptr<const sdk::ValueChunk>& chunk);
std::shared_ptr<const sdk::AttributeChunk> compacted(const std::shared_ptr<const sdk::AttributeChunk>& chunk);

struct AttributeChange {
  std::uint32_t offset;
  std::optional<AttributeValue> value;  // nullopt: unset
  bool had;
};
std::shared_ptr<const sdk::AttributeChunk> edit_chunk(const sdk::AttributeChunk* old,
                                                      const std::vector<AttributeChange>& changes,
                                                      std::size_t min_delta = 512);

}  // namespace retarget
