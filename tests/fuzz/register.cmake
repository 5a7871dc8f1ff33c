# The fuzz targets as ctest entries of the MAIN build (fuzz.identifiers, fuzz.matching, and the
# shipped adapters' parsers fuzz.ctf, fuzz.fhir, fuzz.csv, fuzz.openreferral; label "fuzz"). The
# binaries come from the separate clang project in this folder, built by scripts/fuzz-build.sh into
# <build>/fuzz; a missing binary fails the test (it never skips).
#
# This one file has two modes:
#  - included from tests/CMakeLists.txt: registers the tests;
#  - run as `cmake -P register.cmake` by those tests: runs one fuzzer for FUZZ_SECONDS on a scratch
#    corpus seeded from tests/fuzz/corpus/<target>/ (the committed seeds are read, never written).

if(CMAKE_SCRIPT_MODE_FILE)
  # ---- run one fuzzer: FUZZ_NAME, FUZZ_BINARY, FUZZ_SEEDS, FUZZ_WORK, FUZZ_SECONDS, FUZZ_MAX_LEN
  if(NOT EXISTS "${FUZZ_BINARY}")
    message(FATAL_ERROR "${FUZZ_NAME}: fuzz binary ${FUZZ_BINARY} is missing. Build the fuzz targets "
                        "with scripts/fuzz-build.sh (needs clang and libclang-rt-14-dev), then rerun.")
  endif()
  if(NOT IS_DIRECTORY "${FUZZ_SEEDS}")
    message(FATAL_ERROR "${FUZZ_NAME}: seed corpus ${FUZZ_SEEDS} is missing")
  endif()
  # A fresh scratch corpus each run keeps the test hermetic; new units land there, not in the tree.
  file(REMOVE_RECURSE "${FUZZ_WORK}")
  file(MAKE_DIRECTORY "${FUZZ_WORK}/corpus")
  execute_process(
    COMMAND "${FUZZ_BINARY}"
      -max_total_time=${FUZZ_SECONDS} -max_len=${FUZZ_MAX_LEN} -timeout=10 -rss_limit_mb=2048
      -print_final_stats=1 "-artifact_prefix=${FUZZ_WORK}/"
      "${FUZZ_WORK}/corpus" "${FUZZ_SEEDS}"
    RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    file(GLOB artifacts "${FUZZ_WORK}/crash-*" "${FUZZ_WORK}/leak-*" "${FUZZ_WORK}/timeout-*" "${FUZZ_WORK}/oom-*")
    message(FATAL_ERROR "${FUZZ_NAME}: the fuzzer failed (exit ${rc}). Reproducer(s): ${artifacts}. "
                        "Rerun one with: ${FUZZ_BINARY} <file>")
  endif()
  return()
endif()

# ---- register (included from the main build's tests/CMakeLists.txt)
set(ACCORD_FUZZ_DIR "${PROJECT_BINARY_DIR}/fuzz")

# accord_fuzz_test(NAME TARGET MAX_LEN): ctest entry fuzz.NAME running binary TARGET for ~20 s.
function(accord_fuzz_test name target max_len)
  add_test(NAME fuzz.${name}
    COMMAND "${CMAKE_COMMAND}"
      -DFUZZ_NAME=fuzz.${name}
      -DFUZZ_BINARY=${ACCORD_FUZZ_DIR}/${target}
      -DFUZZ_SEEDS=${CMAKE_CURRENT_FUNCTION_LIST_DIR}/corpus/${name}
      -DFUZZ_WORK=${ACCORD_FUZZ_DIR}/work/${name}
      -DFUZZ_SECONDS=20
      -DFUZZ_MAX_LEN=${max_len}
      -P "${CMAKE_CURRENT_FUNCTION_LIST_FILE}")
  set_tests_properties(fuzz.${name} PROPERTIES LABELS fuzz TIMEOUT 120)
endfunction()

accord_fuzz_test(identifiers fuzz_identifiers 128)
accord_fuzz_test(matching fuzz_matching 512)
accord_fuzz_test(ctf fuzz_ctf 65536)
accord_fuzz_test(fhir fuzz_fhir 65536)
accord_fuzz_test(csv fuzz_csv 8192)
accord_fuzz_test(openreferral fuzz_openreferral 65536)
