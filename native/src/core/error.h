// Engine-wide error type. Every failure inside the engine is an EngineError (or a subclass) with a message
// that names what went wrong; the Node binding turns it into a JS Error. No other exception type is thrown.
#pragma once
#include <stdexcept>
#include <string>

namespace sovren {

class EngineError : public std::runtime_error {
 public:
  explicit EngineError(const std::string& message) : std::runtime_error(message) {}
};

}  // namespace sovren
