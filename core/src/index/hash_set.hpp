// A set of 128-bit content hashes: open addressing with linear probing in one
// flat array (16 bytes a slot, at most 3/4 full). Every stored event has an
// entry, so this replaces a node-based set that cost a heap allocation and
// ~40 bytes per event.
//
// Thread safety: none; the event store serialises writers.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace retarget {

class HashSet128 {
 public:
  struct Key {
    std::uint64_t a = 0, b = 0;  // `a` must already be well mixed: it picks the slot
    bool operator==(const Key& o) const { return a == o.a && b == o.b; }
  };

  // Returns false when the key was present already.
  bool insert(const Key& k) {
    if (is_empty(k)) return insert_empty_key();
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    std::size_t i = slot_of(k);
    while (!is_empty(slots_[i])) {
      if (slots_[i] == k) return false;
      i = (i + 1) & (slots_.size() - 1);
    }
    slots_[i] = k;
    ++size_;
    return true;
  }

  bool contains(const Key& k) const {
    if (is_empty(k)) return has_empty_key_;
    if (slots_.empty()) return false;
    for (std::size_t i = slot_of(k); !is_empty(slots_[i]); i = (i + 1) & (slots_.size() - 1))
      if (slots_[i] == k) return true;
    return false;
  }

  std::size_t size() const { return size_ + (has_empty_key_ ? 1 : 0); }
  // Calls f(key) for every key (no order).
  template <typename F>
  void for_each(F&& f) const {
    if (has_empty_key_) f(Key{});
    for (const Key& k : slots_)
      if (!is_empty(k)) f(k);
  }
  void reserve(std::size_t n) {
    while ((n + 1) * 4 > slots_.size() * 3) grow();
  }
  std::size_t memory_bytes() const { return slots_.capacity() * sizeof(Key); }

 private:
  // The all-zero key marks an empty slot; should a real key be all zero, a flag holds it.
  static bool is_empty(const Key& k) { return k.a == 0 && k.b == 0; }
  bool insert_empty_key() {
    if (has_empty_key_) return false;
    has_empty_key_ = true;
    return true;
  }
  std::size_t slot_of(const Key& k) const { return static_cast<std::size_t>(k.a) & (slots_.size() - 1); }
  void grow() {
    std::vector<Key> old;
    old.swap(slots_);
    slots_.assign(old.empty() ? 1024 : old.size() * 2, Key{});
    for (const Key& k : old)
      if (!is_empty(k)) {
        std::size_t i = slot_of(k);
        while (!is_empty(slots_[i])) i = (i + 1) & (slots_.size() - 1);
        slots_[i] = k;
      }
  }

  std::vector<Key> slots_;  // size: 0 or a power of two
  std::size_t size_ = 0;    // non-empty keys in slots_
  bool has_empty_key_ = false;
};

}  // namespace retarget
