# xxHash (Debian 12: libxxhash-dev 0.8.1), the digest of the kernel binary cache (src/opencl/cache.c:
# XXH3_128bits, xxHash >= 0.8.0). src/opencl/cache.c uses it header-only (XXH_INLINE_ALL), so libclattn has
# no run-time or link-time dependency on it and installed consumers need nothing: only the build needs
# xxhash.h. Debian ships a pkg-config file (libxxhash.pc) but no CMake package, so this defines the
# INTERFACE target clattn::xxhash (include folder only); pkg-config's answer, when there is one, only
# hints find_path. Defines nothing when xxhash.h is missing or too old; the caller checks the target.
if(NOT TARGET clattn::xxhash)
  find_package(PkgConfig QUIET)
  if(PKG_CONFIG_FOUND)
    pkg_check_modules(CLATTN_PC_XXHASH QUIET libxxhash)
  endif()
  find_path(CLATTN_XXHASH_INCLUDE_DIR xxhash.h HINTS ${CLATTN_PC_XXHASH_INCLUDE_DIRS} ${CLATTN_PC_XXHASH_INCLUDEDIR}
            DOC "Folder of xxhash.h (libxxhash-dev)")
  set(CLATTN_XXHASH_VERSION "")
  if(CLATTN_XXHASH_INCLUDE_DIR AND EXISTS "${CLATTN_XXHASH_INCLUDE_DIR}/xxhash.h")
    file(STRINGS "${CLATTN_XXHASH_INCLUDE_DIR}/xxhash.h" _clattn_xxh_lines
         REGEX "^#[ \t]*define[ \t]+XXH_VERSION_(MAJOR|MINOR|RELEASE)[ \t]+[0-9]+")
    foreach(_part MAJOR MINOR RELEASE)
      string(REGEX REPLACE ".*XXH_VERSION_${_part}[ \t]+([0-9]+).*" "\\1" _clattn_xxh_${_part}
             "${_clattn_xxh_lines}")
    endforeach()
    set(CLATTN_XXHASH_VERSION "${_clattn_xxh_MAJOR}.${_clattn_xxh_MINOR}.${_clattn_xxh_RELEASE}")
    unset(_clattn_xxh_lines)
  endif()
  if(CLATTN_XXHASH_VERSION VERSION_GREATER_EQUAL 0.8.0)
    add_library(clattn::xxhash INTERFACE IMPORTED)
    set_target_properties(clattn::xxhash PROPERTIES
      INTERFACE_INCLUDE_DIRECTORIES "${CLATTN_XXHASH_INCLUDE_DIR}"
      INTERFACE_COMPILE_DEFINITIONS XXH_INLINE_ALL)
  endif()
endif()
