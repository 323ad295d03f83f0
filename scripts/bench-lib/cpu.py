#!/usr/bin/env python3
"""How much of the machine other programs used during a measurement.

  cpu.py mark                 prints a mark (JSON): the machine's busy CPU time, and ours
  cpu.py other MARK           prints the share (0–100 %) of the machine's CPU capacity that
                              programs other than ours used since MARK
  cpu.py seconds PID...       prints the CPU time (user + system, seconds) the processes PID and
                              their descendants used so far (a server's own cost per request)

"Ours" is the process tree of $BENCH_ROOT_PID (the entry script: Flotilla, nginx, ffmpeg, wrk,
the helpers; a live process counts its own time and that of its waited-for children, so finished
descendants are counted through their parents), plus the trees of the PIDs listed in
$BENCH_WORK/cpu-roots (PostgreSQL's postmaster, which detaches from us). On a quiet machine the
share is near 0; a high share means someone else competed for the CPU and the figure is noisy.
"""
import json
import os
import sys
import time


def machine_busy():
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user + nice + system + steal, in clock ticks. Interrupt and softirq time is left out: it is
    # mostly the loopback traffic of our own benchmark and is charged to no process.
    return v[0] + v[1] + v[2] + (v[7] if len(v) > 7 else 0)


def stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    fields = s[s.rindex(")") + 2:].split()
    # state ppid ... utime(12) stime(13) cutime(14) cstime(15), counted from state = 1
    return int(fields[1]), sum(int(x) for x in fields[11:15])


def ours():
    roots = {int(os.environ.get("BENCH_ROOT_PID", os.getppid()))}
    extra = os.path.join(os.environ.get("BENCH_WORK", "/nonexistent"), "cpu-roots")
    if os.path.exists(extra):
        roots |= {int(x) for x in open(extra).read().split() if x.isdigit()}
    return tree_ticks(roots)


def tree_ticks(roots):
    """CPU time (clock ticks) of the processes `roots` and all their live descendants, each with
    its waited-for children."""
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            s = stat(d)
            if s:
                procs[int(d)] = s
    children = {}
    for pid, (ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    total, todo, seen = 0, [r for r in roots if r in procs], set()
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        total += procs[pid][1]
        todo += children.get(pid, [])
    return total


def mark():
    return {"t": time.monotonic(), "busy": machine_busy(), "ours": ours()}


def main():
    if sys.argv[1] == "mark":
        print(json.dumps(mark()))
    elif sys.argv[1] == "other":
        a, b = json.loads(sys.argv[2]), mark()
        hz = os.sysconf("SC_CLK_TCK")
        capacity = (b["t"] - a["t"]) * hz * (os.cpu_count() or 1)
        other = (b["busy"] - a["busy"]) - (b["ours"] - a["ours"])
        print(round(max(0.0, 100.0 * other / capacity), 1) if capacity > 0 else 0.0)
    elif sys.argv[1] == "seconds":
        print(tree_ticks({int(p) for p in sys.argv[2:]}) / os.sysconf("SC_CLK_TCK"))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
