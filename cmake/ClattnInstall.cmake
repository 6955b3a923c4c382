# Install rules: library, headers (clattn.h, clattn_opencl.h), CMake package (find_package(clattn) -> clattn::clattn) and clattn.pc.
include(CMakePackageConfigHelpers)

set(CLATTN_INSTALL_TARGETS clattn_static)
if(CLATTN_BUILD_SHARED)
  list(APPEND CLATTN_INSTALL_TARGETS clattn_shared)
endif()
install(TARGETS ${CLATTN_INSTALL_TARGETS} EXPORT clattnTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_SOURCE_DIR}/include/clattn.h ${PROJECT_SOURCE_DIR}/include/clattn_opencl.h
              ${PROJECT_SOURCE_DIR}/include/clattn_export.h
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(CLATTN_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/clattn)
install(EXPORT clattnTargets NAMESPACE clattn:: DESTINATION ${CLATTN_CMAKE_DIR})
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/clattnConfig.cmake.in
  ${PROJECT_BINARY_DIR}/clattnConfig.cmake INSTALL_DESTINATION ${CLATTN_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/clattnConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/clattnConfig.cmake ${PROJECT_BINARY_DIR}/clattnConfigVersion.cmake
        DESTINATION ${CLATTN_CMAKE_DIR})

# A relocatable .pc: the prefix is found relative to the installed file (${pcfiledir}).
file(RELATIVE_PATH CLATTN_PC_PREFIX_REL "/${CMAKE_INSTALL_LIBDIR}/pkgconfig" "/")
string(REGEX REPLACE "/$" "" CLATTN_PC_PREFIX_REL "${CLATTN_PC_PREFIX_REL}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/clattn.pc.in ${PROJECT_BINARY_DIR}/clattn.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/clattn.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)

# libclattn_mpi and its header, when built (src/CMakeLists.txt): link it with -lclattn_mpi -lclattn and MPI.
if(TARGET clattn_mpi)
  install(TARGETS clattn_mpi LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
  install(FILES ${PROJECT_SOURCE_DIR}/include/clattn_mpi.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
endif()
