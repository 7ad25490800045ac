// libretarget.so's own translation unit. Everything the shared library holds
// comes from the static library, linked whole (core/CMakeLists.txt); a shared
// library target needs at least one source of its own, and this is it.
namespace retarget::detail {
extern const char kSharedLibrary[] = "libretarget";
}  // namespace retarget::detail
