#!/usr/bin/env bash
# Fuzzes the frame decoder, the control-request parser and the model loader with libFuzzer
# (a release build with --sanitize=fuzzer,address; see ../shared/PLATFORM.md) for SECONDS each
# (default 60). Seeds are made here; corpora and any crash-* reproducers go to .build-fuzz/runs.
# Exit status 1 when a target crashed: the reproducer's path is printed, turn it into a test.
set -euo pipefail
cd "$(dirname "$0")/../.."
seconds=${1:-60}
root=$PWD
export LSTMD_FUZZ=1
scratch=.build-fuzz
runs=$PWD/$scratch/runs
targets=(FuzzFrameDecoder FuzzControlRequest FuzzModelLoader)
for target in "${targets[@]}"; do
    swift build -c release --sanitize=fuzzer --sanitize=address --scratch-path "$scratch" --product "$target" 2>&1 | grep -E "error|warning: |Compiling $target|Build" || true
    test -x "$scratch/release/$target" || { echo "fuzz: $target did not build" >&2; exit 1; }
done
mkdir -p "$runs"/{FuzzFrameDecoder,FuzzControlRequest,FuzzModelLoader}/corpus
# Seeds: a well-formed request of each shape, the bundled model, a frame-shaped input.
i=0
for request in '{"command":"status"}' '{"command":"streams","limit":10,"stream":"s1"}' \
    '{"command":"reload","model":"m.safetensors","force":true}' '{"command":"label","stream":"s\u00e9","class":"Walking"}' \
    '[1,-2.5e-3,true,false,null,{"a":[{}]}]'; do
    printf '%s' "$request" > "$runs/FuzzControlRequest/corpus/seed-$i"; i=$((i + 1))
done
cp Sources/Daemon/Resources/default.safetensors "$runs/FuzzModelLoader/corpus/seed-default"
printf '\x03\x02\x20s1' > "$runs/FuzzFrameDecoder/corpus/seed-0"
status=0
for target in "${targets[@]}"; do
    dir="$runs/$target"
    max_len=$([ "$target" = FuzzModelLoader ] && echo 65536 || echo 8192)
    echo "fuzz: $target for ${seconds}s"
    if ! (cd "$dir" && "$root/$scratch/release/$target" -max_total_time="$seconds" -max_len="$max_len" \
        -rss_limit_mb=2048 -print_final_stats=1 corpus 2>"$dir/log.txt"); then
        echo "fuzz: $target FAILED; reproducer(s): $(ls "$dir"/crash-* "$dir"/oom-* "$dir"/leak-* "$dir"/timeout-* 2>/dev/null | tr '\n' ' ')" >&2
        tail -40 "$dir/log.txt" | swift demangle >&2 || tail -40 "$dir/log.txt" >&2
        status=1
    else
        grep -E "stat::number_of_executed_units|cov:" "$dir/log.txt" | tail -2 | sed "s/^/fuzz: $target: /"
    fi
done
exit $status
