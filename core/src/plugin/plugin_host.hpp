// Loads filter plugins (dlopen) into a FilterRegistry.
//
// Trust is decided before dlopen, because a library's constructors run when it
// is loaded, before any check of its entry point could refuse it.
//
// Each configured directory first: it and every directory above it must be
// owned by root or the running user and not group- or world-writable (above
// the plugin directory, a directory with the sticky bit owned by root or the
// running user, such as /tmp, is accepted); it is then opened, and its files
// are opened relative to that descriptor. Order of checks for each lib*.so of
// the directory (sorted by name, so loading is deterministic):
//   1. trust: opened with O_NOFOLLOW (a symbolic link is refused); that
//      descriptor is a regular file owned by the running user or root, not
//      group- or world-writable; the SHA-256 of what it holds is in the
//      allowlist when one is configured;
//   2. dlopen of that same descriptor ("/proc/self/fd/N") with RTLD_NOW
//      (missing symbols fail here, not mid-evaluation): renaming another file
//      over the name after step 1 does not change what is loaded;
//   3. the entry point `retarget_plugin_entry` exists; its PluginTable's
//      abi_version equals sdk::kAbiVersion (read before anything else);
//   4. the build fingerprint equals the host's (same toolchain);
//   5. metadata: names, parameter specs and examples are well-formed and no
//      filter name is already registered;
//   6. probe: each filter is compiled from its example and evaluated once on
//      an empty index; a profile-level filter that reaches for interaction
//      data, or any filter that throws, is refused.
// A library that fails any check is refused as a whole, with the file and the
// reason recorded (a directory that fails its check: with the directory);
// loading goes on with the others.
#pragma once

#include <string>
#include <vector>

#include "plugin/registry.hpp"

namespace retarget {

struct PluginHostOptions {
  std::vector<std::string> directories;
  std::vector<std::string> sha256_allowlist;  // lower-case hex; empty = none
};

// Fills `registry` (and freezes it).
void load_plugins(const PluginHostOptions& options, FilterRegistry& registry);

// Lower-case hex SHA-256 of a file's contents, or "" when unreadable.
std::string sha256_file(const std::string& path);

}  // namespace retarget
