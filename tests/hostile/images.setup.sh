# images.setup.sh: what git cannot hold for images.husky, made in the work folder $1: a folder
# named like a picture, and a data set whose class folders hold every hostile picture, a symlink
# loop, a symlink to a folder, a class folder that is a symlink to itself, next to good pictures.
set -eu
w=$1
mkdir "$w/folder.jpg"
mkdir -p "$w/data/horizontal" "$w/data/vertical"
cp tests/fixtures/stripes/val/horizontal/00.png tests/fixtures/stripes/val/horizontal/01.png "$w/data/horizontal/"
cp tests/fixtures/stripes/val/vertical/00.png "$w/data/vertical/"
cp tests/hostile/files/*.jpg tests/hostile/files/*.png tests/hostile/files/*.gif tests/hostile/files/*.bmp "$w/data/vertical/"
ln -s loop-b.jpg "$w/data/vertical/loop-a.jpg"
ln -s loop-a.jpg "$w/data/vertical/loop-b.jpg"
ln -s .. "$w/data/vertical/up.png"
mkdir "$w/data/vertical/folder.jpg"
ln -s self "$w/data/self"
