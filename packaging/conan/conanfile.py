# Conan 2 recipe for commpress (header-only). Written 2026-11-23; Conan is not installable on the
# project machine, so this recipe is checked by hand at each release (see packaging/README.md).
from conan import ConanFile
from conan.tools.cmake import CMake, cmake_layout
from conan.tools.files import copy


class CommpressConan(ConanFile):
    name = "commpress"
    version = "0.1.0"
    license = "MIT"
    description = "Header-only C++20 compression operators for distributed and federated learning"
    package_type = "header-library"
    settings = "os", "arch", "compiler", "build_type"
    exports_sources = "CMakeLists.txt", "cmake/*", "include/*", "LICENSE"
    no_copy_source = True

    def requirements(self):
        self.requires("xtensor/[>=0.24 <0.26]")
        self.requires("xsimd/[>=8.1 <14]")
        self.requires("xtl/[>=0.7 <0.9]")
        # Random123 has no ConanCenter recipe (checked 2026-11-23): it is found on the system by
        # commpress's FindRandom123.cmake (Debian: librandom123-dev), or declared in the profile's
        # [platform_requires] section.

    def layout(self):
        cmake_layout(self)

    def package_id(self):
        self.info.clear()

    def package(self):
        cmake = CMake(self)
        cmake.configure(variables={"COMMPRESS_BUILD_TESTS": "OFF", "COMMPRESS_BUILD_BENCH": "OFF",
                                   "COMMPRESS_BUILD_EXAMPLES": "OFF"})
        cmake.install()
        copy(self, "LICENSE", self.source_folder, self.package_folder + "/licenses")

    def package_info(self):
        # Consumers get commpress's own config (find_package(commpress CONFIG)), as mp-units does.
        self.cpp_info.set_property("cmake_find_mode", "none")
        self.cpp_info.builddirs.append("share/cmake/commpress")
        self.cpp_info.bindirs = []
        self.cpp_info.libdirs = []
