// What the binding's files share: the exception every failed onemoe call raises, and config names <-> enums.
#pragma once

#include <stdexcept>
#include <string>

#include "onemoe/onemoe.h"

namespace onemoe::python {

// Raised as onemoe._C.OnemoeError (a RuntimeError); the message starts with the status name.
class OnemoeError : public std::runtime_error {
 public:
  explicit OnemoeError(const Result& r) : std::runtime_error(std::string(status_string(r.status)) + ": " + r.message) {}
};

inline void throw_if_failed(const Result& r) {
  if (!r.ok()) throw OnemoeError(r);
}

}  // namespace onemoe::python
