# Run at every build (bench/CMakeLists.txt): writes the commit the sources are at into OUT as ONEMOE_BUILD_COMMIT,
# with "-dirty" when tracked files differ from it, so results name the code that was built, wherever the binary
# runs. The file is rewritten only when that changes, so an unchanged commit recompiles nothing.
execute_process(COMMAND git -C "${SRC}" rev-parse HEAD OUTPUT_VARIABLE sha OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE rc ERROR_QUIET)
if(NOT rc EQUAL 0 OR sha STREQUAL "")
  set(sha "unknown")
else()
  execute_process(COMMAND git -C "${SRC}" diff --quiet HEAD -- RESULT_VARIABLE dirty ERROR_QUIET)
  if(NOT dirty EQUAL 0)
    string(APPEND sha "-dirty")
  endif()
endif()
set(content "#pragma once\n#define ONEMOE_BUILD_COMMIT \"${sha}\"\n")
set(old "")
if(EXISTS "${OUT}")
  file(READ "${OUT}" old)
endif()
if(NOT old STREQUAL content)
  file(WRITE "${OUT}" "${content}")
endif()
