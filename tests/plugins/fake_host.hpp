// The plugin tests' stand-in core is the SDK's own test host, core/include/proxyd/testing/fake_host.hpp
// (installed as <proxyd/testing/fake_host.hpp>), so what plugin authors test against is what
// proxyd's plugins are tested against. Bare .so names are taken from the build's plugin folder
// (PROXYD_TESTING_PLUGIN_DIR, set in CMakeLists.txt).
#ifndef PROXYD_TESTS_PLUGINS_FAKE_HOST_HPP
#define PROXYD_TESTS_PLUGINS_FAKE_HOST_HPP

#include <proxyd/testing/fake_host.hpp>

namespace proxyd::test {
using namespace proxyd::testing;
} // namespace proxyd::test

#endif
