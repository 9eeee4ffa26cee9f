#!/usr/bin/env python3
"""launchprof timeline end to end on a synthetic task CSV (fixtures/timeline/): the merged trace passes the Chrome
trace-event format check, launchprof analyze reads it back (the kernel metrics unchanged, the in-kernel tasks and
marks counted by stage), every task lies inside its kernel on a track of its SM, and bad input gets a clear error.
"""
import argparse
import csv
import gzip
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import check_chrome_trace  # noqa: E402

FIX = os.path.join(HERE, "fixtures", "timeline")


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True)
    return p.returncode, p.stdout, p.stderr


def analyze_json(lp, trace, work, name):
    out = os.path.join(work, name)
    rc, _, err = run([lp, "analyze", trace, "--json", out, "-q"])
    assert rc == 0, err
    with open(out) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--launchprof", required=True)
    ap.add_argument("--work", required=True)
    a = ap.parse_args()
    os.makedirs(a.work, exist_ok=True)
    lp, trace, tasks_csv = a.launchprof, os.path.join(FIX, "onemoe_forward.json"), os.path.join(FIX, "tasks.csv")
    merged = os.path.join(a.work, "merged.json.gz")
    rc, _, err = run([lp, "timeline", "--trace", trace, "--tasks", tasks_csv, "-o", merged])
    assert rc == 0, err
    assert "9 tasks on 3 tracks" in err, err

    # The format check itself rejects what it is meant to catch.
    broken = {"traceEvents": [{"ph": "X", "name": "a", "pid": 0, "tid": 1, "ts": 0, "dur": 10},
                              {"ph": "X", "name": "b", "pid": 0, "tid": 1, "ts": 5, "dur": 10},
                              {"ph": "Q", "name": "c", "pid": 0, "tid": 1, "ts": 0},
                              {"ph": "i", "s": "x", "name": "d", "pid": 0, "tid": 1, "ts": 0},
                              {"ph": "M", "name": "thread_name", "pid": 0, "tid": 1, "args": {}}]}
    assert len(check_chrome_trace.check(broken)) == 4, check_chrome_trace.check(broken)
    problems = check_chrome_trace.check(check_chrome_trace.load(merged))
    assert not problems, problems

    with gzip.open(merged, "rt") as f:
        doc = json.load(f)
    events = doc["traceEvents"]
    kernels = [e for e in events if e.get("cat") == "kernel"]
    last = max(kernels, key=lambda e: e["ts"])  # the default: the last matching kernel
    tasks = [e for e in events if e.get("cat") == "onemoe_task"]
    marks = [e for e in events if e.get("cat") == "onemoe_mark"]
    with open(tasks_csv) as f:
        rows = list(csv.DictReader(f))
    assert len(tasks) == len(rows) == 9
    assert len(marks) == sum(1 for r in rows for m in ("mark1_us", "mark2_us", "mark3_us") if float(r[m]) >= 0)
    names = {(e["pid"], e["tid"]): e["args"]["name"] for e in events if e.get("ph") == "M" and e["name"] == "thread_name"}
    t0 = min(float(r["start_us"]) for r in rows)
    for e, r in zip(sorted(tasks, key=lambda e: (e["ts"], e["args"]["sm"])),
                    sorted(rows, key=lambda r: (float(r["start_us"]), int(r["sm"])))):
        assert e["name"] == r["stage"] and e["args"]["sm"] == int(r["sm"]), (e, r)
        assert abs(e["ts"] - (last["ts"] + float(r["start_us"]) - t0)) < 1e-3, (e, r)
        assert last["ts"] <= e["ts"] and e["ts"] + e["dur"] <= last["ts"] + last["dur"] + 1e-3
        assert e["pid"] == last["pid"]
        assert names[(e["pid"], e["tid"])].startswith(f"SM {r['sm']}"), names[(e["pid"], e["tid"])]
    # Two gemm1 tasks overlap on SM 0: the second gets its own lane.
    assert sorted(names.values()) == ["SM 0 (2) (in-kernel tasks)", "SM 0 (in-kernel tasks)",
                                      "SM 1 (in-kernel tasks)"], names

    # Read back by launchprof analyze: the kernels are what they were, the tasks are counted by stage.
    before = analyze_json(lp, trace, a.work, "before.json")
    after = analyze_json(lp, merged, a.work, "after.json")
    for key in ("kernels", "tklqt_us", "il_ms", "idle_ms"):
        assert before["rows"][0][key] == after["rows"][0][key], key
    ik = after["traces"][0]["in_kernel"]
    assert ik["tasks"] == 9 and ik["marks"] == len(marks), ik
    stages = {s["stage"]: s for s in ik["stages"]}
    assert [s["stage"] for s in ik["stages"]] == ["route", "plan", "dispatch", "gemm1", "gemm2", "combine"], ik
    assert stages["gemm1"]["tasks"] == 3 and stages["gemm1"]["tracks"] == 3
    assert abs(stages["gemm1"]["task_time_us"] - (10.5 + 9.0 + 12.8)) < 1e-9, stages["gemm1"]
    assert after["traces"][0]["events"]["other"] == before["traces"][0]["events"]["other"] + 6  # the M events

    # --kernel-index 0 puts the tasks under the first kernel instead.
    first = os.path.join(a.work, "first.json")
    rc, _, err = run([lp, "timeline", "--trace", trace, "--tasks", tasks_csv, "-o", first, "--kernel-index", "0"])
    assert rc == 0, err
    with open(first) as f:
        starts = [e["ts"] for e in json.load(f)["traceEvents"] if e.get("cat") == "onemoe_task"]
    assert min(starts) == min(k["ts"] for k in kernels), starts

    # Bad input: a clear message and the documented exit code, no output left behind.
    bad_csv = os.path.join(a.work, "bad.csv")
    with open(bad_csv, "w") as f:
        f.write("stage,index,block,sm,start_us,end_us\nroute,0,0,0,0.0,1.0\ngemm1,0,0,x,1.0,2.0\n")
    out = os.path.join(a.work, "never.json")
    rc, _, err = run([lp, "timeline", "--trace", trace, "--tasks", bad_csv, "-o", out])
    assert rc == 2 and "bad.csv:3" in err and not os.path.exists(out), (rc, err)
    rc, _, err = run([lp, "timeline", "--trace", trace, "--tasks", tasks_csv, "-o", out, "--kernel", "gemm_xyz"])
    assert rc == 2 and "no kernel whose name contains 'gemm_xyz'" in err, (rc, err)
    rc, _, err = run([lp, "timeline", "--trace", trace, "--tasks", tasks_csv, "-o", out, "--kernel-index", "5"])
    assert rc == 64, (rc, err)
    rc, _, err = run([lp, "timeline", "--trace", trace, "--tasks", tasks_csv, "-o", "/nonexistent-dir/x.json"])
    assert rc == 1 and "cannot write" in err, (rc, err)
    # The device study's script, without its GPU step, on the same fixture: it passes and writes its envelope.
    study = os.path.join(HERE, "..", "..", "launchprof", "studies", "inkernel_timeline.py")
    study_out = os.path.join(a.work, "study")
    rc, out, err = run([sys.executable, study, "--launchprof", lp, "--out", study_out, "--trace", trace,
                        "--tasks", tasks_csv])
    assert rc == 0, (out, err)
    result = json.loads(out)
    with open(result["result"]) as f:
        env = json.load(f)
    assert env["passed"] and env["rows"][0]["in_kernel_tasks"] == 9 and env["rows"][0]["tracks"] == 3, env
    for key in ("tool", "command", "commit", "date", "gpu", "gpus", "rows"):
        assert key in env, key
    print("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
