// Fuzz target: catalog files (Catalog::apply_text), applied over the fuzz
// catalog (the upsert path) and then read back through every accessor the
// engine uses. Errors leave the catalog unchanged; nothing crashes or hangs.
#include <cstdlib>

#include "catalog/catalog.hpp"
#include "fuzz_support.hpp"

using namespace retarget;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static const Catalog* base = [] {
    auto* c = new Catalog;
    Diagnostics d;
    c->apply_text(fuzz::kCatalog, "base.yaml", d);
    if (d.has_errors()) std::abort();
    return c;
  }();
  std::string text(fuzz::as_text(data, size));
  for (int round = 0; round < 2; ++round) {  // a fresh catalog, then over the base one
    Catalog c = round == 0 ? Catalog() : *base;
    Diagnostics d;
    c.apply_text(text, "catalog.yaml", d);
    (void)d.to_string();
    for (const auto& tag : c.tags()) (void)c.sources_with_tag(tag);
    for (const auto& [id, campaign] : c.campaigns()) {
      (void)c.campaign_info(campaign);
      for (const auto& v : campaign.variants) (void)campaign.variant(v.id);
    }
    for (const auto& [id, canvas] : c.canvases()) {
      (void)c.canvas_info(canvas);
      for (const auto& s : canvas.steps) (void)canvas.step(s.id);
      for (const auto& v : canvas.variations) (void)canvas.variation(v.id);
    }
    for (const auto& [name, type] : c.attribute_types()) (void)c.attribute_type(name);
    (void)c.campaign_ids();
    (void)c.canvas_ids();
  }
  return 0;
}
