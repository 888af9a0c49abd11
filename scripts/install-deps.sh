#!/bin/sh
# install-deps.sh: install the Debian 12 packages husky builds and runs with (as root or via sudo).
set -eu
SUDO=
[ "$(id -u)" = 0 ] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends \
    build-essential meson ninja-build pkg-config \
    libreadline-dev libpng-dev libstb-dev libopenblas-dev gnuplot-nox \
    libopenmpi-dev openmpi-bin
