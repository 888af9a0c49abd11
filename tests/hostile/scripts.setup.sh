# scripts.setup.sh: hostile scripts for scripts.husky, made in the work folder $1: one that sources
# itself, one with a 10 MB line, one with a NUL byte, a folder named like a script.
set -eu
w=$1
printf 'echo deeper\nsource %s/self.husky\n' "$w" > "$w/self.husky"
{
    printf 'echo before the long line\necho '
    head -c 10485760 /dev/zero | tr '\0' 'x'
    printf '\necho after the long line\n'
} > "$w/long.husky"
printf 'echo before\necho a\000b\necho after\n' > "$w/nul.husky"
mkdir "$w/folder.husky"
