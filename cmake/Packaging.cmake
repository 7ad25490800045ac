# The .deb packages, made by `cpack -G DEB` in a build directory configured with
# CMAKE_INSTALL_PREFIX=/usr (every preset is) (the `packages`
# test does it and checks their contents; scripts/package-test.sh installs them
# into a clean Debian 12 root). Two packages, one per install component:
#   retarget      the command, the service (a systemd unit, its own user),
#                 the filter plugins, /etc/retarget/retarget.yaml (a conffile),
#                 libretarget.so.0, the man page and bash completion
#   retarget-dev  headers (engine and plugin SDK), libretarget.so, the static
#                 library, the CMake package and the pkg-config files
# The runtime package's Depends: come from dpkg-shlibdeps (what the binaries
# actually link); the dev package depends on it and on the -dev packages its
# CMake package and static library need.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME retarget)
set(CPACK_PACKAGE_VENDOR "Retarget")
set(CPACK_PACKAGE_CONTACT "Retarget maintainers <retarget@localhost>")
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "rules engine for retargeting segmentation")
set(CPACK_RESOURCE_FILE_LICENSE ${PROJECT_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_COMPONENTS_ALL runtime dev)
set(CPACK_DEB_COMPONENT_INSTALL ON)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION database)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)

set(CPACK_DEBIAN_RUNTIME_PACKAGE_NAME retarget)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_SECTION database)
string(CONCAT CPACK_COMPONENT_RUNTIME_DESCRIPTION
    "Retarget: which users are in this segment, fast, over millions of users\n"
    "The retarget command, the segmentation service (a systemd unit running as "
    "its own user, data in /var/lib/retarget), the filter plugins and the "
    "embeddable engine library libretarget.so.0.")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_DEPENDS "passwd")
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_EXTRA
    ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
    ${PROJECT_SOURCE_DIR}/packaging/debian/prerm ${PROJECT_SOURCE_DIR}/packaging/debian/postrm)
set(CPACK_DEBIAN_RUNTIME_PACKAGE_CONTROL_STRICT_PERMISSION ON)

set(CPACK_DEBIAN_DEV_PACKAGE_NAME retarget-dev)
set(CPACK_DEBIAN_DEV_PACKAGE_SECTION libdevel)
string(CONCAT CPACK_COMPONENT_DEV_DESCRIPTION
    "Retarget: headers, libraries and build files for embedders and plugin authors\n"
    "The engine's and the plugin SDK's headers, libretarget.so and the static "
    "library, find_package(retarget) and pkg-config (retarget, retarget-sdk).")
set(CPACK_DEBIAN_DEV_PACKAGE_DEPENDS
    "retarget (= ${PROJECT_VERSION}), g++ (>= 4:12), cmake (>= 3.25), pkg-config, libyaml-cpp-dev, libtbb-dev, libroaring-dev, libsimdjson-dev, nlohmann-json3-dev, libhowardhinnant-date-dev, libssl-dev, libcpp-httplib-dev, librocksdb-dev, libzstd-dev")
set(CPACK_DEBIAN_DEV_PACKAGE_SHLIBDEPS OFF)
include(CPack)
