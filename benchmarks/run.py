"""The benchmark: ``uv run python -m benchmarks.run`` (about 15 minutes; ``--quick``: about 2).

Measures, side by side in one run on this machine (medians and ratios; each measurement in a
fresh process, see ``measure.py``):

1. fan-out efficiency for one order at 0, 0.3 and 1.0 s model latency: wall / slowest agent,
   and the speedup over running the same five agents one after another;
2. overhead at zero latency: milliseconds above the slowest agent, CPU per agent run, with and
   without Monocle, against plain ADK (one Runner per agent + gather) and ParallelAgent;
3. batch throughput: many orders x 5 agents at 0 and 0.3 s latency with 50 / 100 / 200 agent
   runs in flight, one process and ``--workers 2``: agent runs per second, p50/p95 order
   latency, peak RSS;
4. cold start: ``track-order ORD-1001`` against ``python -c "import litellm, google.adk.runners,
   google.genai"``.

Model calls go through LiteLLM's OpenAI provider to ``benchmarks.provider`` on 127.0.0.1 (the
real HTTP path), or through the offline model's latency knob where a row says "offline".
The tables go to stdout and to ``--out`` (default ``benchmarks/results.md``).

Instructions are counted with ``perf stat``; where perf cannot count them (a VM without
hardware counters) but valgrind is installed, with callgrind instead, on fewer orders (it runs
about 50 times slower; the overhead and cold sections then take about an hour more).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
BIN = Path(PYTHON).parent


@contextmanager
def provider() -> Iterator[str]:
    """``benchmarks.provider`` in its own process; yields its port."""
    proc = subprocess.Popen(
        [PYTHON, "-m", "benchmarks.provider"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = proc.stdout.readline() if proc.stdout else ""
        if not line.startswith("listening on "):
            raise SystemExit(f"benchmark provider did not start: {line!r}")
        yield line.split()[-1]
    finally:
        proc.terminate()
        proc.wait(10)


def _perf_works() -> bool:
    try:
        probe = subprocess.run(
            ["perf", "stat", "-x,", "-e", "instructions", "true"], capture_output=True, text=True
        )
    except FileNotFoundError:
        return False
    return probe.returncode == 0 and "instructions" in probe.stderr and "<not" not in probe.stderr


PERF = _perf_works()
# The fallback: callgrind counts a process's instructions too (user space only, in valgrind's
# emulation), so its figures are close to perf's but not the same: compare like with like.
COUNTER = "perf" if PERF else "callgrind" if shutil.which("valgrind") else None


def _counted(command: list[str], counts: str) -> list[str]:
    """``command`` under the instruction counter, which writes its figures to ``counts``."""
    if COUNTER == "perf":
        return ["perf", "stat", "-x,", "-e", "instructions", "-o", counts, *command]
    return ["valgrind", "--tool=callgrind", f"--callgrind-out-file={counts}", *command]


def _instructions(counts: str) -> int | None:
    """The total in the counter's output file: perf's CSV line, or callgrind's
    ``summary:`` line (``totals:`` in some versions), whose first figure is Ir."""
    for line in Path(counts).read_text(errors="replace").splitlines():
        if COUNTER == "perf":
            fields = line.split(",")
            if len(fields) > 2 and fields[2].startswith("instructions") and fields[0].isdigit():
                return int(fields[0])
        elif line.startswith(("summary:", "totals:")):
            return int(line.split()[1])
    return None


def counter_note() -> str:
    """Which counter the instruction columns come from: perf and callgrind differ a little."""
    if COUNTER == "callgrind":
        return (
            "Instructions counted with callgrind (valgrind; perf cannot count them here): "
            "user-space Ir, close to perf's counts but not identical, so compare them only "
            "with other callgrind figures."
        )
    return "Instructions counted with perf stat." if COUNTER else "No instruction counter here."


def measure(spec: dict[str, Any], port: str, count_instructions: bool = False) -> dict[str, Any]:
    """One measurement in a fresh process; with ``count_instructions`` (and a working
    counter), also the instructions the whole process executed."""
    env = dict(os.environ, BENCH_PROVIDER_PORT=port, ADK_DISABLE_LOAD_DOTENV="1")
    env.pop("OKAHU_API_KEY", None)
    command = [PYTHON, "-m", "benchmarks.measure", json.dumps(spec)]
    with tempfile.NamedTemporaryFile("r", suffix=".counts") as counts:
        if count_instructions and COUNTER:
            command = _counted(command, counts.name)
        proc = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
        if proc.returncode != 0:
            raise SystemExit(f"measurement {spec} failed:\n{proc.stderr[-3000:]}")
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        if count_instructions and COUNTER:
            instructions = _instructions(counts.name)
            if instructions is not None:
                result["instructions"] = instructions
    return result


def instructions_per_agent_run(spec: dict[str, Any], port: str, orders: int) -> float | None:
    """Instructions per agent run, by difference: the same process with ``orders`` and with
    ``4 * orders`` orders, so start-up and warm-up cancel out: the difference is ``3 * orders``
    orders of five agent runs each. Unlike CPU time on a shared machine, an instruction count
    barely moves from run to run."""
    if not COUNTER:
        return None
    small = measure({**spec, "orders": orders}, port, count_instructions=True)
    large = measure({**spec, "orders": 4 * orders}, port, count_instructions=True)
    if "instructions" not in small or "instructions" not in large:
        return None
    return (large["instructions"] - small["instructions"]) / (5 * 3 * orders)


# Runs one command and reports its wall time and peak RSS: a process of its own, so the
# RSS figure (the largest of its children) is that one command's.
_TIMED = """
import resource, subprocess, sys, time
start = time.perf_counter()
subprocess.run(sys.argv[1:], check=True, capture_output=True)
wall = time.perf_counter() - start
print(wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024)
"""


def cold_start(runs: int) -> dict[str, dict[str, float]]:
    """Process wall time and peak RSS (medians of ``runs``, the commands alternating), and
    instructions executed (steady where wall time is not): with perf on every run, with
    callgrind (minutes per run) on the first only."""
    env = dict(
        os.environ,
        LITELLM_LOCAL_MODEL_COST_MAP="True",  # as the app sets it: no network at import
        LITELLM_MODE="PRODUCTION",
        ADK_DISABLE_LOAD_DOTENV="1",
        SHIPPING_MODEL="offline",
    )
    env.pop("OKAHU_API_KEY", None)
    commands = {
        "floor": [PYTHON, "-c", "import litellm, google.adk.runners, google.genai"],
        "track-order": [str(BIN / "track-order"), "ORD-1001"],
    }
    seen: dict[str, dict[str, list[float]]] = {
        n: {"wall": [], "rss": [], "ins": []} for n in commands
    }
    with tempfile.TemporaryDirectory() as cwd:
        for run in range(runs):
            for name, command in commands.items():
                timed = subprocess.run(
                    [PYTHON, "-c", _TIMED, *command],
                    cwd=cwd,
                    env=env,
                    check=True,
                    capture_output=True,
                    text=True,
                )
                wall, rss = map(float, timed.stdout.split())
                seen[name]["wall"].append(wall)
                seen[name]["rss"].append(rss)
            if COUNTER == "perf" or (COUNTER and run == 0):
                for name, command in commands.items():
                    instructions = count_process(command, cwd, env)
                    if instructions is not None:
                        seen[name]["ins"].append(float(instructions))
    return {
        name: {k: statistics.median(v) if v else float("nan") for k, v in figures.items()}
        for name, figures in seen.items()
    }


def count_process(command: list[str], cwd: str, env: dict[str, str]) -> int | None:
    """The instructions one run of ``command`` executes, whole process, start to exit."""
    with tempfile.NamedTemporaryFile("r", suffix=".counts") as counts:
        subprocess.run(
            _counted(command, counts.name), cwd=cwd, env=env, check=True, capture_output=True
        )
        return _instructions(counts.name)


def count_orders(quick: bool) -> int:
    """Orders for ``instructions_per_agent_run``: fewer under callgrind, which runs ~50x slower
    (3 and 12 orders: 45 agent runs in the difference, ~15 minutes a row, within ~1%)."""
    if COUNTER == "perf":
        return 5 if quick else 10
    return 2 if quick else 3


def _row(*cells: Any) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small numbers: a smoke run")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results.md")
    parser.add_argument(
        "--only",
        default="fanout,overhead,batch,cold",
        help="comma-separated sections to run (fanout, overhead, batch, cold)",
    )
    args = parser.parse_args()
    quick, only = args.quick, set(args.only.split(","))
    lines = [
        "# Benchmark results",
        "",
        f"{time.strftime('%Y-%m-%d %H:%M')} · {platform.platform()} · Python "
        f"{platform.python_version()} · {os.cpu_count()} CPUs"
        + (" · quick run (small numbers, not for comparison)" if quick else ""),
        "",
    ]

    def out(text: str = "") -> None:
        lines.append(text)
        print(text, flush=True)

    for line in lines:
        print(line)
    with provider() as port:
        if "fanout" in only:
            latencies = [0.0, 0.3] if quick else [0.0, 0.3, 1.0]
            reps = 2 if quick else 5
            out("## 1. Fan-out efficiency: one order, five agents, two model calls each")
            out()
            out(
                _row(
                    "implementation",
                    "model path",
                    "latency s",
                    "wall / slowest agent",
                    "sequential s",
                    "concurrent s",
                    "speedup",
                )
            )
            out(_row(*["---"] * 7))
            for impl, label in (
                ("ours", "order_tracking (Monocle on)"),
                ("plain", "plain ADK gather"),
            ):
                for mode in ("provider", "offline"):
                    spec = {
                        "kind": "fanout",
                        "impl": impl,
                        "mode": mode,
                        "latencies": latencies,
                        "reps": reps,
                    }
                    for r in measure(spec, port)["result"]:
                        out(
                            _row(
                                label,
                                "loopback HTTP" if mode == "provider" else "offline knob",
                                f"{r['latency_s']:g}",
                                f"{r['wall_over_slowest']:.3f}",
                                f"{r['sequential_s']:.2f}",
                                f"{r['wall_s']:.2f}",
                                f"{r['speedup']:.2f}",
                            )
                        )
            out()
        if "overhead" in only:
            orders = 8 if quick else 40
            out("## 2. Overhead per order at zero latency (loopback HTTP)")
            out()
            out(
                _row(
                    "implementation",
                    "ms above slowest agent",
                    "CPU ms per agent run",
                    "M instructions per agent run",
                    "wall ms per order",
                    "peak RSS MiB",
                )
            )
            out(_row(*["---"] * 6))
            for impl, traced, label in (
                ("ours", True, "order_tracking, Monocle on"),
                ("ours", False, "order_tracking, Monocle off"),
                ("plain", False, "plain ADK: one Runner per agent + gather"),
                ("parallel", False, "ADK ParallelAgent"),
            ):
                spec = {
                    "kind": "overhead",
                    "impl": impl,
                    "mode": "provider",
                    "traced": traced,
                    "orders": orders,
                }
                m = measure(spec, port)
                r = m["result"]
                instructions = instructions_per_agent_run(spec, port, count_orders(quick))
                out(
                    _row(
                        label,
                        f"{r['above_slowest_ms']:.1f}",
                        f"{r['cpu_ms_per_agent_run']:.1f}",
                        f"{instructions / 1e6:.1f}" if instructions else "n/a",
                        f"{r['wall_ms_per_order']:.0f}",
                        f"{m['peak_rss_mib']:.0f}",
                    )
                )
            out()
            out(counter_note())
            out()
        if "batch" in only:
            orders = 20 if quick else 200
            out(f"## 3. Batch: {orders} orders x 5 agents (loopback HTTP)")
            out()
            out(
                _row(
                    "implementation",
                    "latency s",
                    "in flight",
                    "processes",
                    "agent runs/s",
                    "p50 order s",
                    "p95 order s",
                    "CPU ms per agent run",
                    "peak RSS MiB",
                    "most requests at the provider at once",
                )
            )
            out(_row(*["---"] * 10))
            configs = [
                ("ours", "order_tracking (Monocle on)", latency, in_flight, workers)
                for latency in (0.0, 0.3)
                for in_flight in ((50,) if quick else (50, 100, 200))
                for workers in (1, 2)
            ]
            configs += [
                (impl, label, latency, 100 if not quick else 50, 1)
                for latency in (0.0, 0.3)
                for impl, label in (
                    ("plain", "plain ADK gather"),
                    ("parallel", "ADK ParallelAgent"),
                )
            ]
            for impl, label, latency, in_flight, workers in configs:
                spec = {
                    "kind": "batch",
                    "impl": impl,
                    "mode": "provider",
                    "orders": orders,
                    "in_flight": in_flight,
                    "latency": latency,
                    "workers": workers,
                }
                m = measure(spec, port)
                r = m["result"]
                out(
                    _row(
                        label,
                        f"{latency:g}",
                        in_flight,
                        workers,
                        f"{r['agent_runs_per_s']:.1f}",
                        f"{r['p50_order_s']:.2f}",
                        f"{r['p95_order_s']:.2f}",
                        f"{r['cpu_ms_per_agent_run']:.1f}",
                        f"{m['peak_rss_mib']:.0f}",
                        r.get("provider_max_in_flight") or "",
                    )
                )
            out()
    if "cold" in only:
        runs = 2 if quick else 5
        c = cold_start(runs)
        floor, ours = c["floor"], c["track-order"]
        out(f"## 4. Cold start (medians of {runs} runs each, the two alternating)")
        out()
        out(_row("command", "wall s", "G instructions", "peak RSS MiB"))
        out(_row(*["---"] * 4))
        for label, f in (
            ('floor: `python -c "import litellm, google.adk.runners, google.genai"`', floor),
            ("`track-order ORD-1001` (offline model)", ours),
        ):
            out(_row(label, f"{f['wall']:.2f}", f"{f['ins'] / 1e9:.2f}", f"{f['rss']:.0f}"))
        out(
            _row(
                "ratio",
                f"{ours['wall'] / floor['wall']:.2f}",
                f"{ours['ins'] / floor['ins']:.2f}",
                f"{ours['rss'] / floor['rss']:.2f}",
            )
        )
        out()
        out(counter_note() + (" One counted run each." if COUNTER == "callgrind" else ""))
        out()
    args.out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"written to {args.out}")


if __name__ == "__main__":
    main()
