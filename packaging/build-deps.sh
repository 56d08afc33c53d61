#!/usr/bin/env bash
# Installs what proxyd needs from Debian 12's packages (idempotent; run as root).
#   packaging/build-deps.sh          build dependencies: compiler, CMake, libuv, toml++, llhttp, OpenSSL,
#                                    c-ares (DNS discovery of upstream peers), nghttp2 (HTTP/2),
#                                    libxcrypt (filter_auth's crypt_r)
#   packaging/build-deps.sh --test   also what the test suite uses: Catch2, curl, ab, Python,
#                                    headless Chromium, clang (libFuzzer, sanitizers), nginx (the
#                                    static-file comparison; its service is not started), openssl
#                                    (the TLS tests make their certificates with it), testssl.sh
#                                    (grades the default TLS listener), nghttp2-client (h2load and
#                                    nghttp: the h2 client tests, tls_bench.py's handshake cells),
#                                    dnsmasq-base (a real DNS server for the discovery tests; no service),
#                                    python3-h2 (HTTP/2 frames for the h2 tests and
#                                    the h2 conformance suite), faketime (OCSP responses dated
#                                    in the past or future for the stapling test), varnish (its
#                                    varnishtest plays the tests/vtc scripts; no service started)
set -euo pipefail

packages=(build-essential cmake pkg-config libuv1-dev libtomlplusplus-dev node-llhttp libssl-dev libc-ares-dev
  libcrypt-dev libnghttp2-dev)
if [[ ${1:-} == --test ]]; then
  packages+=(catch2 curl apache2-utils python3 netcat-openbsd chromium clang libclang-rt-14-dev nginx openssl testssl.sh
    nghttp2-client dnsmasq-base python3-h2 faketime varnish)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "build-deps: installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  SUDO=""; [[ $(id -u) -eq 0 ]] || SUDO="sudo"
  $SUDO apt-get update -q
  # policy-rc.d keeps Debian's postinst from starting system services (nginx on :80): the tests
  # start their own instances on loopback ports.
  if [[ ! -e /usr/sbin/policy-rc.d ]]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee /usr/sbin/policy-rc.d >/dev/null
    $SUDO chmod +x /usr/sbin/policy-rc.d
    trap '$SUDO rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "build-deps: all packages present"
fi
