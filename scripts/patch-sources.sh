# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Sourced by scripts/check-patch-sources and scripts/export-patches: the
# files of this repository that the patch series carries into libvirt's
# tree, and where they go there. The repository is their single source.
#
#   remote-protocol/power_protocol.x   -> src/remote/power_protocol.x
#   virsh-ext/*.[ch] (not test_*)      -> tools/
#   libvirt/<path>                     -> <path> (files wholly ours, kept in
#                                         a folder that mirrors libvirt's tree)

# patch_source_pairs ROOT: print "ours theirs" lines (paths relative to
# ROOT and to the libvirt tree).
patch_source_pairs() {
    local root=$1 f base
    echo "remote-protocol/power_protocol.x src/remote/power_protocol.x"
    for f in "$root"/virsh-ext/*.c "$root"/virsh-ext/*.h; do
        [ -e "$f" ] || continue
        base=$(basename "$f")
        case $base in
            test_*) continue ;;   # standalone unit tests, not part of virsh
        esac
        echo "virsh-ext/$base tools/$base"
    done
    if [ -d "$root/libvirt" ]; then
        (cd "$root/libvirt" && find . -type f ! -name '*.md' | sed 's|^\./||' | LC_ALL=C sort) |
            while read -r f; do echo "libvirt/$f $f"; done
    fi
}
