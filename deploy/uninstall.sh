#!/usr/bin/env bash
# Removes what deploy/install.sh installed.
#
#   deploy/uninstall.sh [--prefix DIR] [--destdir DIR] [--unit-dir DIR] [--purge]
#
# Takes the same --prefix/--destdir/--unit-dir as install.sh (and PREFIX/DESTDIR). Without
# DESTDIR and under systemd it first stops and disables lstmd.service and every lstmd@
# instance. The configuration (/etc/lstmd) and the state (/var/lib/lstmd, /var/lib/lstmd-*)
# are kept unless --purge. Running it again is harmless.
set -euo pipefail

prefix="${PREFIX:-/usr/local}"
destdir="${DESTDIR:-}"
unit_dir="/etc/systemd/system"
purge=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --destdir) destdir="$2"; shift 2 ;;
        --destdir=*) destdir="${1#*=}"; shift ;;
        --unit-dir) unit_dir="$2"; shift 2 ;;
        --unit-dir=*) unit_dir="${1#*=}"; shift ;;
        --purge) purge=1; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "uninstall.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) echo "uninstall.sh: --prefix must be an absolute path, got '$prefix'" >&2; exit 2 ;; esac
case "$unit_dir" in /*) ;; *) echo "uninstall.sh: --unit-dir must be an absolute path, got '$unit_dir'" >&2; exit 2 ;; esac
# Canonical spellings: no trailing slashes (so "/usr/local/" is /usr/local), DESTDIR "/" is none.
strip() { local path="$1"; while [ "${#path}" -gt 1 ] && [ "${path%/}" != "$path" ]; do path="${path%/}"; done; printf '%s' "$path"; }
prefix="$(strip "$prefix")"
unit_dir="$(strip "$unit_dir")"
destdir="$(strip "$destdir")"
if [ "$destdir" = "/" ]; then destdir=""; fi

under_systemd=0
if [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    under_systemd=1
    systemctl disable --now lstmd.service >/dev/null 2>&1 || true
    for instance in $(systemctl list-units --all --plain --no-legend 'lstmd@*' 2>/dev/null | awk '{print $1}'); do
        systemctl disable --now "$instance" >/dev/null 2>&1 || true
    done
fi

rm -f "$destdir$prefix/bin/lstmd" "$destdir$prefix/bin/lstmctl"
rm -rf "$destdir$prefix/share/lstmd"
rm -f "$destdir$unit_dir/lstmd.service" "$destdir$unit_dir/lstmd@.service"
# The directories install.sh creates, when nothing else is left in them. Under a staging DESTDIR
# their empty parents go too, up to DESTDIR itself; on a real system only a prefix of lstmd's own
# (at least two levels deep, e.g. /opt/lstmd) is tidied, never /usr/local/bin and the like.
remove_empty_chain() {
    local directory="$1" stop="$2"
    while [ -n "$directory" ] && [ "$directory" != "$stop" ] && [ "$directory" != "/" ]; do
        rmdir "$directory" 2>/dev/null || break
        directory="$(dirname "$directory")"
    done
}
if [ -n "$destdir" ]; then
    for wants in "$destdir$unit_dir"/*.wants; do
        if [ -d "$wants" ]; then rmdir "$wants" 2>/dev/null || true; fi
    done
    for directory in "$prefix/bin" "$prefix/share" "$unit_dir"; do remove_empty_chain "$destdir$directory" "$destdir"; done
else
    case "$prefix" in
        /usr|/usr/local|/opt|/) ;;
        /*/*) for directory in "$prefix/bin" "$prefix/share" "$prefix"; do rmdir "$directory" 2>/dev/null || true; done ;;
    esac
fi
# Enablement links left behind (e.g. by instances enabled but not loaded).
if [ -d "$destdir$unit_dir" ]; then
    find "$destdir$unit_dir" -mindepth 2 -maxdepth 2 -type l \( -name 'lstmd.service' -o -name 'lstmd@*.service' \) -delete
fi

# What is left of configuration and state (DynamicUser= keeps state in /var/lib/private/NAME,
# with /var/lib/NAME a symlink to it).
kept=()
for path in "$destdir/etc/lstmd" "$destdir"/var/lib/lstmd "$destdir"/var/lib/lstmd-* "$destdir"/var/lib/private/lstmd "$destdir"/var/lib/private/lstmd-*; do
    if [ -e "$path" ] || [ -L "$path" ]; then kept+=("$path"); fi
done
if [ "$purge" = 1 ]; then
    for path in "${kept[@]}"; do rm -rf "$path"; done
    if ((${#kept[@]})); then
        echo "removed lstmd, its configuration and its state (${kept[*]})" >&2
    else
        echo "removed lstmd (there was no configuration or state)" >&2
    fi
    if [ -n "$destdir" ]; then
        for directory in /etc /var/lib/private /var/lib; do remove_empty_chain "$destdir$directory" "$destdir"; done
    fi
elif ((${#kept[@]})); then
    echo "removed lstmd; kept ${kept[*]} (--purge removes them)" >&2
else
    echo "removed lstmd (there was no configuration or state to keep)" >&2
fi

if [ "$under_systemd" = 1 ]; then
    systemctl daemon-reload
fi
