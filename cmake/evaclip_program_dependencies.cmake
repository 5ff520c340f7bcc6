# What the project's own programs (examples, tests) need beyond the library: CLI11 for command lines.
# Not part of the installed package: downstream users of the headers don't need it.
#   CLI11::CLI11   header-only (Debian: libcli11-dev)
find_package(CLI11 CONFIG REQUIRED)
