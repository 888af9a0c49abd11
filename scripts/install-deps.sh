#!/bin/sh
# install-deps.sh: install the Debian 12 packages husky builds, runs and is tested with (as root or
# via sudo); clang and its runtime libraries are for the libFuzzer targets (tests/fuzz/run.sh), Open MPI
# for training on several ranks (-Dmpi, tests/mpi); libmicrohttpd and libsodium for serve and model
# signing, nettle for SHA-256, curl and headless Chromium (with its driver and python3-selenium) for the serve tests.
set -eu
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential meson ninja-build pkg-config \
    libreadline-dev libpng-dev libstb-dev libopenblas-dev libjansson-dev nettle-dev gnuplot-nox \
    clang libclang-rt-14-dev libopenmpi-dev openmpi-bin \
    libmicrohttpd-dev libsodium-dev curl chromium chromium-driver python3-selenium
