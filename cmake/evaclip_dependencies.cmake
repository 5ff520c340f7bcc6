# Finds what the header-only library needs (OpenMP, OpenBLAS) and defines evaclip::openblas.
# Included by the project and by the installed evaclipConfig.cmake, so downstream builds resolve the same.
find_package(OpenMP REQUIRED COMPONENTS CXX)

if(NOT TARGET evaclip::openblas)
  find_package(OpenBLAS CONFIG QUIET)
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
