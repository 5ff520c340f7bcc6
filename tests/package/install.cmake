# cmake -DBUILD_DIR=<build> -DPREFIX=<prefix> -P install.cmake
# A fresh install of evaclip into PREFIX (the setup step of the package ctests).
file(REMOVE_RECURSE "${PREFIX}")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${PREFIX}" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install ${BUILD_DIR} --prefix ${PREFIX} failed (${rc})")
endif()
foreach(f include/evaclip/evaclip.hpp ${CMAKE_INSTALL_LIBDIR}/cmake/evaclip/evaclipConfig.cmake)
  file(GLOB found "${PREFIX}/${f}")
  if(NOT found)
    message(FATAL_ERROR "the install lacks ${PREFIX}/${f}")
  endif()
endforeach()
