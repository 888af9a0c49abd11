#!/bin/sh
# fetch-pretrained.sh: reproduce data/pretrained/mobilenet_v2_nsfwjs.hkm from the npm package
# nsfwjs 4.4.0 (MIT). Run once by a maintainer with npm and node; users and CI never need it.
#
#   scripts/fetch-pretrained.sh [HUSKY] [KEEP-DIR]
#
# HUSKY is the husky binary (default build/husky); KEEP-DIR, when given, keeps the converted
# TensorFlow.js files (model.json and its weight shard group1-shard1of1) there (tests/fixtures/make_tfjs_reference.sh
# reads them). The package ships the model as two browserify bundles: model.min.js wraps the model
# JSON as a JavaScript object literal (unquoted keys, !1 for false, numbers like -.87) and
# group1-shard1of1.min.js wraps one base64 string of the weights. The literal is checked to hold
# no calls, then evaluated in an empty node vm context and written as strict JSON.
set -eu
HUSKY=${1:-build/husky}
KEEP=${2:-}
VERSION=4.4.0
ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT="$ROOT/data/pretrained/mobilenet_v2_nsfwjs.hkm"
case $HUSKY in /*) ;; *) HUSKY="$ROOT/$HUSKY" ;; esac
[ -x "$HUSKY" ] || { echo "fetch-pretrained.sh: no husky binary at $HUSKY (build it first)" >&2; exit 1; }

TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
cd "$TMP"
npm pack --silent "nsfwjs@$VERSION" >/dev/null
tar xzf "nsfwjs-$VERSION.tgz" package/LICENSE package/dist/models/mobilenet_v2
SRC=package/dist/models/mobilenet_v2
mkdir model
node - "$SRC/model.min.js" "$SRC/group1-shard1of1.min.js" model <<'JS'
const fs = require('fs');
const vm = require('vm');
const [modelJs, shardJs, outDir] = process.argv.slice(2);

// The object literal assigned in the bundle's only module: a.exports={...}},{}]},{},[1])(1)});
const text = fs.readFileSync(modelJs, 'utf8');
const start = text.indexOf('a.exports={');
const end = text.lastIndexOf('},{}]},{},[1])(1)});');
if (start < 0 || end < start) throw new Error('model.min.js: no a.exports={...} literal found');
const literal = text.slice(start + 'a.exports='.length, end);
// A data literal only: outside strings no parentheses, assignments, template quotes or dots
// followed by a letter (member access); !0 and !1 are the minifier's true and false.
const bare = literal.replace(/"(?:[^"\\]|\\.)*"/g, '""');
if (/[()=`;]|\.[A-Za-z_$]/.test(bare)) throw new Error('model.min.js: the literal holds code, refusing it');
const model = vm.runInNewContext('(' + literal + ')', Object.create(null), {timeout: 1000});
fs.writeFileSync(outDir + '/model.json', JSON.stringify(model));

const shard = fs.readFileSync(shardJs, 'utf8');
const m = /h\.exports="([A-Za-z0-9+\/=]*)"/.exec(shard);
if (!m) throw new Error('group1-shard1of1.min.js: no base64 string found');
const bytes = Buffer.from(m[1], 'base64');
const paths = model.weightsManifest[0].paths;
if (model.weightsManifest.length !== 1 || paths.length !== 1) throw new Error('expected one shard');
fs.writeFileSync(outDir + '/' + paths[0], bytes);
console.log(`model.json ${JSON.stringify(model).length} bytes, ${paths[0]} ${bytes.length} bytes`);
JS
if [ -n "$KEEP" ]; then
    mkdir -p "$KEEP"
    cp model/* "$KEEP/"
    cp package/LICENSE "$KEEP/LICENSE.nsfwjs"
fi
mkdir -p "$(dirname "$OUT")"
cp package/LICENSE "$ROOT/data/pretrained/LICENSE.nsfwjs"
# classes: nsfwjs's own order (dist/cjs/nsfw_classes.js); rescale 1/255 (husky's default) is saved
"$HUSKY" -e "model import model/model.json classes=Drawing,Hentai,Neutral,Porn,Sexy; model save '$OUT'"
sha256sum "$OUT"
