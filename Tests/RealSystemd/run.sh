#!/usr/bin/env bash
# The real-systemd operations test: boots Debian 12 with systemd 252 as PID 1 in a
# systemd-nspawn container and drives the installed lstmd exactly as an operator would, with
# systemctl, journalctl, lstmctl and deploy/{install,uninstall}.sh.
#
#   sudo Tests/RealSystemd/run.sh [--keep] [--prepare-only]
#
# Needs root with CAP_SYS_ADMIN (a container boot); installs systemd-container and debootstrap
# with apt when missing. Where the machine cannot boot a container it prints why and exits 0
# (skipped). The Debian tree (debootstrap --variant=minbase, ~2.5 min, ~300 MB) is cached in
# $LSTMD_SYSTEMD_CACHE (default /var/tmp/lstmd-systemd) and reused by later runs; the container
# boots with --volatile=overlay, so the cached tree is never modified. The release build
# (static Swift stdlib) is made by deploy/install.sh itself on the host, then installed inside
# the container by the same script with --skip-build. --keep leaves the work directory (logs,
# journal) for a look afterwards; --prepare-only makes the cached tree and exits.
#
# Steps (each timed; the first failure prints the unit's journal and exits 1):
#   start (READY before `systemctl start` returns), control socket, /healthz, labels flow,
#   reload to a new model (labels carry its version when reload returns), reload of a corrupt
#   model (reload fails, the old model serves), watchdog restart of a stalled loop, state kept
#   across a restart (DynamicUser + StateDirectory), stop within the drain bound, structured
#   journal lines, two instances side by side, CURVE keys as the README makes them (an allowed
#   key streams and gets labels, an unknown one is refused and counted), uninstall (and --purge).
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cache="${LSTMD_SYSTEMD_CACHE:-/var/tmp/lstmd-systemd}"
packages="systemd,systemd-sysv,dbus,procps,python3,libzmq5,libblis4-serial,libsystemd0"
# The tree is keyed on the package list, so a changed list makes a new one.
tree="$cache/bookworm-minbase-$(printf '%s' "$packages" | cksum | cut -d' ' -f1)"
keep=0
prepare_only=0
for argument in "$@"; do
    case "$argument" in
        --keep) keep=1 ;;
        --prepare-only) prepare_only=1 ;;
        *) echo "usage: $0 [--keep] [--prepare-only]" >&2; exit 2 ;;
    esac
done

skip() { echo "real-systemd test: SKIPPED: $*"; exit 0; }
[ "$(id -u)" = 0 ] || skip "needs root (a container boot)"
# CAP_SYS_ADMIN is bit 21 of the effective set.
capabilities=$((16#$(awk '/^CapEff/ {print $2}' /proc/self/status)))
(( (capabilities >> 21) & 1 )) || skip "needs CAP_SYS_ADMIN to boot a container"
[ -d /sys/fs/cgroup ] || skip "no cgroup file system"

if ! command -v systemd-nspawn >/dev/null || ! command -v debootstrap >/dev/null; then
    echo "installing systemd-container debootstrap" >&2
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd-container debootstrap >/dev/null
fi

started_at=$(date +%s.%N)
report=()
elapsed() { awk -v a="$1" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }'; }
note() { echo "real-systemd test: $*" >&2; }

# --- the Debian tree, once per machine ---------------------------------------------------------
mkdir -p "$cache"
exec 9>"$cache/lock"
flock 9  # one debootstrap at a time; later runs reuse the tree
if [ ! -e "$tree.complete" ]; then
    t0=$(date +%s.%N)
    mirror="$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)"
    [ -n "$mirror" ] || mirror="http://deb.debian.org/debian"
    rm -rf "$tree"
    note "debootstrap bookworm (minbase) from $mirror into $tree"
    debootstrap --variant=minbase --include="$packages" \
        bookworm "$tree" "$mirror" > "$cache/debootstrap.log" 2>&1 \
        || { tail -20 "$cache/debootstrap.log" >&2; echo "debootstrap failed" >&2; exit 1; }
    touch "$tree.complete"
    report+=("debootstrap: $(elapsed "$t0") s")
else
    report+=("debootstrap: cached ($tree)")
fi
flock -u 9
if [ $prepare_only = 1 ]; then echo "real-systemd test: tree ready in $tree"; exit 0; fi

# --- the release build, made by the real installer ----------------------------------------------
work="$(mktemp -d /var/tmp/lstmd-systemd-run.XXXXXX)"
chmod 0755 "$work"
# Cleanup on any exit: power the container off, remove its cgroups, keep the logs on failure.
machine="lstmd-ci-$$"
nspawn_pid=""
ct_pid=""
cleanup() {
    local status=$?
    if [ -n "$ct_pid" ] && kill -0 "$ct_pid" 2>/dev/null; then
        if [ $status -ne 0 ]; then
            nsenter -t "$ct_pid" -a journalctl --no-pager -n 200 -u 'lstmd*' > "$work/journal-on-failure.log" 2>&1 || true
            echo "---- journal (last lines) ----" >&2; tail -60 "$work/journal-on-failure.log" >&2 || true
        fi
        nsenter -t "$ct_pid" -a systemctl poweroff --no-block >/dev/null 2>&1 || true
    fi
    if [ -n "$nspawn_pid" ]; then
        for _ in $(seq 1 300); do kill -0 "$nspawn_pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$nspawn_pid" 2>/dev/null || true
        wait "$nspawn_pid" 2>/dev/null || true
    fi
    for hierarchy in /sys/fs/cgroup/ /sys/fs/cgroup/*/; do
        [ -d "$hierarchy$machine" ] || continue
        find "$hierarchy$machine" -depth -type d -exec rmdir {} + 2>/dev/null || true
    done
    if [ $keep = 1 ] || [ $status -ne 0 ]; then
        echo "real-systemd test: logs kept in $work" >&2
    else
        rm -rf "$work"
    fi
    exit $status
}
trap cleanup EXIT
trap 'exit 130' INT TERM
t0=$(date +%s.%N)
note "deploy/install.sh --destdir (release build, static Swift stdlib)"
"$root/deploy/install.sh" --destdir "$work/stage" > "$work/install-host.log" 2>&1 \
    || { tail -30 "$work/install-host.log" >&2; echo "install.sh (host build) failed" >&2; exit 1; }
report+=("release build + staged install: $(elapsed "$t0") s")
build_dir="$(cd "$root/.build/release" && pwd -P)"
lstmctl_host="$build_dir/lstmctl"

# A second model (a few epochs on BasicMotions: another version) and a corrupt one.
t0=$(date +%s.%N)
"$lstmctl_host" train --train "$root/Tests/LSTMTrainingTests/Fixtures/BasicMotions_TRAIN.ts" \
    --epochs 2 --seed 7 --out "$work/new.safetensors" --report "$work/new.report.html" > "$work/train.log" 2>&1 \
    || { tail -20 "$work/train.log" >&2; echo "lstmctl train failed" >&2; exit 1; }
head -c 2000 "$work/new.safetensors" > "$work/corrupt.safetensors"
chmod 0644 "$work"/*.safetensors
report+=("second model trained: $(elapsed "$t0") s")

# --- boot ---------------------------------------------------------------------------------------

t0=$(date +%s.%N)
(
    # A cgroup of its own for the container's systemd: in every hierarchy on a v1/hybrid host
    # (as here), in the single tree on a pure cgroup2 host.
    if [ -e /sys/fs/cgroup/cgroup.procs ]; then hierarchies=(/sys/fs/cgroup/); else hierarchies=(/sys/fs/cgroup/*/); fi
    for hierarchy in "${hierarchies[@]}"; do
        [ -e "${hierarchy}cgroup.procs" ] || continue
        mkdir -p "$hierarchy$machine" 2>/dev/null && echo $BASHPID > "$hierarchy$machine/cgroup.procs" 2>/dev/null || true
    done
    exec systemd-nspawn -D "$tree" --volatile=overlay --register=no --keep-unit -M "$machine" -b \
        --console=read-only --system-call-filter=bpf --private-network \
        --bind-ro="$root:/src" --bind-ro="$work:/work"
) > "$work/console.log" 2>&1 &
nspawn_pid=$!

# The container's PID 1 is the nspawn process's `systemd` child.
for _ in $(seq 1 300); do
    ct_pid="$(pgrep -P "$nspawn_pid" -x systemd || true)"
    [ -n "$ct_pid" ] && nsenter -t "$ct_pid" -m test -S /run/systemd/private 2>/dev/null && break
    kill -0 "$nspawn_pid" 2>/dev/null || { cat "$work/console.log" >&2; echo "the container did not boot" >&2; exit 1; }
    ct_pid=""
    sleep 0.1
done
[ -n "$ct_pid" ] || { tail -30 "$work/console.log" >&2; echo "no systemd in the container after 30 s" >&2; exit 1; }

# Runs a command inside the container with a clean environment (as root, as an operator would).
ct() { nsenter -t "$ct_pid" -a env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 "$@"; }
state="$(timeout 60 nsenter -t "$ct_pid" -a systemctl is-system-running --wait 2>/dev/null || true)"
report+=("boot: $(elapsed "$t0") s (system $state)")

failures=0
step_start=0
step() { current_step="$1"; step_start=$(date +%s.%N); note "-- $1"; }
pass() { report+=("ok   $current_step: $(elapsed "$step_start") s${1:+ ($1)}"); }
fail() { report+=("FAIL $current_step: $*"); note "FAIL $current_step: $*"; print_report; exit 1; }
print_report() {
    echo "real-systemd test report (total $(elapsed "$started_at") s):"
    for line in "${report[@]}"; do echo "  $line"; done
}
expect() { "$@" || fail "expected: $*"; }
# Waits (polling an observable state, bounded) until "$@" succeeds.
wait_for() {
    local seconds=$1; shift
    local deadline; deadline=$(awk -v s="$seconds" -v n="$(date +%s.%N)" 'BEGIN { printf "%.3f", n + s }')
    until "$@"; do
        awk -v d="$deadline" -v n="$(date +%s.%N)" 'BEGIN { exit !(n < d) }' || return 1
        sleep 0.1
    done
}
show() { ct systemctl show -p "$2" --value "$1"; }
control="ipc:///run/lstmd/control.sock"
bm_test=/src/Tests/LSTMTrainingTests/Fixtures/BasicMotions_TEST.ts
new_version="$("$lstmctl_host" inspect --json "$work/new.safetensors" | python3 -c 'import json,sys; print(json.load(sys.stdin)["version"])')"

# Sends one sample at a time on fresh streams until a subscriber has `count` labels from the
# `prefix` streams (PUB/SUB joins asynchronously: a label published before the subscription
# reaches the daemon is not seen), then prints the versions those labels carry.
labels_from() {
    local publish=$1 ingest=$2 prefix=$3 count=$4 control=${5:-ipc:///run/lstmd/control.sock}
    local out="$work/labels-$prefix.json"
    ct lstmctl listen --endpoint "$publish" --stream "$prefix" --json --count "$count" --timeout 30 > "$out" 2>"$out.err" &
    local listener=$!
    local i=0
    while kill -0 "$listener" 2>/dev/null && [ $i -lt 100 ]; do
        i=$((i + 1))
        ct lstmctl send --endpoint "$ingest" --control "$control" --stream "$prefix-$i" --data "$bm_test" --samples 1 > /dev/null 2>>"$out.err" \
            || { cat "$out.err" >&2; kill "$listener" 2>/dev/null; return 1; }
        sleep 0.1
    done
    wait "$listener" || { cat "$out.err" >&2; return 1; }
    # Every send reported that the daemon took all its frames.
    [ "$(grep -c "lstmd accepted all 10 frames" "$out.err")" = "$i" ] || { cat "$out.err" >&2; return 1; }
    python3 -c 'import json, sys; print(" ".join(sorted({json.loads(l)["model_version"] for l in open(sys.argv[1]) if l.strip()})))' "$out"
}

# --- install ------------------------------------------------------------------------------------
step "install.sh --skip-build inside the container"
ct /src/deploy/install.sh --skip-build --build-dir "/src/.build/release" > "$work/install.log" 2>&1 \
    || { cat "$work/install.log" >&2; fail "install.sh exited non-zero"; }
expect ct test -x /usr/local/bin/lstmd
expect ct test -f /etc/systemd/system/lstmd.service
ct sh -c '! ldd /usr/local/bin/lstmd | grep -q libswift' || fail "the installed lstmd links the Swift runtime dynamically"
pass

# --- start: READY, control, healthz, labels -----------------------------------------------------
step "systemctl start lstmd (returns after READY)"
ct systemctl start lstmd || fail "systemctl start lstmd failed"
# Type=notify: start returned, so READY=1 was sent; the sockets are bound by then.
status_json="$(ct lstmctl status --endpoint "$control" --json)" || fail "lstmctl status over $control failed right after start"
expect [ "$(show lstmd ActiveState)" = active ]
expect [ "$(show lstmd SubState)" = running ]
default_version="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])["model"]["version"])' "$status_json")"
pass "model $default_version"

step "control: root and the group lstmd-control get in, other users do not"
expect ct getent group lstmd-control
expect [ "$(ct stat -c '%a %G' /run/lstmd)" = "750 lstmd-control" ]
expect [ "$(ct stat -c '%a' /run/lstmd/control.sock)" = 660 ]
ct useradd --no-create-home --groups lstmd-control lstmd-operator 2>/dev/null || true
ct setpriv --reuid=lstmd-operator --regid=lstmd-operator --init-groups lstmctl status --endpoint "$control" --timeout 5 >/dev/null \
    || fail "a member of the group lstmd-control cannot use lstmctl status"
if ct setpriv --reuid=65534 --regid=65534 --clear-groups lstmctl status --endpoint "$control" --timeout 2 >/dev/null 2>&1; then
    fail "uid 65534 (not in the group) reached the control socket"
fi
pass

step "/healthz says ready"
health="$(ct python3 -c 'import urllib.request; print(urllib.request.urlopen("http://127.0.0.1:9464/healthz", timeout=5).read().decode().strip())')" \
    || fail "/healthz did not answer"
expect [ "$health" = ready ]
pass

step "labels flow for frames sent with lstmctl send"
versions="$(labels_from tcp://127.0.0.1:5556 tcp://127.0.0.1:5555 flow 3)" || fail "no labels"
expect [ "$versions" = "$default_version" ]
pass


# --- reload ---------------------------------------------------------------------------------------
step "systemctl reload with a new model: labels carry its version when reload returns"
ct install -m 0644 /work/new.safetensors /etc/lstmd/model.safetensors
ct sh -c 'printf "model = /etc/lstmd/model.safetensors\n" >> /etc/lstmd/lstmd.conf'
ct systemctl reload lstmd || fail "systemctl reload lstmd failed"
serving="$(ct lstmctl status --endpoint "$control" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["version"])')"
expect [ "$serving" = "$new_version" ]
versions="$(labels_from tcp://127.0.0.1:5556 tcp://127.0.0.1:5555 reloaded 3)" || fail "no labels after reload"
expect [ "$versions" = "$new_version" ]
pass "model $new_version"

step "systemctl reload with a corrupt model fails; the old model keeps serving"
ct install -m 0644 /work/corrupt.safetensors /etc/lstmd/model.safetensors
if ct systemctl reload lstmd > "$work/reload-corrupt.log" 2>&1; then fail "systemctl reload succeeded with a corrupt model"; fi
expect [ "$(show lstmd ActiveState)" = active ]
versions="$(labels_from tcp://127.0.0.1:5556 tcp://127.0.0.1:5555 corrupt 3)" || fail "no labels after a refused reload"
expect [ "$versions" = "$new_version" ]
ct journalctl --no-pager -u lstmd -b -o cat | grep -q "reload refused" || fail "the refusal is not in the journal"
ct install -m 0644 /work/new.safetensors /etc/lstmd/model.safetensors
pass

# --- watchdog -------------------------------------------------------------------------------------
# Stalls the serving loop (the debug hook) under WatchdogSec=3s and measures the time from the
# stall to the restarted daemon being active. $1: extra [Service] lines for the drop-in.
watchdog_restart() {
    ct mkdir -p /etc/systemd/system/lstmd.service.d
    ct sh -c "printf '[Service]\nWatchdogSec=3s\nEnvironment=LSTMD_DEBUG_STALL_AFTER_MS=1000\n$1' > /etc/systemd/system/lstmd.service.d/stall.conf"
    ct systemctl daemon-reload
    local timeouts_before aborts_before
    timeouts_before="$(ct journalctl --no-pager -u lstmd -b -o cat | grep -c "Watchdog timeout" || true)"
    aborts_before="$(ct journalctl --no-pager -u lstmd -b -o cat | grep -c "status=6/ABRT" || true)"
    ct systemctl restart lstmd || fail "restart with the stall drop-in failed"
    first_pid="$(show lstmd MainPID)"
    wait_for 20 ct sh -c "journalctl --no-pager -u lstmd -b -o cat _PID=$first_pid | grep -q 'stalling the serving loop'" \
        || fail "the stall hook did not fire"
    local stalled_at restarted_at
    stalled_at="$(ct journalctl --no-pager -u lstmd -b -o short-unix _PID="$first_pid" | awk '/stalling the serving loop/ {print $1; exit}')"
    wait_for 25 ready_again || fail "not restarted 25 s after the stall (MainPID $(show lstmd MainPID))"
    restarted_at="$(ct date +%s.%N)"
    restart_s="$(awk -v a="$stalled_at" -v b="$restarted_at" 'BEGIN { printf "%.1f", b - a }')"
    [ "$(ct journalctl --no-pager -u lstmd -b -o cat | grep -c "Watchdog timeout" || true)" -gt "$timeouts_before" ] \
        || fail "systemd did not log a watchdog timeout"
    # SIGABRT ended it (not the SIGKILL that follows TimeoutAbortSec when the handler spins).
    [ "$(ct journalctl --no-pager -u lstmd -b -o cat | grep -c "status=6/ABRT" || true)" -gt "$aborts_before" ] \
        || fail "the process did not end by SIGABRT: $(ct journalctl --no-pager -u lstmd -b -o cat | grep 'Main process exited' | tail -1)"
    awk -v s="$restart_s" 'BEGIN { exit !(s <= 3 + 6) }' || fail "restart took $restart_s s after the stall (WatchdogSec=3s)"
    ct rm -f /etc/systemd/system/lstmd.service.d/stall.conf
    ct systemctl daemon-reload
    ct systemctl reset-failed lstmd 2>/dev/null || true
    ct systemctl restart lstmd || fail "restart without the stall drop-in failed"
}
ready_again() {
    local pid; pid="$(show lstmd MainPID)"
    [ "$pid" != 0 ] && [ "$pid" != "$first_pid" ] && [ "$(show lstmd ActiveState)" = active ]
}

step "watchdog restarts a stalled daemon within WatchdogSec + a few seconds"
watchdog_restart ""
pass "stall → active again: $restart_s s, WatchdogSec=3s"
report+=("     watchdog restart: $restart_s s after the loop stalled (WatchdogSec=3s, RestartSec=2s)")

# A control: the unit without SWIFT_BACKTRACE=enable=no (lstmd restores SIGABRT's default action
# itself). Whether the static build's backtracer would spin without that is not shown here.
step "watchdog restart without SWIFT_BACKTRACE=enable=no in the unit"
watchdog_restart "UnsetEnvironment=SWIFT_BACKTRACE\n"
pass "stall → active again: $restart_s s"
report+=("     watchdog restart, unit without SWIFT_BACKTRACE: $restart_s s after the stall")

# --- state across a restart -----------------------------------------------------------------------
step "DynamicUser/StateDirectory state survives a restart (lstmctl reload --model)"
# A control reload may only load from model_directory (the store, /etc/lstmd/models).
ct install -d -m 0755 /etc/lstmd/models
ct install -m 0644 /work/new.safetensors /etc/lstmd/models/chosen.safetensors
if ct lstmctl reload --endpoint "$control" --model /etc/lstmd/lstmd.conf > "$work/confined.txt" 2>&1; then
    fail "a control reload read a file outside model_directory"
fi
grep -q "model_directory" "$work/confined.txt" || fail "the refusal does not name model_directory: $(cat "$work/confined.txt")"
ct sed -i 's#^model = .*#model = /usr/local/share/lstmd/default.safetensors#' /etc/lstmd/lstmd.conf
ct systemctl reload lstmd || fail "reload back to the default model failed"
ct lstmctl reload --endpoint "$control" --model /etc/lstmd/models/chosen.safetensors > /dev/null || fail "lstmctl reload --model failed"
# The audit line, with its peer (root over the ipc socket) as a journal field.
wait_for 10 ct sh -c "journalctl --no-pager -u lstmd -b -o verbose | grep -q 'PEER=uid 0 gid'" \
    || fail "no audit line with the peer in the journal"
expect ct test -f /var/lib/private/lstmd/model-choice.json
ct systemctl restart lstmd || fail "restart failed"
serving="$(ct lstmctl status --endpoint "$control" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["version"])')"
[ "$serving" = "$new_version" ] || fail "after a restart the daemon serves $serving, not the chosen $new_version"
ct systemctl reload lstmd || fail "systemctl reload failed"
serving="$(ct lstmctl status --endpoint "$control" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["version"])')"
[ "$serving" = "$new_version" ] || fail "systemctl reload undid the operator's choice ($serving)"
pass

# --- retraining -----------------------------------------------------------------------------------
step "retraining under the hardened unit: label, retrain --wait, a verdict, worker at SCHED_IDLE"
ct lstmctl label --data /src/Tests/LSTMTrainingTests/Fixtures/BasicMotions_TRAIN.ts --endpoint tcp://127.0.0.1:5555 \
    --control "$control" > "$work/label.log" 2>&1 || fail "lstmctl label failed: $(tail -3 "$work/label.log")"
grep -q "stored 40 of 40" "$work/label.log" || fail "lstmctl label: $(cat "$work/label.log")"
ct lstmctl retrain --wait --json --endpoint "$control" --timeout 300 > "$work/retrain.json" 2> "$work/retrain.err" \
    || fail "lstmctl retrain failed: $(tail -5 "$work/retrain.err") $(cat "$work/retrain.json")"
verdict="$(python3 -c 'import json,sys; r=json.load(open(sys.argv[1])); assert r["train_windows"] > 0, r; print(("promoted" if r["promoted"] else "rejected") + ": " + r["reason"] + ", %.1f s" % r["duration_s"])' "$work/retrain.json")" \
    || fail "unexpected retrain result: $(cat "$work/retrain.json")"
ct sh -c 'cat /var/lib/private/lstmd/jobs/*/worker.log' > "$work/worker.log" 2>&1 || true
grep -q "priority SCHED_IDLE, nice 19" "$work/worker.log" || fail "the worker did not lower its priority: $(head -3 "$work/worker.log")"
pass "$verdict"

# --- stop ---------------------------------------------------------------------------------------
step "systemctl stop exits 0 within the drain bound"
t_stop=$(date +%s.%N)
ct systemctl stop lstmd || fail "systemctl stop failed"
stop_s="$(elapsed "$t_stop")"
expect [ "$(show lstmd Result)" = success ]
expect [ "$(show lstmd ExecMainStatus)" = 0 ]
awk -v s="$stop_s" 'BEGIN { exit !(s < 10) }' || fail "stop took $stop_s s"
pass "$stop_s s"

step "journalctl -u lstmd holds structured lines"
ct journalctl --no-pager -u lstmd -b -o json > "$work/journal.json"
python3 - "$work/journal.json" <<'EOF' || fail "structured fields missing"
import json, sys
entries = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
mine = [e for e in entries if e.get("SYSLOG_IDENTIFIER") == "lstmd"]
assert mine, "no entries from lstmd"
assert all("PRIORITY" in e for e in mine)
assert any(e.get("MODEL_VERSION") for e in mine), "no MODEL_VERSION field"
assert any(e.get("PRIORITY") == "5" for e in mine), "no notice-level entry"
assert any(e.get("PRIORITY") == "3" for e in mine), "no error-level entry (the refused reload)"
EOF
pass

step "no spurious errors in the journal (thread priority, address family)"
journal="$(ct journalctl --no-pager -b -o cat _COMM=lstmd)"
if grep -q "Failed to set thread priority" <<<"$journal"; then fail "libdispatch logged: $(grep -m1 'Failed to set thread priority' <<<"$journal")"; fi
if grep -qi "Address family not supported" <<<"$journal"; then fail "libzmq: address family refused"; fi
pass

# --- two instances --------------------------------------------------------------------------------
step "lstmd@a and lstmd@b side by side with their own configs"
ct sh -c 'printf "ingest = tcp://127.0.0.1:5600\npublish = tcp://127.0.0.1:5601\nmetrics = 127.0.0.1:9470\n" > /etc/lstmd/a.conf'
ct sh -c 'printf "ingest = tcp://127.0.0.1:5610\npublish = tcp://127.0.0.1:5611\nmetrics = 127.0.0.1:9471\nmodel = /etc/lstmd/model.safetensors\n" > /etc/lstmd/b.conf'
ct systemctl start lstmd@a lstmd@b || fail "starting the instances failed"
version_a="$(ct lstmctl status --endpoint ipc:///run/lstmd-a/control.sock --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["version"])')"
version_b="$(ct lstmctl status --endpoint ipc:///run/lstmd-b/control.sock --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["model"]["version"])')"
expect [ "$version_a" = "$default_version" ]
expect [ "$version_b" = "$new_version" ]
expect [ "$(labels_from tcp://127.0.0.1:5601 tcp://127.0.0.1:5600 a 2 ipc:///run/lstmd-a/control.sock)" = "$default_version" ]
expect [ "$(labels_from tcp://127.0.0.1:5611 tcp://127.0.0.1:5610 b 2 ipc:///run/lstmd-b/control.sock)" = "$new_version" ]
ct systemctl reload lstmd@a || fail "systemctl reload lstmd@a failed"
ct systemctl stop lstmd@a lstmd@b || fail "stopping the instances failed"
pass

# --- CURVE ----------------------------------------------------------------------------------------
# Keys made exactly as the README's "Authentication (CURVE)" section says; lstmd@c runs as a
# dynamic user in the group lstmd-control and must read server.key_secret through that group.
step "CURVE under the unit: an allowed key streams and gets labels, an unknown key gets nothing and is counted"
ct install -d -m 0750 -g lstmd-control /etc/lstmd/curve
ct lstmctl keygen --out /etc/lstmd/curve/server > /dev/null || fail "keygen (server) failed"
ct chgrp lstmd-control /etc/lstmd/curve/server.key_secret
ct chmod 0640 /etc/lstmd/curve/server.key_secret
gw_key="$(ct lstmctl keygen --out /root/gw1)" || fail "keygen (client) failed"
ct lstmctl keygen --out /root/intruder > /dev/null || fail "keygen (intruder) failed"
for list in producers subscribers operators; do
    ct sh -c "printf '%s gw1\n' '$gw_key' >> /etc/lstmd/curve/$list"
done
ct sh -c 'printf "ingest = tcp://127.0.0.1:5620\npublish = tcp://127.0.0.1:5621\nmetrics = 127.0.0.1:9472\ncurve_directory = /etc/lstmd/curve\n" > /etc/lstmd/c.conf'
ct systemctl start lstmd@c || { ct journalctl --no-pager -u lstmd@c -n 30 >&2; fail "lstmd@c with curve_directory did not start"; }
curve_keys=(--server-key /etc/lstmd/curve/server.key --client-key /root/gw1.key_secret)
ct lstmctl listen --endpoint tcp://127.0.0.1:5621 "${curve_keys[@]}" --stream curve --json --count 1 --timeout 30 \
    > "$work/curve-labels.json" 2> "$work/curve-listen.err" &
curve_listener=$!
i=0
while kill -0 "$curve_listener" 2>/dev/null && [ $i -lt 100 ]; do
    i=$((i + 1))
    ct lstmctl send --endpoint tcp://127.0.0.1:5620 "${curve_keys[@]}" --control ipc:///run/lstmd-c/control.sock \
        --stream "curve-$i" --data "$bm_test" --samples 1 > /dev/null 2>> "$work/curve-send.err" \
        || { cat "$work/curve-send.err" >&2; fail "an allowed producer key could not stream"; }
    sleep 0.1
done
wait "$curve_listener" || { cat "$work/curve-listen.err" >&2; fail "an allowed subscriber key got no label over CURVE"; }
if ct lstmctl send --endpoint tcp://127.0.0.1:5620 --server-key /etc/lstmd/curve/server.key --client-key /root/intruder.key_secret \
    --control ipc:///run/lstmd-c/control.sock --stream intruder --data "$bm_test" --samples 1 --timeout 3 > /dev/null 2> "$work/intruder.err"; then
    fail "an unknown key's frames were taken"
fi
refused="$(ct lstmctl status --endpoint ipc:///run/lstmd-c/control.sock --json | python3 -c 'import json,sys; s=json.load(sys.stdin)["security"]; print(s["curve"], s["refused_by_role"].get("producers", 0))')"
[ "${refused%% *}" = True ] && [ "${refused##* }" != 0 ] || fail "status.security after the intruder: $refused"
if ct journalctl --no-pager -u lstmd@c -o cat | grep -qi "permission denied"; then fail "lstmd@c logged a permission error"; fi
ct systemctl stop lstmd@c || fail "stopping lstmd@c failed"
pass "producers refused: ${refused##* }"

step "the installed lstmctl runs its helpers from the share directory, and a failed baseline fails"
if ct lstmctl bench step --hidden 8 --layers 1 --seconds 0.05 --compare-pytorch > "$work/bench.log" 2>&1; then
    fail "bench --compare-pytorch succeeded without torch in the container"
fi
grep -q "PyTorch baseline: python3 /usr/local/share/lstmd/tools/bench_pytorch.py" "$work/bench.log" \
    || { cat "$work/bench.log" >&2; fail "the baseline did not run from /usr/local/share/lstmd/tools"; }
grep -q "is torch installed" "$work/bench.log" || { cat "$work/bench.log" >&2; fail "no clear message"; }
expect ct test -f /usr/local/share/lstmd/train.recipe
pass

# --- uninstall ------------------------------------------------------------------------------------
step "uninstall.sh keeps only configuration and state; --purge removes them"
ct systemctl enable lstmd > /dev/null 2>&1 || fail "systemctl enable failed"
ct systemctl start lstmd || fail "start before uninstall failed"
ct /src/deploy/uninstall.sh > "$work/uninstall.log" 2>&1 || { cat "$work/uninstall.log" >&2; fail "uninstall.sh failed"; }
expect [ "$(show lstmd ActiveState)" = inactive ]
leftovers="$(ct sh -c 'ls -d /usr/local/bin/lstmd /usr/local/bin/lstmctl /usr/local/share/lstmd /etc/systemd/system/lstmd.service /etc/systemd/system/lstmd@.service /etc/systemd/system/multi-user.target.wants/lstmd.service /run/lstmd 2>/dev/null' || true)"
[ -z "$leftovers" ] || fail "left behind: $leftovers"
expect ct test -f /etc/lstmd/lstmd.conf
expect ct test -d /var/lib/private/lstmd
loaded="$(ct systemctl list-units --all --plain --no-legend 'lstmd*' | grep -v 'not-found' || true)"
[ -z "$loaded" ] || fail "units still loaded: $loaded"
ct /src/deploy/uninstall.sh --purge > "$work/uninstall.log" 2>&1 || fail "uninstall.sh --purge failed"
leftovers="$(ct sh -c 'ls -d /etc/lstmd /var/lib/lstmd /var/lib/private/lstmd /var/lib/private/lstmd-* /var/lib/lstmd-* 2>/dev/null' || true)"
[ -z "$leftovers" ] || fail "--purge left: $leftovers"
pass

print_report
