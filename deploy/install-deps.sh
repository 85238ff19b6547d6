#!/usr/bin/env bash
# Installs the Debian 12 packages Sluice needs to build and test, if any are missing.
# Idempotent; needs root (or sudo) only when something is missing.
set -euo pipefail
pkgs=(build-essential cmake pkg-config libsqlite3-dev sqlite3 libcurl4-openssl-dev libjansson-dev
      uuid-dev libmicrohttpd-dev libyaml-dev libcmocka-dev jq curl python3 procps tzdata
      clang libclang-rt-14-dev binutils libgrpc-dev libprotobuf-c-dev protobuf-c-compiler
      python3-grpcio python3-grpc-tools)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# libclang-rt-14-dev holds clang's sanitizer and libFuzzer runtimes (only recommended by clang,
# so --no-install-recommends leaves it out); `make fuzz` links libclang_rt.fuzzer from it.
# libgrpc-dev (grpc core's C API, pkg-config grpc/gpr), libprotobuf-c-dev and protobuf-c-compiler
# (protoc-c) build src/rpc and the messages of schema/proto/; no C++ is compiled.
# python3-grpcio and python3-grpc-tools: the Python gRPC client of it.server (stubs generated
# from schema/proto/ in the test; run with /usr/bin/python3, Debian's interpreter).
# Node + npm drive the official Databricks JS SDK in tests (any install of them will do).
command -v node >/dev/null && command -v npm >/dev/null || missing+=(nodejs npm)
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}" >&2
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
