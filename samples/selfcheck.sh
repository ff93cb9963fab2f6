#!/bin/sh
# Runs every sample with FAULTLINE_SAMPLE_SELFCHECK=1 and checks, for each
# SELFCHECK line (one per touching thread), that the kernel's minflt/majflt
# deltas equal the EXPECT counts of that thread (anon+zero+file+cow = minor,
# major = major; segv faults are not counted by the kernel), and that each
# sample exits as it should. Samples whose only EXPECT is segv (segv_fatal)
# are checked for their exit status alone.
#   sh samples/selfcheck.sh [DIR]    (DIR for the sample files, default ".")
# Needs the samples built (make -C samples).
set -u
here=$(cd "$(dirname "$0")" && pwd)
dir=${1:-.}
fail=0

check() { # expected-status name args...
    want=$1; shift
    name=$1; shift
    # the inner subshell keeps the shell's "Segmentation fault" notice out
    out=$( (FAULTLINE_SAMPLE_SELFCHECK=1 "$here/bin/$name" "$@" 2>&1; exit $?) 2>/dev/null)
    status=$?
    if [ "$status" -ne "$want" ]; then
        echo "FAIL $name: exit status $status, want $want"; fail=1; return
    fi
    if ! printf '%s\n' "$out" | awk -v name="$name" '
        function field(k,   i) { for (i = 2; i <= NF; i++) if (index($i, k "=") == 1) return substr($i, length(k) + 2); return "" }
        /^EXPECT / { key = field("pid") "/" field("tid"); k = field("kind")
                     if (k == "major") maj[key] += field("count")
                     else if (k != "segv") mn[key] += field("count")
                     if (k != "segv") seen[key] = 1 }
        /^SELFCHECK / { key = field("pid") "/" field("tid")
                        gmin[key] = field("minflt_delta"); gmaj[key] = field("majflt_delta"); got[key] = 1 }
        END { bad = 0
              for (k in seen) {
                  if (!(k in got)) { print "FAIL " name " " k ": no SELFCHECK line"; bad = 1; continue }
                  if (gmin[k] != mn[k] + 0 || gmaj[k] != maj[k] + 0) {
                      print "FAIL " name " " k ": kernel counted minflt=" gmin[k] " majflt=" gmaj[k] \
                            ", EXPECT says minor=" mn[k] + 0 " major=" maj[k] + 0; bad = 1 }
              }
              if (!bad) print "ok   " name
              exit bad }'; then
        fail=1
    fi
}

check 0 first_touch
check 0 zero_then_write
check 0 cow_fork
check 0 private_file_write "$dir"
check 0 page_cache "$dir"
check 0 major_faults "$dir"
check 0 read_into_fresh "$dir"
check 0 threads
check 0 dev_zero
check 0 segv_handled
check 139 segv_fatal    # 128 + SIGSEGV (run through a shell)
check 7 exit7
check 0 fault_storm 16
exit $fail
