# `cmake --install` of the C++ package: libonemoe.a, include/onemoe/*.h and a CMake package exporting
# onemoe::onemoe, so that another project writes find_package(onemoe) and target_link_libraries(app onemoe::onemoe).
# Component `cxx`; the Python extension installs as component `python` (python/CMakeLists.txt).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)
set(ONEMOE_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/onemoe")

install(TARGETS onemoe EXPORT onemoeTargets COMPONENT cxx
        ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
        INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")
install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/onemoe" DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}" COMPONENT cxx)
install(EXPORT onemoeTargets NAMESPACE onemoe:: DESTINATION "${ONEMOE_INSTALL_CMAKEDIR}" COMPONENT cxx)
configure_package_config_file("${PROJECT_SOURCE_DIR}/cmake/onemoeConfig.cmake.in"
                              "${PROJECT_BINARY_DIR}/onemoeConfig.cmake"
                              INSTALL_DESTINATION "${ONEMOE_INSTALL_CMAKEDIR}")
write_basic_package_version_file("${PROJECT_BINARY_DIR}/onemoeConfigVersion.cmake"
                                 VERSION "${PROJECT_VERSION}" COMPATIBILITY SameMinorVersion)
install(FILES "${PROJECT_BINARY_DIR}/onemoeConfig.cmake" "${PROJECT_BINARY_DIR}/onemoeConfigVersion.cmake"
              "${PROJECT_SOURCE_DIR}/cmake/onemoe_nccl.cmake"
        DESTINATION "${ONEMOE_INSTALL_CMAKEDIR}" COMPONENT cxx)
