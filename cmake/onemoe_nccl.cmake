# Finds NCCL with its device API (nccl_device.h, NCCL >= 2.28) and defines the imported target onemoe::nccl.
# Used by the build and, installed beside onemoeConfig.cmake, by find_package(onemoe).
#
# Where it looks: ONEMOE_NCCL_ROOT (a CMake or environment variable) and nowhere else when it is set; otherwise
# the CUDA toolkit, then the system paths (Debian's libnccl-dev puts nccl.h in /usr/include and libnccl.so in
# /usr/lib/x86_64-linux-gnu). A pip package's NCCL (site-packages/nvidia/nccl, which has only libnccl.so.2) is
# accepted as a root too.
# Sets ONEMOE_NCCL_INCLUDE, ONEMOE_NCCL_LIB and ONEMOE_NCCL_VERSION (e.g. 2.28.9); stops with FATAL_ERROR when
# NCCL or its device API is missing. The device API has no ABI compatibility across releases, so the NCCL found
# here must be the one loaded at run time (the library checks that when a DistributedContext is created).
if(TARGET onemoe::nccl)
  return()
endif()
if(NOT ONEMOE_NCCL_ROOT AND DEFINED ENV{ONEMOE_NCCL_ROOT})
  set(ONEMOE_NCCL_ROOT "$ENV{ONEMOE_NCCL_ROOT}")
endif()
if(ONEMOE_NCCL_ROOT)
  find_path(ONEMOE_NCCL_INCLUDE nccl.h PATHS "${ONEMOE_NCCL_ROOT}/include" NO_DEFAULT_PATH)
  find_library(ONEMOE_NCCL_LIB NAMES nccl libnccl.so.2 PATHS "${ONEMOE_NCCL_ROOT}/lib" "${ONEMOE_NCCL_ROOT}/lib64"
               NO_DEFAULT_PATH)
  set(_onemoe_nccl_where "ONEMOE_NCCL_ROOT=${ONEMOE_NCCL_ROOT}")
else()
  find_package(CUDAToolkit QUIET)
  find_path(ONEMOE_NCCL_INCLUDE nccl.h HINTS ${CUDAToolkit_INCLUDE_DIRS})
  find_library(ONEMOE_NCCL_LIB NAMES nccl libnccl.so.2 HINTS ${CUDAToolkit_LIBRARY_DIR})
  set(_onemoe_nccl_where "the CUDA toolkit and the system paths")
endif()
if(NOT ONEMOE_NCCL_INCLUDE OR NOT ONEMOE_NCCL_LIB)
  message(FATAL_ERROR
    "NCCL not found in ${_onemoe_nccl_where} (nccl.h: ${ONEMOE_NCCL_INCLUDE}, libnccl: ${ONEMOE_NCCL_LIB}). "
    "Install it (Debian/Ubuntu: apt-get install libnccl-dev, NCCL >= 2.28 for the device API) or point "
    "-DONEMOE_NCCL_ROOT (or the environment variable) at a directory with include/nccl.h and lib/libnccl.so*; "
    "PyTorch's copy is site-packages/nvidia/nccl. Clear ONEMOE_NCCL_INCLUDE/ONEMOE_NCCL_LIB from the cache after "
    "changing it.")
endif()
if(NOT EXISTS "${ONEMOE_NCCL_INCLUDE}/nccl_device.h")
  message(FATAL_ERROR "NCCL at ${ONEMOE_NCCL_INCLUDE} has no device API (nccl_device.h): onemoe needs NCCL >= 2.28. "
                      "Point -DONEMOE_NCCL_ROOT at a newer NCCL.")
endif()
file(STRINGS "${ONEMOE_NCCL_INCLUDE}/nccl.h" _onemoe_nccl_defs REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
set(ONEMOE_NCCL_VERSION "")
foreach(_part MAJOR MINOR PATCH)
  string(REGEX MATCH "NCCL_${_part} +([0-9]+)" _m "${_onemoe_nccl_defs}")
  list(APPEND ONEMOE_NCCL_VERSION "${CMAKE_MATCH_1}")
endforeach()
list(JOIN ONEMOE_NCCL_VERSION "." ONEMOE_NCCL_VERSION)
add_library(onemoe::nccl UNKNOWN IMPORTED)
set_target_properties(onemoe::nccl PROPERTIES IMPORTED_LOCATION "${ONEMOE_NCCL_LIB}"
                                              INTERFACE_INCLUDE_DIRECTORIES "${ONEMOE_NCCL_INCLUDE}")
