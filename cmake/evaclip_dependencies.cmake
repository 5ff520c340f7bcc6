# Finds what the header-only library needs (OpenMP, OpenBLAS, oneDNN, nlohmann_json) and defines evaclip::openblas.
# Included by the project and by the installed evaclipConfig.cmake, so downstream builds resolve the same.
find_package(OpenMP REQUIRED COMPONENTS CXX)
# The CLIP tokenizer (evaclip/text): ICU for NFC, case mapping, character classes and regexes
# (Debian libicu-dev), zlib for the gzip'd vocabulary and the CRC-32 of every tensor in a safetensors file
# (Debian zlib1g-dev).
find_package(ICU REQUIRED COMPONENTS uc i18n data)
find_package(ZLIB REQUIRED)
# Webdataset tar shards (evaclip/data/webdataset.hpp): libarchive (Debian libarchive-dev), target
# LibArchive::LibArchive from CMake's FindLibArchive.
find_package(LibArchive REQUIRED)
find_package(nlohmann_json 3 REQUIRED)  # header-only JSON for the safetensors header (Debian nlohmann-json3-dev)
# Image decoding (evaclip/image/decode.hpp): stb headers + libstb, which already holds the implementations,
# so never define STB_IMAGE_IMPLEMENTATION yourself (Debian: libstb-dev).
if(NOT TARGET evaclip::stb)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(EVACLIP_STB REQUIRED IMPORTED_TARGET stb)
  add_library(evaclip::stb INTERFACE IMPORTED)
  set_target_properties(evaclip::stb PROPERTIES INTERFACE_LINK_LIBRARIES PkgConfig::EVACLIP_STB)
endif()

# oneDNN (Debian: libdnnl-dev, OpenMP runtime) for the float GEMMs: its JIT sgemm matches MKL, 5-25% ahead of
# OpenBLAS on the model's shapes (docs/performance.md). OpenBLAS keeps the double GEMMs (oneDNN has none).
find_package(dnnl CONFIG REQUIRED)

if(NOT TARGET evaclip::openblas)
  # Prefer the OpenMP build of OpenBLAS (Debian: libopenblas-openmp-dev). The pthreads build keeps its own
  # thread pool, which fights OpenMP's for the cores whenever our OpenMP loops and GEMMs alternate
  # (measured: bf16-emulated GEMM 84 vs 212 GFLOP/s on 2 cores). The OpenMP build shares one pool and runs
  # single-threaded inside our parallel regions.
  find_package(OpenBLAS CONFIG QUIET NO_DEFAULT_PATH
               PATHS /usr/lib/${CMAKE_LIBRARY_ARCHITECTURE}/openblas-openmp/cmake/openblas)
  if(NOT OpenBLAS_FOUND)
    find_package(OpenBLAS CONFIG QUIET)
  endif()
  if(OpenBLAS_FOUND)
    add_library(evaclip::openblas INTERFACE IMPORTED)
    set_target_properties(evaclip::openblas PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${OpenBLAS_INCLUDE_DIRS}"
                                                       INTERFACE_LINK_LIBRARIES "${OpenBLAS_LIBRARIES}")
  else()
    set(BLA_VENDOR OpenBLAS)
    find_package(BLAS REQUIRED)
    find_path(EVACLIP_CBLAS_INCLUDE cblas.h PATH_SUFFIXES openblas REQUIRED)
    add_library(evaclip::openblas INTERFACE IMPORTED)
    set_target_properties(evaclip::openblas PROPERTIES INTERFACE_INCLUDE_DIRECTORIES "${EVACLIP_CBLAS_INCLUDE}"
                                                       INTERFACE_LINK_LIBRARIES "${BLAS_LIBRARIES}")
  endif()
endif()
