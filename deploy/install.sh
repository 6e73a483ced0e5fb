#!/usr/bin/env bash
# Installs lstmd: binaries, systemd units, the default configuration and the bundled model.
#
#   deploy/install.sh [--prefix DIR] [--destdir DIR] [--unit-dir DIR] [--skip-build] [--build-dir DIR]
#
#   --prefix DIR     where binaries and data go (default $PREFIX, else /usr/local):
#                    DIR/bin/{lstmd,lstmctl}, DIR/share/lstmd/{default.safetensors,lstmd.conf.example,
#                    train.recipe,tools/ (Python helpers lstmctl runs),python/ (pip install it)}
#   --destdir DIR    stage everything under DIR (default $DESTDIR; packaging, tests); nothing
#                    outside DIR is touched and systemctl is not run
#   --unit-dir DIR   systemd units (default /etc/systemd/system)
#   --skip-build     use binaries already built (see --build-dir) instead of building
#   --build-dir DIR  where the built binaries are (default .build/release)
#   --allow-dynamic  with --skip-build: accept binaries that need the Swift toolchain at run time
#
# Builds with `swift build -c release --static-swift-stdlib` (so the binaries need no Swift
# toolchain at run time; libzmq5, libsystemd0 and libblis4-serial still come from apt); a
# --skip-build binary that links the Swift runtime dynamically is refused (--allow-dynamic
# installs it anyway, with a warning: only for a machine that keeps that toolchain). The
# configuration /etc/lstmd/lstmd.conf is installed only when missing: an existing one is never
# overwritten (compare it with PREFIX/share/lstmd/lstmd.conf.example). ExecStart= and
# ExecReload= in the units are rewritten to PREFIX/bin. `systemctl daemon-reload` runs only
# without DESTDIR and when systemd is the init system. Running it again is harmless. deploy/uninstall.sh undoes it.
set -euo pipefail

prefix="${PREFIX:-/usr/local}"
destdir="${DESTDIR:-}"
unit_dir="/etc/systemd/system"
build=1
build_dir=""
allow_dynamic=0

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
    case "$1" in
        --prefix) prefix="$2"; shift 2 ;;
        --prefix=*) prefix="${1#*=}"; shift ;;
        --destdir) destdir="$2"; shift 2 ;;
        --destdir=*) destdir="${1#*=}"; shift ;;
        --unit-dir) unit_dir="$2"; shift 2 ;;
        --unit-dir=*) unit_dir="${1#*=}"; shift ;;
        --skip-build) build=0; shift ;;
        --allow-dynamic) allow_dynamic=1; shift ;;
        --build-dir) build_dir="$2"; shift 2 ;;
        --build-dir=*) build_dir="${1#*=}"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
    esac
done
case "$prefix" in /*) ;; *) echo "install.sh: --prefix must be an absolute path, got '$prefix'" >&2; exit 2 ;; esac
case "$unit_dir" in /*) ;; *) echo "install.sh: --unit-dir must be an absolute path, got '$unit_dir'" >&2; exit 2 ;; esac
if [ -n "$destdir" ]; then destdir="$(mkdir -p "$destdir" && cd "$destdir" && pwd)"; fi

root="$(cd "$(dirname "$0")/.." && pwd)"
if [ -z "$build_dir" ]; then build_dir="$root/.build/release"; fi

if [ "$build" = 1 ]; then
    (cd "$root" && swift build -c release --static-swift-stdlib --product lstmd >&2 \
        && swift build -c release --static-swift-stdlib --product lstmctl >&2)
fi
for binary in lstmd lstmctl; do
    if [ ! -x "$build_dir/$binary" ]; then
        echo "install.sh: $build_dir/$binary is missing: build first or drop --skip-build" >&2
        exit 1
    fi
    # The units run the binaries without a Swift toolchain: the Swift runtime must be linked in.
    # (A plain `swift build -c release` after the static one relinks .build/release dynamically.)
    linked="$(ldd "$build_dir/$binary" 2>/dev/null || true)"
    if grep -q 'libswiftCore\.so' <<<"$linked"; then
        runtime="$(grep -m1 'libswiftCore\.so' <<<"$linked" | sed 's/^[[:space:]]*//')"
        if [ "$allow_dynamic" = 1 ]; then
            echo "install.sh: WARNING: $binary links the Swift runtime dynamically ($runtime): it runs only while that toolchain stays" >&2
        else
            echo "install.sh: $build_dir/$binary links the Swift runtime dynamically ($runtime)," >&2
            echo "  so it would not start without that toolchain. Build with" >&2
            echo "  'swift build -c release --static-swift-stdlib', or pass --allow-dynamic to install it anyway." >&2
            exit 1
        fi
    fi
done

bin="$destdir$prefix/bin"
share="$destdir$prefix/share/lstmd"
units="$destdir$unit_dir"
etc="$destdir/etc/lstmd"
install -d -m 0755 "$bin" "$share" "$units" "$etc"

install -m 0755 "$build_dir/lstmd" "$bin/lstmd"
install -m 0755 "$build_dir/lstmctl" "$bin/lstmctl"
install -m 0644 "$root/Sources/Daemon/Resources/default.safetensors" "$share/default.safetensors"
install -m 0644 "$root/deploy/config/lstmd.conf" "$share/lstmd.conf.example"
install -m 0644 "$root/deploy/config/train.recipe" "$share/train.recipe"
# The Python helpers the installed lstmctl runs (bench baselines, reference daemon, exporters,
# format reader) and the Python package (pip install PREFIX/share/lstmd/python), so nothing
# refers back to this checkout.
install -d -m 0755 "$share/tools"
for tool in "$root"/deploy/tools/*.py "$root"/deploy/tools/requirements.txt "$root"/deploy/tools/MODEL_FORMAT.md; do
    if [ -f "$tool" ]; then install -m 0644 "$tool" "$share/tools/"; fi
done
if [ -d "$root/deploy/python" ]; then
    rm -rf "$share/python"
    (cd "$root/deploy" && find python -type f ! -path '*/__pycache__/*' ! -name '*.pyc' ! -path '*.egg-info/*' ! -path 'python/build/*') |
        while read -r file; do install -D -m 0644 "$root/deploy/$file" "$share/$file"; done
fi
for unit in lstmd.service lstmd@.service; do
    sed -e "s#^ExecStart=/usr/local/bin/lstmd#ExecStart=$prefix/bin/lstmd#" \
        -e "s#^ExecReload=/usr/local/bin/lstmctl#ExecReload=$prefix/bin/lstmctl#" "$root/systemd/$unit" > "$units/$unit.tmp"
    chmod 0644 "$units/$unit.tmp"
    mv -f "$units/$unit.tmp" "$units/$unit"
done
if [ -e "$etc/lstmd.conf" ]; then
    echo "install.sh: kept the existing $etc/lstmd.conf (new defaults: $share/lstmd.conf.example)" >&2
else
    install -m 0644 "$root/deploy/config/lstmd.conf" "$etc/lstmd.conf"
fi

# Members of this group may use the control socket (the units' Group=lstmd-control, RuntimeDirectoryMode=0750; not 'lstmd': systemd would then want a static user lstmd too).
if [ -z "$destdir" ] && ! getent group lstmd-control >/dev/null; then
    groupadd --system lstmd-control && echo "install.sh: made the group lstmd-control: its members may use lstmctl on /run/lstmd/control.sock" >&2
fi
if [ -z "$destdir" ] && [ -d /run/systemd/system ] && command -v systemctl >/dev/null; then
    systemctl daemon-reload
fi
echo "installed lstmd into $destdir$prefix (units in $units, configuration in $etc)" >&2
if [ -z "$destdir" ]; then
    echo "start it with: systemctl enable --now lstmd" >&2
fi
