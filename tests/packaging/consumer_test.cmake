# The C++ package as another project sees it: `cmake --install` this build into a fresh prefix, then configure,
# build and link examples/cpp against it with find_package(onemoe), and run its GPU-free host_checks.
#   cmake -DBUILD_DIR=<onemoe build> -DSOURCE_DIR=<examples/cpp> -DWORK_DIR=<scratch> -P consumer_test.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR)
  if(NOT ${var})
    message(FATAL_ERROR "consumer_test.cmake needs -D${var}=...")
  endif()
endforeach()
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "FAIL: ${what} (exit ${rc})\n${out}\n${err}")
  endif()
  message(STATUS "ok: ${what}")
  set(step_output "${out}" PARENT_SCOPE)
endfunction()

file(REMOVE_RECURSE "${WORK_DIR}")
run_step("cmake --install (component cxx)"
         "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${WORK_DIR}/prefix" --component cxx)
run_step("configure the consumer project with find_package(onemoe)"
         "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${WORK_DIR}/build" -G Ninja -DCMAKE_BUILD_TYPE=Release
         "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
run_step("build and link it" "${CMAKE_COMMAND}" --build "${WORK_DIR}/build")
run_step("run host_checks" "${WORK_DIR}/build/host_checks")
message("${step_output}")
