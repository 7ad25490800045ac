#include "index/column_file.hpp"

#include <cstring>

#include "index/column_codec.hpp"

namespace retarget {
namespace {

constexpr char kMagic[4] = {'R', 'T', 'C', 'L'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderWords = 3, kEntryWords = 3;

template <typename T>
void put(std::string& s, T v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename Chunk, typename Words>
std::string serialize(std::uint32_t kind, const std::vector<std::shared_ptr<const Chunk>>& chunks, Words words_of) {
  std::vector<std::pair<std::uint32_t, std::shared_ptr<const Chunk>>> present;
  for (std::uint32_t c = 0; c < chunks.size(); ++c)
    if (chunks[c]) present.emplace_back(c, compacted(chunks[c]));
  std::string out;
  out.append(kMagic, 4);
  put<std::uint32_t>(out, kVersion);
  put<std::uint32_t>(out, kind);
  put<std::uint32_t>(out, static_cast<std::uint32_t>(chunks.size()));
  put<std::uint32_t>(out, static_cast<std::uint32_t>(present.size()));
  put<std::uint32_t>(out, 0);
  std::uint64_t at = kHeaderWords + kEntryWords * present.size();
  for (const auto& [c, chunk] : present) {
    auto [ptr, n] = words_of(*chunk);
    put<std::uint32_t>(out, c);
    put<std::uint32_t>(out, 0);
    put<std::uint64_t>(out, at);
    put<std::uint64_t>(out, n);
    at += n;
  }
  for (const auto& [c, chunk] : present) {
    auto [ptr, n] = words_of(*chunk);
    out.append(reinterpret_cast<const char*>(ptr), n * 8);
  }
  return out;
}

struct Entry {
  std::uint32_t chunk;
  const std::uint64_t* words;
  std::uint64_t count;
};

// Parses the header and chunk table, checking every range against the buffer.
Result<std::vector<Entry>> parse(const storage::FileBuffer& b, std::uint32_t want_kind, std::uint32_t& slots,
                                 const std::string& where) {
  auto bad = [&](const std::string& why) { return Status::IoError(where + ": " + why); };
  const std::uint64_t total_words = b.size() / 8;
  if (b.size() % 8 != 0 || total_words < kHeaderWords) return bad("not a column (bad size)");
  if (std::memcmp(b.data(), kMagic, 4) != 0) return bad("not a column (bad magic)");
  std::uint32_t version, kind, present;
  std::memcpy(&version, b.data() + 4, 4);
  std::memcpy(&kind, b.data() + 8, 4);
  std::memcpy(&slots, b.data() + 12, 4);
  std::memcpy(&present, b.data() + 16, 4);
  if (version != kVersion) return bad("column format version " + std::to_string(version));
  if (kind != want_kind) return bad("a column of another kind");
  if (present > slots || slots > (1u << 16)) return bad("a bad chunk count");
  if (kHeaderWords + kEntryWords * std::uint64_t{present} > total_words) return bad("a truncated chunk table");
  const auto* w = reinterpret_cast<const std::uint64_t*>(b.data());
  std::vector<Entry> out;
  std::int64_t last = -1;
  for (std::uint32_t i = 0; i < present; ++i) {
    const std::uint64_t* e = w + kHeaderWords + kEntryWords * i;
    std::uint32_t c = static_cast<std::uint32_t>(e[0] & 0xffffffffu);
    std::uint64_t off = e[1], n = e[2];
    if (c >= slots || static_cast<std::int64_t>(c) <= last) return bad("chunks out of order");
    if (off > total_words || n > total_words - off || n < sdk::kValueBlockHeaderWords) return bad("a chunk outside the column");
    last = c;
    out.push_back({c, w + off, n});
  }
  return out;
}

// A block's own idea of its size must fit the words it was given.
bool value_block_fits(const std::uint64_t* words, std::uint64_t n) {
  sdk::ValueBlockHeader h;
  std::memcpy(&h, words, sizeof h);
  if (h.count == 0 || h.count > sdk::kChunkUsers || h.value_bits > 64 || h.low_bits > 16) return false;
  if (h.user_coding == sdk::ValueBlockHeader::kBitmap && h.high_words != sdk::kChunkWords) return false;
  if (h.user_coding > 1) return false;
  return sdk::ValueBlock(words).word_count() <= n;
}

template <typename Tag>
Result<std::shared_ptr<const sdk::IntColumn<Tag>>> load_int(std::shared_ptr<const storage::FileBuffer> bytes,
                                                            const std::string& where) {
  std::uint32_t slots = 0;
  auto entries = parse(*bytes, 0, slots, where);
  if (!entries.ok()) return entries.status();
  std::vector<typename sdk::IntColumn<Tag>::ChunkPtr> chunks(slots);
  for (const auto& e : *entries) {
    if (!value_block_fits(e.words, e.count)) return Status::IoError(where + ": chunk " + std::to_string(e.chunk) + " is damaged");
    chunks[e.chunk] = value_chunk_view(bytes, e.words);
  }
  return std::make_shared<const sdk::IntColumn<Tag>>(std::move(chunks));
}

}  // namespace

std::string serialize_column(const sdk::UserTimes& column) {
  return serialize<sdk::ValueChunk>(0, column.chunks(), [](const sdk::ValueChunk& c) {
    return std::pair<const std::uint64_t*, std::uint64_t>(c.main().words(), c.main().word_count());
  });
}
std::string serialize_column(const sdk::UserCounts& column) {
  return serialize<sdk::ValueChunk>(0, column.chunks(), [](const sdk::ValueChunk& c) {
    return std::pair<const std::uint64_t*, std::uint64_t>(c.main().words(), c.main().word_count());
  });
}
std::string serialize_column(const sdk::UserAttributes& column) {
  return serialize<sdk::AttributeChunk>(1, column.chunks(), [](const sdk::AttributeChunk& c) {
    return std::pair<const std::uint64_t*, std::uint64_t>(c.main().words(), c.main().bytes() / 8);
  });
}

Result<std::shared_ptr<const sdk::UserTimes>> load_time_column(std::shared_ptr<const storage::FileBuffer> bytes,
                                                               const std::string& where) {
  return load_int<sdk::TimeTag>(std::move(bytes), where);
}
Result<std::shared_ptr<const sdk::UserCounts>> load_count_column(std::shared_ptr<const storage::FileBuffer> bytes,
                                                                 const std::string& where) {
  return load_int<sdk::CountTag>(std::move(bytes), where);
}

Result<std::shared_ptr<const sdk::UserAttributes>> load_attribute_column(
    std::shared_ptr<const storage::FileBuffer> bytes, const std::string& where) {
  std::uint32_t slots = 0;
  auto entries = parse(*bytes, 1, slots, where);
  if (!entries.ok()) return entries.status();
  std::vector<sdk::UserAttributes::ChunkPtr> chunks(slots);
  for (const auto& e : *entries) {
    sdk::AttributeBlockHeader h;
    std::memcpy(&h, e.words, sizeof h);
    std::uint64_t need = sdk::kAttributeBlockHeaderWords + h.codes_words +
                         (std::uint64_t{h.dictionary_size} * sizeof(sdk::AttributeEntry) + h.text_bytes + 7) / 8;
    bool ok = h.codes_words < e.count && need <= e.count &&
              value_block_fits(e.words + sdk::kAttributeBlockHeaderWords, h.codes_words);
    if (ok) {
      sdk::AttributeBlock block(e.words);
      // Every code must name a dictionary entry and every entry's text lie in the block.
      std::uint32_t n = block.dictionary_size();
      if (block.codes().max_value() >= n || block.codes().min_value() < 0) ok = false;
      for (std::uint32_t k = 0; ok && k < n; ++k) {
        sdk::AttributeEntry en;
        std::memcpy(&en, reinterpret_cast<const char*>(e.words + sdk::kAttributeBlockHeaderWords + h.codes_words) +
                             std::size_t{k} * sizeof en, sizeof en);
        if (en.text_offset + en.text_length > h.text_bytes || en.type > 2) ok = false;
      }
    }
    if (!ok) return Status::IoError(where + ": chunk " + std::to_string(e.chunk) + " is damaged");
    chunks[e.chunk] = attribute_chunk_view(bytes, e.words);
  }
  return std::make_shared<const sdk::UserAttributes>(std::move(chunks));
}

}  // namespace retarget
