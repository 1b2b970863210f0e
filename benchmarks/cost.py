"""The CPU an order costs against plain ADK (issue #26): ``uv run python -m benchmarks.cost``.

- ``whole``: whole processes, start-up to exit, side by side in rounds (ABC... order): plain
  ADK (``benchmarks.plain_batch``) against ``track-order --quiet --concurrency N --file ids``
  traced, at ``TRACE_SAMPLE_RATIO=0.1`` and untraced (``--base PATH``: also the same command
  from another checkout, e.g. the code before this work). Agent runs per second of each
  process, its CPU per agent run, and each one's ratio to plain ADK in the same round
  (medians). Wall time on a shared machine drifts; the ratios are taken round by round.
- ``instructions``: callgrind's instruction count per agent run of the batch alone (counting
  turned on after start-up and one warm order, off at its end), each subject in a fresh
  process; and of start-up (a process that runs no order).
- ``profile``: where the batch's CPU goes, by component (stack samples of the main thread,
  ``sampler``, attributed to the innermost frame of a known package), scaled to the
  instruction count per agent run.

Model calls go to ``benchmarks.provider`` on loopback (LiteLLM's OpenAI provider, real HTTP).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.run import ROOT, provider

PYTHON = sys.executable
# One line per subject: how it is run (the environment it adds, or plain ADK's script).
SUBJECTS = {
    "plain ADK": {},
    "ours, traced": {"TRACE_SAMPLE_RATIO": "1"},
    "ours, TRACE_SAMPLE_RATIO=0.1": {"TRACE_SAMPLE_RATIO": "0.1"},
    "ours, untraced": {"TRACE_SAMPLE_RATIO": "0"},
}


def _env(port: str, folder: Path, extra: dict[str, str]) -> dict[str, str]:
    env = dict(
        os.environ,
        OPENAI_API_BASE=f"http://127.0.0.1:{port}/v1",
        OPENAI_API_KEY="sk-bench",
        ADK_DISABLE_LOAD_DOTENV="1",
        MONOCLE_TRACE_OUTPUT_PATH=str(folder / "traces"),
        MAX_TOKENS_PER_RUN="0",
        MAX_COST_USD_PER_RUN="0",
        AGENT_TIMEOUT_S="600",
        MODEL_TIMEOUT_S="120",
        **extra,
    )
    env.pop("OKAHU_API_KEY", None)
    return env


def plain_adk(args: argparse.Namespace) -> list[str]:
    """The plain ADK batch's command line, at the benchmark's orders, in flight and latency."""
    return [
        *(PYTHON, "-m", "benchmarks.plain_batch", "--orders", str(args.orders)),
        *("--in-flight", str(args.in_flight), "--model", f"openai/lat-{args.latency:g}"),
    ]


def command(subject: str, args: argparse.Namespace, ids: Path, checkout: Path) -> list[str]:
    if subject == "plain ADK":
        return plain_adk(args)
    track_order = checkout / ".venv" / "bin" / "track-order"
    return [str(track_order), "--quiet", "--concurrency", str(args.in_flight), "--file", str(ids)]


def run_whole(args: argparse.Namespace, port: str) -> dict[str, dict[str, list[float]]]:
    subjects = dict(SUBJECTS)
    if args.base:
        subjects["before (--base), traced"] = {"TRACE_SAMPLE_RATIO": "1"}
    seen: dict[str, dict[str, list[float]]] = {s: {"runs_s": [], "cpu_ms": []} for s in subjects}
    runs = 5 * args.orders
    with tempfile.TemporaryDirectory(prefix="bench-cost-") as tmp:
        folder = Path(tmp)
        ids = folder / "ids.txt"
        ids.write_text(
            "\n".join(("ORD-1001", "ORD-1002", "ORD-1003")[i % 3] for i in range(args.orders))
        )
        for _ in range(args.rounds):
            for subject, extra in subjects.items():
                checkout = Path(args.base) if subject.startswith("before") else ROOT
                env = _env(
                    port, folder, {"SHIPPING_MODEL": f"openai/lat-{args.latency:g}", **extra}
                )
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                start = time.perf_counter()
                subprocess.run(
                    command(subject, args, ids, checkout),
                    cwd=folder,
                    env=env,
                    check=True,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
                wall = time.perf_counter() - start
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
                seen[subject]["runs_s"].append(runs / wall)
                seen[subject]["cpu_ms"].append(1000 * cpu / runs)
                shutil.rmtree(folder / "traces", ignore_errors=True)
    return seen


def whole_table(seen: dict[str, dict[str, list[float]]]) -> list[str]:
    plain = seen["plain ADK"]["runs_s"]
    rows = [
        "| process | agent runs/s (median) | × plain ADK, same round (median) | CPU ms per agent run |",
        "|---|---|---|---|",
    ]
    for subject, figures in seen.items():
        ratios = [mine / theirs for mine, theirs in zip(figures["runs_s"], plain, strict=True)]
        rows.append(
            f"| {subject} | {statistics.median(figures['runs_s']):.1f} | "
            f"{statistics.median(ratios):.3f} ({min(ratios):.2f}–{max(ratios):.2f}) | "
            f"{statistics.median(figures['cpu_ms']):.1f} |"
        )
    return rows


# The in-process peers of SUBJECTS for counting: ``benchmarks.measure``'s batch on our App.
# "untraced" is TRACE_SAMPLE_RATIO=0 (Monocle installed, every order left out); "no Monocle"
# never installs it.
COUNTED = {**{s: s for s in SUBJECTS}, "ours, no Monocle": "ours, no Monocle"}


def measure_spec(subject: str, args: argparse.Namespace, orders: int) -> dict[str, Any]:
    ratio = {"ours, traced": 1.0, "ours, untraced": 0.0, "ours, no Monocle": 1.0}.get(subject, 0.1)
    return {
        "kind": "batch",
        "impl": "ours",
        "mode": "provider",
        "orders": orders,
        "in_flight": args.in_flight,
        "latency": args.latency,
        "instrument": True,
        "traced": subject != "ours, no Monocle",
        "settings": {"trace_sample_ratio": ratio},
    }


def counted(subject: str, args: argparse.Namespace, port: str, orders: int) -> int:
    """Instructions of the batch alone (``orders`` orders) in a fresh process."""
    with tempfile.TemporaryDirectory(prefix="bench-cg-") as tmp:
        out = Path(tmp) / "callgrind.out"
        if subject == "plain ADK":
            inner = [
                PYTHON,
                "-m",
                "benchmarks.plain_batch",
                "--orders",
                str(orders),
                "--in-flight",
                str(args.in_flight),
                "--model",
                f"openai/lat-{args.latency:g}",
                "--instrument-after-start",
            ]
        else:
            inner = [
                PYTHON,
                "-m",
                "benchmarks.measure",
                json.dumps(measure_spec(subject, args, orders)),
            ]
        env = _env(port, Path(tmp), {"BENCH_PROVIDER_PORT": port})
        subprocess.run(
            [
                "valgrind",
                "--tool=callgrind",
                "--instr-atstart=no",
                f"--callgrind-out-file={out}",
                *inner,
            ],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
        )
        return sum(_counted_in(path) for path in Path(tmp).glob("callgrind.out*"))


def _counted_in(path: Path) -> int:
    """One callgrind dump's instruction count: its ``totals:`` line (with counting turned on
    late, the ``summary:`` line of the header can say 0)."""
    found = [
        int(line.split()[1])
        for line in path.read_text(errors="replace").splitlines()
        if line.startswith(("summary:", "totals:"))
    ]
    return max(found, default=0)


def run_instructions(args: argparse.Namespace, port: str) -> dict[str, float]:
    """Per agent run, by difference between ``n`` and ``3n`` orders (what is counted once per
    batch, the gather and the last flush, cancels out)."""
    found = {}
    for subject in COUNTED:
        small = counted(subject, args, port, args.count_orders)
        large = counted(subject, args, port, 3 * args.count_orders)
        found[subject] = (large - small) / (5 * 2 * args.count_orders)
        print(f"  {subject}: {found[subject] / 1e6:.2f} M instructions per agent run", flush=True)
    return found


COMPONENTS = [
    ("order_tracking/answers", "ours: answer check"),
    ("order_tracking/ops/metrics", "ours: metrics"),
    ("prometheus_client", "ours: metrics"),
    ("order_tracking/ops/logs", "ours: logs"),
    ("logging/", "ours: logs"),
    ("order_tracking/tracing", "ours: trace files and redaction"),
    ("order_tracking/", "ours: runner, guards, wrappers"),
    ("stamina/", "ours: runner, guards, wrappers"),
    ("monocle_apptrace/", "Monocle"),
    ("adk/sessions/", "ADK session service"),
    ("adk/telemetry", "ADK's OpenTelemetry spans"),
    ("adk/models/lite_llm", "ADK's LiteLLM adapter"),
    ("adk/", "ADK runner and flows"),
    ("genai/", "ADK runner and flows"),
    ("litellm/litellm_core_utils/litellm_logging", "LiteLLM logging"),
    ("litellm/cost_calculator", "LiteLLM cost"),
    ("litellm/", "LiteLLM request/response"),
    ("openai/", "openai SDK + HTTP"),
    ("httpx/", "openai SDK + HTTP"),
    ("httpcore/", "openai SDK + HTTP"),
    ("h11/", "openai SDK + HTTP"),
    ("anyio/", "openai SDK + HTTP"),
    ("aiohttp/", "openai SDK + HTTP"),
    ("benchmarks/", "the benchmark's own loop"),
]
# Shared by every component: a frame here counts for whoever called it.
_PASS_THROUGH = ("opentelemetry/", "pydantic", "typing_extensions", "wrapt/", "<frozen")


def component(frames: list[str]) -> str:
    for frame in reversed(frames):
        found = re.search(r"\(([^()]*):\d+\)$", frame)
        path = found.group(1) if found else frame
        if any(p in path for p in _PASS_THROUGH):
            continue
        for prefix, name in COMPONENTS:
            if prefix in path:
                return name
    return "asyncio and the rest of the standard library"


THREADS = {  # the other threads of a process, by name (a pool's threads add up)
    "trace-files": "ours: trace files and redaction",
    "ThreadPoolExecutor-": "LiteLLM logging (its thread pool)",
    "asyncio": "asyncio's to_thread pool",
}


def run_profile(args: argparse.Namespace, port: str, subject: str) -> dict[str, float]:
    """CPU seconds of the batch by component: the main thread's CPU split by its stack
    samples (``sampler``), the other threads' CPU by thread (start-up excluded)."""
    with tempfile.TemporaryDirectory(prefix="bench-profile-") as tmp:
        raw = Path(tmp) / "profile.txt"
        spec = measure_spec(subject, args, args.orders) | {"instrument": False, "sample": str(raw)}
        inner = (
            [*plain_adk(args), "--sample", str(raw)]
            if subject == "plain ADK"
            else [PYTHON, "-m", "benchmarks.measure", json.dumps(spec)]
        )
        env = _env(port, Path(tmp), {"BENCH_PROVIDER_PORT": port})
        subprocess.run(inner, cwd=ROOT, env=env, check=True, capture_output=True)
        if args.keep:
            shutil.copy(raw, Path(args.keep) / f"profile-{subject.replace(' ', '_')}.txt")
        samples: collections.Counter[str] = collections.Counter()
        threads: dict[str, float] = {}
        for line in raw.read_text().splitlines():
            if line.startswith("#thread "):
                _, name, seconds = line.split()
                threads[name] = float(seconds)
                continue
            stack, _, number = line.rpartition(" ")
            samples[component(stack.split(";"))] += int(number)
    main_cpu, sampled = threads.pop("main", 0.0), sum(samples.values())
    cpu: collections.Counter[str] = collections.Counter(
        {name: main_cpu * n / sampled for name, n in samples.items()}
    )
    for name, seconds in threads.items():
        if name != "sampler":
            cpu[next((c for p, c in THREADS.items() if name.startswith(p)), "other threads")] += (
                seconds
            )
    return dict(cpu.most_common())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--only", default="whole,instructions,profile")
    parser.add_argument("--orders", type=int, default=100)
    parser.add_argument("--in-flight", type=int, default=100)
    parser.add_argument("--latency", type=float, default=0.3)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--count-orders", type=int, default=4, help="callgrind: n and 3n orders")
    parser.add_argument("--base", help="another checkout (with its .venv) to run as 'before'")
    parser.add_argument("--keep", help="a folder to keep the raw stack samples in")
    parser.add_argument("--subjects", default="ours, traced;plain ADK", help="for profile")
    args = parser.parse_args()
    only = set(args.only.split(","))
    with provider() as port:
        if "whole" in only:
            print("\n".join(whole_table(run_whole(args, port))), flush=True)
        per_run_counts = run_instructions(args, port) if "instructions" in only else {}
        if "profile" in only:
            for subject in args.subjects.split(";"):
                cpu = run_profile(args, port, subject)
                total = sum(cpu.values())
                per_run = per_run_counts.get(subject) if "instructions" in only else None
                print(
                    f"\n{subject}: CPU ms per agent run by component (batch, 5 x {args.orders} runs)"
                )
                for name, seconds in cpu.items():
                    share = (
                        f", {per_run * seconds / total / 1e6:.2f} M instructions" if per_run else ""
                    )
                    print(f"  {name}: {1000 * seconds / (5 * args.orders):.2f} ms{share}")


if __name__ == "__main__":
    main()
