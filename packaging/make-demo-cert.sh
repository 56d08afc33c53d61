#!/usr/bin/env bash
# Makes the self-signed certificate the TLS demo profile (conf.d/tls.toml) serves: ECDSA P-256,
# subjectAltName localhost and 127.0.0.1, valid 30 days, in conf.d/demo-tls/ (git-ignored: no private
# key is ever committed). Does nothing while the one there is valid for another day; makes a new
# one otherwise. The key is readable by its owner only.
#   bash packaging/make-demo-cert.sh [FOLDER]      # default: conf.d/demo-tls beside this script
# Trust it for one command: curl --cacert conf.d/demo-tls/demo.crt https://127.0.0.1:18443/
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
folder=${1:-$root/conf.d/demo-tls}
cert=$folder/demo.crt
key=$folder/demo.key

if [[ -s $cert && -s $key ]] && openssl x509 -checkend 86400 -noout -in "$cert" >/dev/null 2>&1; then
  echo "make-demo-cert: $cert is valid for more than a day; keeping it"
  exit 0
fi
command -v openssl >/dev/null || { echo "make-demo-cert: the openssl command is needed (apt-get install openssl)" >&2; exit 1; }
mkdir -p "$folder"
chmod 700 "$folder"
umask 077
# Written beside and renamed, so a running proxyd never reloads half a pair.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 30 \
  -subj "/CN=proxyd demo" -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth" \
  -keyout "$key.new" -out "$cert.new" 2>/dev/null
chmod 644 "$cert.new"
mv -f "$key.new" "$key"
mv -f "$cert.new" "$cert"
echo "make-demo-cert: wrote $cert and $key (self-signed, localhost and 127.0.0.1, 30 days)"
