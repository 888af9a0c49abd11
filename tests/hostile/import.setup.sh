#!/bin/sh
# import.setup.sh: the hostile TensorFlow.js models of import.husky, made in the work folder $1,
# plus a model.json over the 16 MiB limit (sparse: no disk used).
set -eu
python3 "$(dirname "$0")/make_import_cases.py" "$1"
mkdir -p "$1/big"
truncate -s 17M "$1/big/model.json"
