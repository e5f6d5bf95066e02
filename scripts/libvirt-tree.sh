# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash disable=SC2034  # the variables are for the scripts that source this
#
# Shared by scripts/build-libvirt, scripts/check-series-builds and
# scripts/export-patches (sourced, not run): the libvirt release the
# series applies to, the git identity the build uses, and the series
# file's parser.

LV_VERSION=11.3.0
BASE_TAG=v${LV_VERSION}

# A fixed identity and dates: works on a fresh machine with no git config,
# and gives the same commit ids everywhere.
GIT=(git -c user.name="libvirt-power build" -c user.email="build@libvirt-power.invalid"
     -c init.defaultBranch=main -c advice.detachedHead=false -c core.autocrlf=false
     -c commit.gpgsign=false -c tag.gpgsign=false -c advice.addEmbeddedRepo=false)
export GIT_AUTHOR_DATE="2025-05-01T00:00:00+00:00"
export GIT_COMMITTER_DATE="$GIT_AUTHOR_DATE"

# series_patches SERIES_FILE: the patch file names it lists, in order
# ('#' starts a comment; blank lines are skipped).
series_patches() {
    [ -f "$1" ] || return 0
    sed -e 's/^[[:space:]]*#.*//' -e 's/[[:space:]]\+#.*//' \
        -e 's/^[[:space:]]*//' -e 's/[[:space:]]*$//' "$1" | grep -v '^$' || true
}
