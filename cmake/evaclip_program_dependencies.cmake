# What the project's own programs (examples, tests) need beyond the library: CLI11 for command lines
# and stb for image files. Not part of the installed package: downstream users of the headers don't need them.
#   CLI11::CLI11   header-only (Debian: libcli11-dev)
#   evaclip::stb   stb headers (#include <stb_image.h>) + libstb, which already holds the implementations,
#                  so never define STB_IMAGE_IMPLEMENTATION yourself (Debian: libstb-dev)
find_package(CLI11 CONFIG REQUIRED)
if(NOT TARGET evaclip::stb)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(EVACLIP_STB REQUIRED IMPORTED_TARGET stb)
  add_library(evaclip::stb INTERFACE IMPORTED)
  set_target_properties(evaclip::stb PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::EVACLIP_STB)
endif()
