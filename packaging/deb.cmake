# The Debian package: `cpack -G DEB` in a build folder configured with
#   -DCMAKE_BUILD_TYPE=Release -DCMAKE_INSTALL_PREFIX=/usr
# Included last from the top-level CMakeLists.txt, once every install rule exists.
if(NOT CMAKE_INSTALL_PREFIX STREQUAL "/usr")
  message(STATUS "proxyd: CMAKE_INSTALL_PREFIX is ${CMAKE_INSTALL_PREFIX}; a Debian package wants /usr")
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME proxyd)
set(CPACK_PACKAGE_VENDOR "proxyd developers")
set(CPACK_PACKAGE_CONTACT "proxyd developers <proxyd@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "HTTP/1.1 reverse proxy and load balancer with plugins")
set(CPACK_PACKAGE_DESCRIPTION
    "proxyd is an HTTP/1.1 reverse proxy, load balancer and static file server on libuv. Its
behaviour lives in plugins (.so files) declared in a TOML config: path-prefix routing,
smooth weighted round-robin balancing and static files ship with it. The package holds
the binary, the plugins, ready profiles in /etc/proxyd, their demo sites, a systemd unit
(not enabled), the man page and the plugin SDK (headers, a test host for unit-testing plugins
and the pkg-config file proxyd-plugin).")
# The binary has the plugin folder compiled in: the package must install to the same prefix.
set(CPACK_PACKAGING_INSTALL_PREFIX "${CMAKE_INSTALL_PREFIX}")
set(CPACK_STRIP_FILES ON)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION httpd)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
# dpkg-shlibdeps computes Depends from the binary and plugins: libuv1, libtomlplusplus3, libc6,
# libstdc++6, libgcc-s1 (llhttp is compiled in).
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# libtomlplusplus-dev: the SDK's test host (<proxyd/testing/fake_host.hpp>) reads test configs with it.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "pkg-config, cmake, g++, libtomlplusplus-dev")

# Every file in /etc/proxyd is a conffile: dpkg keeps local edits on upgrade and removes them only on
# purge. The maintainer scripts tell a running systemd about the unit; they do not enable or start
# it, since the shipped profiles are demos on fixed loopback ports.
set(deb_control "${CMAKE_BINARY_DIR}/packaging/debian")
file(CONFIGURE OUTPUT "${deb_control}/conffiles" CONTENT "${PROXYD_CONFFILES}")
foreach(script postinst prerm postrm)
  configure_file("${CMAKE_CURRENT_LIST_DIR}/debian/${script}" "${deb_control}/${script}" COPYONLY)
endforeach()
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${deb_control}/conffiles;${deb_control}/postinst;${deb_control}/prerm;${deb_control}/postrm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)

include(CPack)
