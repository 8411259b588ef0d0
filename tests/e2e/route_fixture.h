// A real `surge route` process for end-to-end tests, beside ServeProcess.
#pragma once

#include <string>
#include <vector>

#include "tests/e2e/serve_fixture.h"

namespace surge::e2e {

class RouteProcess : public SurgeProcess {
 public:
  // Starts `surge route --port 0 <args>` and waits until it listens.
  explicit RouteProcess(std::vector<std::string> args);
};

}  // namespace surge::e2e
