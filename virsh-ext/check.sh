#!/bin/sh
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# Checks virsh-ext without building libvirt:
#  1. compiles every .c file here with exactly the flags meson uses for
#     tools/virsh-host.c (taken from the build's compile_commands.json,
#     -Werror and libvirt's whole warning set included), against the
#     patched tree in build/libvirt-src;
#  2. builds and runs the unit test of the quantity parser.
#
# Usage: virsh-ext/check.sh   (needs scripts/build-libvirt to have
# configured build/libvirt-build once)
set -eu

here=$(cd "$(dirname "$0")" && pwd)
top=$(dirname "$here")
src="$top/build/libvirt-src"
bld="$top/build/libvirt-build"

if [ ! -f "$bld/compile_commands.json" ]; then
    echo "check.sh: $bld/compile_commands.json missing; run scripts/build-libvirt first" >&2
    exit 1
fi

if ! grep -q virNodeSetFrequency "$src/include/libvirt/libvirt-host.h"; then
    echo "check.sh: $src lacks the node power API (virNodeSetFrequency)" >&2
    exit 1
fi

# The compiler and flags of tools/virsh-host.c, minus its input and output.
cmd=$(python3 - "$bld/compile_commands.json" <<'EOF'
import json, shlex, sys
for entry in json.load(open(sys.argv[1])):
    if entry['file'].endswith('tools/virsh-host.c'):
        args = shlex.split(entry['command'])
        out, skip = [], False
        for a in args:
            if skip:
                skip = False
            elif a in ('-o', '-MQ', '-MF'):
                skip = True
            elif a not in ('-c', '-MD') and not a.endswith('.c'):
                out.append(a)
        print(' '.join(shlex.quote(a) for a in out))
        break
else:
    sys.exit('tools/virsh-host.c not in compile_commands.json')
EOF
)

for f in virsh-host-power.c virsh-completer-power.c virsh-power-units.c test_units.c; do
    echo "compile $f"
    (cd "$bld" && eval "$cmd" -I"$here" -c "$here/$f" -o /dev/null)
done

echo "unit test"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2046
gcc -std=gnu99 -Wall -Wextra -Werror \
    -I"$src" -I"$bld" -I"$src/src" -I"$src/src/util" \
    -I"$src/include" -I"$bld/include" \
    "$here/test_units.c" "$here/virsh-power-units.c" \
    $(pkg-config --cflags --libs glib-2.0) -o "$tmp/test_units"
"$tmp/test_units"
