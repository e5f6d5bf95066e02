#!/usr/bin/env bash
# SPDX-License-Identifier: LGPL-2.1-or-later
#
# apt helpers for libvirt-power.
#
# Sourceable library and CLI:
#
#   . scripts/apt-setup.sh
#   apt_enable_sources          # deb-src + <codename>-backports, idempotent
#   apt_install [-t REL] PKG... # install only what is missing
#
#   scripts/apt-setup.sh sources
#   scripts/apt-setup.sh install [-t REL] PKG...   # sources + install
#
# apt_enable_sources writes one file, /etc/apt/sources.list.d/libvirt-power.sources.
# Nothing in it is hard-coded: URIs, components and Signed-By are copied at
# run time from the machine's existing Debian entries (deb822 *.sources files
# or one-line *.list / sources.list). For every Debian entry without deb-src it
# adds a deb-src twin, and unless the machine already has <codename>-backports
# it adds a "deb deb-src" backports entry beside the main suite.
# `apt-get update` runs only when that file changed or indexes are missing.
#
# Quiet on success; on failure the failing command's log tail is printed.

APT_SETUP_ETC=${APT_SETUP_ETC:-/etc/apt}
APT_SETUP_FILE=${APT_SETUP_FILE:-$APT_SETUP_ETC/sources.list.d/libvirt-power.sources}
APT_SETUP_LOGDIR=${APT_SETUP_LOGDIR:-${TMPDIR:-/tmp}}

_apt_die() {
    echo "apt-setup: error: $*" >&2
    return 1
}

# _apt_sudo CMD...: run as root (directly when already root).
_apt_sudo() {
    if [ "$(id -u)" -eq 0 ]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        _apt_die "need root (or sudo) to run: $*"
    fi
}

# _apt_logged NAME CMD...: run CMD with output in a log; tail it on failure.
_apt_logged() {
    local name=$1 log rc=0
    shift
    log=$(mktemp "$APT_SETUP_LOGDIR/apt-setup-$name.XXXXXX.log")
    _apt_sudo env DEBIAN_FRONTEND=noninteractive "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        {
            echo "apt-setup: FAILED (exit $rc): $*"
            echo "---- last 40 lines of $log ----"
            tail -n 40 "$log"
            echo "----"
        } >&2
        return "$rc"
    fi
    rm -f "$log"
}

_apt_codename() {
    local c=${APT_SETUP_CODENAME:-}
    if [ -z "$c" ] && [ -r /etc/os-release ]; then
        c=$(. /etc/os-release && echo "${VERSION_CODENAME:-}")
    fi
    if [ -z "$c" ] && command -v lsb_release >/dev/null 2>&1; then
        c=$(lsb_release -sc 2>/dev/null || true)
    fi
    [ -n "$c" ] || { _apt_die "cannot determine the Debian codename (set APT_SETUP_CODENAME)"; return 1; }
    echo "$c"
}

# _apt_entries: print the machine's apt entries, one per line, fields
# separated by TAB: types, uris, suites, components, signed-by, architectures.
# Multi-line Signed-By values (inline keys) have newlines encoded as \001.
# Our own file and disabled entries are skipped.
_apt_entries() {
    local f
    for f in "$APT_SETUP_ETC"/sources.list "$APT_SETUP_ETC"/sources.list.d/*.list; do
        [ -f "$f" ] || continue
        awk -v OFS='\t' '
        { sub(/#.*/, "") }
        NF == 0 { next }
        {
            type = $1; i = 2; sb = ""; arch = ""
            if (type != "deb" && type != "deb-src") next
            if ($2 ~ /^\[/) {
                opts = ""
                for (; i <= NF; i++) {
                    opts = opts " " $i
                    if ($i ~ /\]$/) { i++; break }
                }
                gsub(/[\[\]]/, "", opts)
                n = split(opts, o, " ")
                for (j = 1; j <= n; j++) {
                    if (o[j] ~ /^signed-by=/) { sb = o[j]; sub(/^signed-by=/, "", sb) }
                    if (o[j] ~ /^arch=/) { arch = o[j]; sub(/^arch=/, "", arch); gsub(/,/, " ", arch) }
                }
            }
            uri = $i; suite = $(i + 1); comps = ""
            for (j = i + 2; j <= NF; j++) comps = comps (comps == "" ? "" : " ") $j
            print type, uri, suite, comps, sb, arch
        }' "$f"
    done
    for f in "$APT_SETUP_ETC"/sources.list.d/*.sources; do
        [ -f "$f" ] || continue
        [ "$f" = "$APT_SETUP_FILE" ] && continue
        awk -v OFS='\t' '
        function reset() { types = uris = suites = comps = sb = arch = key = ""; enabled = "yes" }
        function flush() {
            if (types != "" && tolower(enabled) != "no")
                print types, uris, suites, comps, sb, arch
            reset()
        }
        BEGIN { reset() }
        /^#/ { next }
        /^[ \t]*$/ { flush(); next }
        /^[ \t]/ {
            v = $0; sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
            if (key == "signed-by") sb = sb "\001" v
            else if (key == "uris") uris = uris " " v
            else if (key == "suites") suites = suites " " v
            else if (key == "components") comps = comps " " v
            else if (key == "types") types = types " " v
            next
        }
        {
            p = index($0, ":"); if (p == 0) next
            key = tolower(substr($0, 1, p - 1)); v = substr($0, p + 1)
            sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v)
            if (key == "types") types = v
            else if (key == "uris") uris = v
            else if (key == "suites") suites = v
            else if (key == "components") comps = v
            else if (key == "signed-by") sb = v
            else if (key == "architectures") arch = v
            else if (key == "enabled") enabled = v
        }
        END { flush() }' "$f"
    done
}

# _apt_is_debian URIS SIGNED_BY: does this look like Debian's archive?
# (Debian's keyring, or a .../debian or .../debian-security path; callers
# also require the suite to be <codename>[-*] and a "main" component.)
_apt_is_debian() {
    local u
    case $2 in *debian-archive-keyring*) return 0 ;; esac
    for u in $1; do
        u=${u%/}
        case ${u##*/} in debian | debian-security) return 0 ;; esac
    done
    return 1
}

# _apt_stanza TYPES URIS SUITES COMPONENTS SIGNED_BY ARCH
_apt_stanza() {
    echo "Types: $1"
    echo "URIs: $2"
    echo "Suites: $3"
    echo "Components: $4"
    [ -n "$6" ] && echo "Architectures: $6"
    if [ -n "$5" ]; then
        # Restore multi-line (inline key) values: continuation lines indented.
        printf 'Signed-By: %s\n' "$5" | sed 's/\x01/\n /g'
    fi
    echo
}

# _apt_render: print the wanted content of $APT_SETUP_FILE.
_apt_render() {
    local codename types uris suites comps sb arch s
    local have_bpo=no base="" out="" want
    codename=$(_apt_codename) || return 1
    local -A have_src=()
    local -a debs=()

    while IFS=$'\t' read -r types uris suites comps sb arch; do
        _apt_is_debian "$uris" "$sb" || continue
        case " $comps " in *" main "*) ;; *) continue ;; esac
        for s in $suites; do
            case $s in "$codename" | "$codename"-*) ;; *) continue ;; esac
            case " $types " in
                *" deb-src "*) have_src["$uris|$s"]=1 ;;
            esac
            case " $types " in
                *" deb "*)
                    debs+=("$uris"$'\t'"$s"$'\t'"$comps"$'\t'"$sb"$'\t'"$arch")
                    [ "$s" = "$codename-backports" ] && have_bpo=yes
                    [ "$s" = "$codename" ] && [ -z "$base" ] &&
                        base="$uris"$'\t'"$comps"$'\t'"$sb"$'\t'"$arch"
                    ;;
            esac
        done
    done < <(_apt_entries)

    if [ ${#debs[@]} -eq 0 ]; then
        _apt_die "no Debian '$codename' entry found in /etc/apt/sources.list{,.d} to copy URIs from"
        return 1
    fi

    echo "# Generated by libvirt-power scripts/apt-setup.sh; copied from this"
    echo "# machine's own Debian entries. Safe to delete."
    echo
    local line
    for line in "${debs[@]}"; do
        IFS=$'\t' read -r uris s comps sb arch <<<"$line"
        [ -n "${have_src["$uris|$s"]:-}" ] && continue
        have_src["$uris|$s"]=1
        _apt_stanza "deb-src" "$uris" "$s" "$comps" "$sb" "$arch"
    done
    if [ "$have_bpo" = no ]; then
        if [ -z "$base" ]; then
            _apt_die "no Debian '$codename' main-suite entry to derive $codename-backports from"
            return 1
        fi
        IFS=$'\t' read -r uris comps sb arch <<<"$base"
        _apt_stanza "deb deb-src" "$uris" "$codename-backports" "$comps" "$sb" "$arch"
    fi
}

# _apt_lists_ok: are indexes present for backports and for deb-src?
_apt_lists_ok() {
    local codename lists=/var/lib/apt/lists
    codename=$(_apt_codename) || return 1
    compgen -G "$lists/*_dists_${codename}-backports_*_binary-*_Packages*" >/dev/null &&
        compgen -G "$lists/*_dists_${codename}_*_source_Sources*" >/dev/null
}

apt_enable_sources() {
    local want changed=no
    want=$(_apt_render) || return 1
    if [ ! -f "$APT_SETUP_FILE" ] || [ "$(cat "$APT_SETUP_FILE")" != "$want" ]; then
        printf '%s\n' "$want" | _apt_sudo tee "$APT_SETUP_FILE.tmp" >/dev/null &&
            _apt_sudo chmod 0644 "$APT_SETUP_FILE.tmp" &&
            _apt_sudo mv -f "$APT_SETUP_FILE.tmp" "$APT_SETUP_FILE" || return 1
        changed=yes
    fi
    if [ "$changed" = yes ] || ! _apt_lists_ok; then
        _apt_logged update apt-get -o DPkg::Lock::Timeout=600 update -qq || return 1
        if ! _apt_lists_ok; then
            _apt_die "apt-get update ran but backports/deb-src indexes are still missing"
            return 1
        fi
    fi
}

# apt_install [-t RELEASE] PKG...: install the packages not yet installed.
apt_install() {
    local -a target=() missing=()
    local p
    if [ "${1:-}" = "-t" ]; then
        target=(-t "$2")
        shift 2
    fi
    for p in "$@"; do
        if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
            missing+=("$p")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    _apt_logged install apt-get -o DPkg::Lock::Timeout=600 install -y -q \
        --no-install-recommends "${target[@]}" "${missing[@]}"
}

_apt_main() {
    set -euo pipefail
    case ${1:-} in
        sources)
            apt_enable_sources
            ;;
        install)
            shift
            [ $# -gt 0 ] || _apt_die "usage: $0 install [-t RELEASE] PKG..."
            apt_enable_sources
            apt_install "$@"
            ;;
        render)
            _apt_render
            ;;
        *)
            echo "usage: $0 sources | install [-t RELEASE] PKG... | render" >&2
            return 2
            ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    _apt_main "$@"
fi
