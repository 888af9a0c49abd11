#!/bin/sh
# quickstart.sh: install the packages, build husky, and train the Husky AI network on the sample
# pictures in data/, then a pretrained MobileNetV2 head (a couple of minutes on 2 cores).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
build/repl/husky scripts/quickstart.husky
