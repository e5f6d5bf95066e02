# SPDX-License-Identifier: LGPL-2.1-or-later
# shellcheck shell=bash
#
# Sourced by scripts/build-libvirt and scripts/check-series-builds: the
# ccache settings for the libvirt builds. meson wraps the compiler in
# ccache when ccache is on PATH (scripts/install-deps installs it). The
# cache lives where ccache keeps it by default (under the user's cache
# directory, so it outlives build/ and a fresh clone on the same machine)
# unless CCACHE_DIR says otherwise. Paths under build/ are hashed relative
# to it, and the working directory not at all, so the series check's
# scratch tree (build/series-check) hits what build/libvirt-src compiled.

export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$ROOT/build}
export CCACHE_NOHASHDIR=${CCACHE_NOHASHDIR:-1}
export CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-4G}
