// error.hpp — defines evaclip::Error and EVACLIP_CHECK: one-line, actionable errors.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

namespace evaclip {

// Every failure the library reports is an Error whose message is one line naming the operation and
// the offending file, key or shape, so that programs can print it and exit non-zero.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

template <class... Args>
[[noreturn]] void fail(const Args&... args) {
  std::ostringstream os;
  (os << ... << args);
  throw Error(os.str());
}

}  // namespace evaclip

// EVACLIP_CHECK(cond, "op: ", detail, ...) throws evaclip::Error with the streamed message.
#define EVACLIP_CHECK(cond, ...)                \
  do {                                          \
    if (!(cond)) ::evaclip::fail(__VA_ARGS__);  \
  } while (0)
