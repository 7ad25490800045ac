# retarget_add_plugin(<target> <sources>...): a filter plugin library built the
# way the engine loads it: hidden visibility (only the entry point exported),
# no undefined symbols, named lib<target>.so. Out of tree, use it after
# find_package(retarget); the engine must be built with the same compiler.
function(retarget_add_plugin target)
  add_library(${target} MODULE ${ARGN})
  target_link_libraries(${target} PRIVATE retarget::sdk)
  set_target_properties(${target} PROPERTIES PREFIX "lib" CXX_VISIBILITY_PRESET hidden VISIBILITY_INLINES_HIDDEN ON)
  if(RETARGET_PLUGIN_DIR)
    set_target_properties(${target} PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${RETARGET_PLUGIN_DIR})
  endif()
  # (Not in a fuzz build: clang's sanitizer runtimes live in the executable,
  # so an instrumented plugin has undefined __asan_* / __sanitizer_* symbols.)
  if(NOT RETARGET_FUZZ)
    target_link_options(${target} PRIVATE -Wl,--no-undefined)
  endif()
  target_compile_features(${target} PRIVATE cxx_std_20)
endfunction()
