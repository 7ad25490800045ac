// Shared by the fuzz targets (fuzz/README.md): the small catalog they run
// against, and helpers. Each target is one file with LLVMFuzzerTestOneInput.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace retarget::fuzz {

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// The example catalog (examples/data/catalog.yaml) with declared attributes of
// every type: what the events and rules targets validate against.
inline const char* const kCatalog = R"(version: 1
campaigns:
  - id: spring_sale
    name: Spring Sale
    tags: [promo, spring]
    multivariate: true
    variants: [{id: a, name: Variant A}, {id: b, name: Variant B}]
    aliases: [cta, footer]
    status: stopped
    stopped_at: 2026-05-01T00:00:00Z
  - id: summer_launch
    tags: [promo]
    status: active
    recurring: true
canvases:
  - id: onboarding
    tags: [lifecycle]
    variations: [{id: v1, name: Variant 1}, {id: ctl, name: Control, control: true}]
    steps: [{id: welcome, name: Welcome}, {id: day3, name: Day 3}]
    status: active
content_cards:
  - id: card_spring
    status: active
attributes:
  country: string
  lifetime_value: number
  vip: bool
  signed_up_at: time
)";

}  // namespace retarget::fuzz
