#!/usr/bin/env bash
# Cross-compiles the sans-I/O core for Cortex-M4 (arm-none-eabi-gcc -Os) and
# prints flash/RAM per module, the size of a device image after
# --gc-sections, and the largest stack frames. Fails if the core pulls in
# anything beyond the freestanding string functions (malloc, stdio, POSIX)
# or if a frame exceeds the 2 KB budget.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/build-footprint
rm -rf "$out" && mkdir -p "$out"
CC=arm-none-eabi-gcc
CFLAGS=(-std=c11 -Os -mcpu=cortex-m4 -mthumb -ffunction-sections -fdata-sections
        -Wall -Wextra -Wpedantic -Werror -Wvla -fstack-usage -I"$root/include"
        -DCS_CORE_ONLY ${FOOTPRINT_CFLAGS:-})
# The core list lives in CMakeLists.txt (CORESEAL_CORE_SOURCES).
mapfile -t srcs < <(sed -n '/^set(CORESEAL_CORE_SOURCES/,/^)/p' "$root/CMakeLists.txt" | grep -o 'src/[^ )]*\.c')
declare -A module_objs
for s in "${srcs[@]}"; do
    mod=$(echo "$s" | cut -d/ -f2)
    obj=$out/$(echo "$s" | tr / _).o
    (cd "$out" && $CC "${CFLAGS[@]}" -c "$root/$s" -o "$obj")
    module_objs[$mod]="${module_objs[$mod]:-} $obj"
done

allowed='^(memcpy|memmove|memset|memcmp|memchr|strcmp|strlen|__aeabi_[a-z0-9]+|__gnu_[a-z0-9_]+)$'
defined=$(arm-none-eabi-nm --defined-only "$out"/*.o | awk 'NF==3{print $3}' | sort -u)
bad=$(arm-none-eabi-nm -u "$out"/*.o | awk 'NF==2{print $2}' | sort -u |
      comm -23 - <(echo "$defined") | grep -Ev "$allowed" || true)
if [ -n "$bad" ]; then
    echo "footprint: the core references symbols outside the freestanding set:" >&2
    echo "$bad" >&2
    exit 1
fi

printf '\n%-10s %10s %10s %10s   (Cortex-M4, -Os, per module, before gc)\n' module text data bss
for mod in $(echo "${!module_objs[@]}" | tr ' ' '\n' | sort); do
    # shellcheck disable=SC2086
    arm-none-eabi-size -t ${module_objs[$mod]} | tail -1 |
        awk -v m="$mod" '{printf "%-10s %10d %10d %10d\n", m, $1, $2, $3}'
done

# No startup code: main is the entry, so each image is the core plus the
# few libc string functions it calls. Two images: the budgeted device core
# (CBOR, COSE, CoAP codec, OSCORE, EDHOC; 20 KB) and the same with the CoAP
# messaging endpoint. The error table is built as FOOTPRINT_ERRORS says:
# "full" (sentences), "names" (CS_COMPACT_ERRORS), "none" (CS_NO_ERROR_STRINGS).
link_image() { # name, device source, extra cflags
    $CC "${CFLAGS[@]}" $3 -c "$root/src/common/strerror.c" -o "$out/strerror_$1.o"
    $CC "${CFLAGS[@]}" -c "$2" -o "$out/$1_main.o"
    $CC -mcpu=cortex-m4 -mthumb -Os -nostartfiles -specs=nano.specs -Wl,-e,main -Wl,--gc-sections \
        "$out/$1_main.o" $(ls "$out"/src_*.o | grep -v strerror) "$out/strerror_$1.o" -lc -lgcc \
        -o "$out/$1.elf"
    arm-none-eabi-size "$out/$1.elf" | awk 'NR==2{print $1+$2}'
}
sed '/coap_ep_/d; /lwm2m_/d' "$root/footprint/device.c" > "$out/core_device.c"
printf '\n%-44s %8s %8s %8s\n' "image (after --gc-sections, bytes of flash)" full names none
for img in core full; do
    src=$out/core_device.c
    [ $img = full ] && src=$root/footprint/device.c
    f=$(link_image ${img}_full "$src" "")
    c=$(link_image ${img}_names "$src" -DCS_COMPACT_ERRORS)
    z=$(link_image ${img}_none "$src" -DCS_NO_ERROR_STRINGS)
    label="device core (CBOR, COSE, CoAP, OSCORE, EDHOC)"
    [ $img = full ] && label="+ CoAP endpoint, LwM2M data and DM"
    printf '%-44s %8d %8d %8d\n' "$label" "$f" "$c" "$z"
    [ $img = core ] && budget=$z
done
printf '(full: error sentences; names: CS_COMPACT_ERRORS; none: CS_NO_ERROR_STRINGS)\n'
if [ "$budget" -gt 20480 ]; then
    echo "footprint: device core uses $budget bytes of flash without error strings, over the 20 KB budget" >&2
    exit 1
fi

printf '\nlargest stack frames (bytes, -fstack-usage):\n'
# awk reads everything (head would close the pipe early: SIGPIPE under pipefail)
cat "$out"/*.su | sort -t$'\t' -k2 -n -r | awk -F'\t' 'NR <= 5 {printf "  %6d  %s\n", $2, $1}'
max=$(cat "$out"/*.su | awk -F'\t' '{print $2}' | sort -n | tail -1)
if grep -q dynamic "$out"/*.su; then
    echo "footprint: a function has a dynamic stack frame (VLA or alloca)" >&2
    exit 1
fi
if [ "$max" -gt 2048 ]; then
    echo "footprint: a stack frame of $max bytes exceeds the 2 KB budget" >&2
    exit 1
fi
echo "footprint: ok (largest frame $max bytes; no malloc, stdio or POSIX)"
