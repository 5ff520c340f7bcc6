# Install rules and the package config: find_package(evaclip) gives evaclip::evaclip.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/evaclip DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS evaclip EXPORT evaclipTargets)
install(EXPORT evaclipTargets NAMESPACE evaclip:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/evaclip)
configure_package_config_file(cmake/evaclipConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/evaclipConfig.cmake
                              INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/evaclip)
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/evaclipConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion ARCH_INDEPENDENT)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/evaclipConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/evaclipConfigVersion.cmake
              cmake/evaclip_dependencies.cmake
        DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/evaclip)
