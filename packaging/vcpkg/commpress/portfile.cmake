# vcpkg port for commpress (header-only). Written 2026-11-23; vcpkg cannot run on the project
# machine, so this port is checked by hand at each release (see packaging/README.md).
set(VCPKG_BUILD_TYPE release)
vcpkg_from_git(OUT_SOURCE_PATH SOURCE_PATH URL "${COMMPRESS_GIT_URL}" REF "${COMMPRESS_GIT_REF}")
vcpkg_cmake_configure(SOURCE_PATH "${SOURCE_PATH}" OPTIONS
    -DCOMMPRESS_BUILD_TESTS=OFF -DCOMMPRESS_BUILD_BENCH=OFF -DCOMMPRESS_BUILD_EXAMPLES=OFF)
vcpkg_cmake_install()
vcpkg_cmake_config_fixup(CONFIG_PATH share/cmake/commpress)
file(REMOVE_RECURSE "${CURRENT_PACKAGES_DIR}/lib" "${CURRENT_PACKAGES_DIR}/debug")
file(INSTALL "${CMAKE_CURRENT_LIST_DIR}/usage" DESTINATION "${CURRENT_PACKAGES_DIR}/share/${PORT}")
vcpkg_install_copyright(FILE_LIST "${SOURCE_PATH}/LICENSE")
