# check_docs_example.cmake — fails unless the example block of examples/custom_variant.cpp (between its
# "--- the example" and "--- end of the example" lines) appears verbatim in docs/models.md, so that the
# docs show exactly what custom_variant_smoke trains. Run as: cmake -DSOURCE=... -DDOC=... -P this file.
file(READ ${SOURCE} src)
file(READ ${DOC} doc)
string(REGEX MATCH "// --- the example[^\n]*\n(.*)// --- end of the example" found "${src}")
if(NOT found)
  message(FATAL_ERROR "${SOURCE}: no '// --- the example' ... '// --- end of the example' lines")
endif()
string(FIND "${doc}" "${CMAKE_MATCH_1}" at)
if(at EQUAL -1)
  message(FATAL_ERROR "${DOC} does not show the example block of ${SOURCE} verbatim")
endif()
message(STATUS "docs example matches ${SOURCE}")
