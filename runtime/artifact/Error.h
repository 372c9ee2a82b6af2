//===- Error.h - The one error type of the runtime ---------------*- C++
//-*-===//
//
// Every problem the runtime reports (a bad artifact, file, argument or
// tensor) is an Error whose message is for people: it names the file, the
// tensor or the argument and what is wrong, so that callers can print it
// as is.
//
//===----------------------------------------------------------------------===//
#ifndef NSL_RUNTIME_ARTIFACT_ERROR_H
#define NSL_RUNTIME_ARTIFACT_ERROR_H

#include <stdexcept>

namespace nsl::runtime {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

} // namespace nsl::runtime

#endif // NSL_RUNTIME_ARTIFACT_ERROR_H
