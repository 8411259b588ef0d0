#include "tests/e2e/route_fixture.h"

namespace surge::e2e {
namespace {

std::vector<std::string> RouteArgs(std::vector<std::string> args) {
  args.insert(args.begin(), {"route", "--port", "0"});
  return args;
}

}  // namespace

RouteProcess::RouteProcess(std::vector<std::string> args)
    : SurgeProcess(RouteArgs(std::move(args))) {}

}  // namespace surge::e2e
