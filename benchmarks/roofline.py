"""Roofline: how much of this machine's arithmetic peak each preset's training step reaches, and
where the rest of its time goes.

The peak is measured here, through torch, with the threads the trainer would use (every core the
process may run on): a large float32 matrix product (``torch.mm`` of two n × n matrices, 2n³
FLOPs) and a large channels-last convolution (``F.conv2d``, batch 32, 128 → 128 channels, 56 × 56,
3 × 3: 2·N·Cout·H·W·Cin·k² FLOPs); each is warmed up, then timed over several calls, and its best
call is its rate; the peak is the larger of the two. The matrix product is also timed again for
``--glimpse-seconds`` just before every preset's steps (a glimpse), and the peak is the best of all
of them. A large tensor copy gives the memory bandwidth (bytes read + written per second) beside
it. The same is measured at each thread count a preset trains with, so a preset on one thread is
also read against a one-thread peak.

For each preset, its model (``build_model``, in its memory format), its optimizer and a batch of
its batch size of random images, one training step is the trainer's (``Trainer._step``): forward,
``zero_grad(set_to_none=True)``, backward, ``optimizer.step()``, on ``auto_threads`` threads,
denormal floats flushed to zero (``denormals_flushed``: without it, steps on random images
slowed as the model's values sank below float32's normal range, ``conv-fast``'s from 15 to 40 ms
in a few seconds). Its FLOPs are counted by ``torch.utils.flop_counter.FlopCounterMode`` (matrix
products and convolutions, forward and backward; elementwise ops count nothing); after warm-up
steps its time is its best step of at least ``--steps`` steps (and ``--seconds`` of them; the
median is written beside it); achieved FLOP/s is FLOPs per step over that best step, and its
share of the peak is that over the peak. Then ``torch.profiler`` records ``--profile-steps``
steps, and the profiled step's time is split (each op's self time, attributed to the outermost
op the Python code called):

- FLOP ops: matrix products and convolutions (``linear``, ``addmm``, ``mm``, ``conv2d``,
  ``convolution_backward``, the mkldnn / cuDNN kernels, and the ops inside them);
- elementwise + loss: every other op of the forward and backward passes (activations, the loss,
  views, reductions, allocations);
- optimizer: ``Optimizer.zero_grad`` and ``Optimizer.step`` from their start to their end, their
  Python loop included (on a GPU: their kernels' time);
- outside ops: the rest of the step, time in no op at all: Python, the autograd engine and the
  dispatcher between ops (on a GPU: the time the GPU waits, launch-bound). Its microseconds per
  step are the framework's overhead.

The four are fractions of the profiled step, which the profiler itself lengthens somewhat (both
step times are written). Everything is measured ``--repeat`` times (5) and more, one
repetition after the other, until ``--minutes`` (5) have passed, and each preset's spread
(max / min − 1) of achieved FLOP/s over the repetitions is written; the table shows each
preset's best step over all repetitions against the best peak at each thread count. Best against
best: on a shared machine time lost to other work only ever lengthens a call, so the fastest call
is the one nearest what the machine can do, and, looked for in many short windows spread over
minutes (the presets' steps and the glimpses of the peak alike), it is found again on a second
run. The medians are not: on this 2-core machine they moved by 20 to 60% from one repetition to
the next, and the host's busy spells lasted minutes (two runs in nine, of 2 and 4 minutes, had
every ``conv-fast`` step 30% slower than the others' best).

Before each preset's window a core probe (a 1 MiB copy, in the L2 cache) gives what the cores
deliver at that moment: in a busy spell it fell to a third while this machine's own load stayed
under 1%. A window is quiet when its probe is within 10% of the best one (of this run, or of the
run given by ``--against``), and the run goes on, up to ``--patience`` minutes (5) more, until
every preset has 2 quiet windows and its best step seen twice (a second window's best within 10%
of it: ``conv-fast``'s windows were 15 or 20 to 25 ms, whatever the probe said, and a best met
once was not met again by the next run); both are in the JSON and under the table. With
``--against PREVIOUS.json`` the shares are also compared with that run's, and the script says
when this run never saw the cores as fast as that one did.

    python benchmarks/roofline.py                    # the README's table, 5 minutes
    python benchmarks/roofline.py --against benchmarks/results/roofline.json --out /tmp/r2.json
    python benchmarks/roofline.py --repeat 1 --minutes 0 --patience 0   # one repetition, 30 s
    python benchmarks/roofline.py --device cuda      # the same on a GPU, when one is lent
    python benchmarks/roofline.py --smoke --out /tmp/r.json   # tiny sizes, seconds

Writes benchmarks/results/roofline.json (the machine: torch, threads, CPU model, device; the peak
measurements; each preset's row of every repetition) and prints the table as Markdown.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import time
from pathlib import Path

HERE = Path(__file__).parent

SEED = ["stacked", "conv", "vae"]
FAST = ["stacked-fast", "conv-fast", "vae-fast"]
SMOKE_PRESETS = ["stacked", "conv"]
# sizes of the peak measurements: matrix side; conv (batch, channels, side); copied float32s
SIZES = {
    "cpu": {"mm": 2048, "conv": (32, 128, 56), "copy": 64 * 2**20},
    "cuda": {"mm": 8192, "conv": (128, 256, 56), "copy": 256 * 2**20},
    "smoke": {"mm": 256, "conv": (2, 16, 16), "copy": 2**20},
}
PROBE_FLOATS = 2**18  # the core probe: a 1 MiB copy, in every core's L2 cache
QUIET = 0.9  # a window is quiet when its core probe is within 10% of the best one
QUIET_WINDOWS = 2  # the run goes on (up to --patience) until every preset has this many,
SEEN_TWICE = 1.10  # and its best step has a second within 10% of it
# an op whose name holds one of these does arithmetic FlopCounterMode counts (aten::mm, addmm,
# bmm, baddbmm, linear, matmul, conv2d, convolution, convolution_backward, mkldnn_convolution ...)
FLOP_OPS = ("mm", "linear", "matmul", "conv", "einsum")
OPTIMIZER_RANGES = ("Optimizer.step", "Optimizer.zero_grad")
STEP_RANGE = "roofline.step"
GIVE_UP_S = 20.0
CATEGORIES = ("flop_ops", "elementwise_loss", "optimizer", "outside_ops")


# -- timing ---------------------------------------------------------------------------------------
def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn, device, reps: int, seconds: float, warmup: int = 1, most: int = 100_000) -> list:
    """Seconds per call of ``fn``: ``warmup`` calls untimed, then at least ``reps`` calls and
    ``seconds`` of them (at most ``most``); but no more than 3 calls once ``GIVE_UP_S`` have
    passed (a core taken by another process can make every call of a threaded op 50× slower)."""
    for _ in range(warmup):
        fn()
    _sync(device)
    times: list[float] = []
    began = time.perf_counter()
    while len(times) < most and (len(times) < reps or time.perf_counter() - began < seconds):
        if len(times) >= 3 and time.perf_counter() - began > GIVE_UP_S:
            break
        start = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - start)
    return times


class OthersLoad:
    """The share of this machine's cores that other processes kept busy while it was open
    (from /proc/stat, less this process's own CPU time); None where there is no /proc/stat. A
    measurement made while it is more than a few percent is not this machine's."""

    def __enter__(self):
        self.value = None
        self._start = self._read()
        return self

    def __exit__(self, *exc):
        end = self._read()
        if self._start and end:
            (busy0, ours0, wall0), (busy1, ours1, wall1) = self._start, end
            cpus = os.cpu_count() or 1
            self.value = max(((busy1 - busy0) - (ours1 - ours0)) / ((wall1 - wall0) * cpus), 0.0)

    @staticmethod
    def _read():
        stat = Path("/proc/stat")
        if not stat.exists():
            return None
        fields = [int(v) for v in stat.read_text().splitlines()[0].split()[1:]]
        busy = (sum(fields[:8]) - fields[3] - fields[4]) / os.sysconf("SC_CLK_TCK")  # not idle
        own = os.times()
        return busy, own.user + own.system, time.perf_counter()


def _rate(work: float, times: list[float]) -> dict:
    """Work per second (in units of 1e9) at the best and the median call."""
    return {"best_s": min(times), "median_s": statistics.median(times), "reps": len(times),
            "best_g": work / min(times) / 1e9,
            "median_g": work / statistics.median(times) / 1e9}  # fmt: skip


# -- the peak -------------------------------------------------------------------------------------
def measure_peak(device, threads: int, sizes: dict, reps: int, seconds: float) -> dict:
    """The matrix product's and the convolution's GFLOP/s, the copy's GB/s, on ``threads``."""
    import torch

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    n, (batch, channels, side) = sizes["mm"], sizes["conv"]
    mm = _rate(2 * n**3, timed(_matmul(n, device), device, reps, seconds))
    flops = 2 * batch * channels * side * side * channels * 9
    conv = _rate(flops, timed(_conv(batch, channels, side, device), device, reps, seconds))
    copy = _rate(2 * 4 * sizes["copy"], timed(_copy(sizes["copy"], device), device, reps, seconds))
    return {"threads": threads,
            "mm": {"n": n, "gflops": mm["best_g"], "median_gflops": mm["median_g"], **mm},
            "conv": {"shape": [batch, channels, side, side], "kernel": 3, "gflops": conv["best_g"],
                     "median_gflops": conv["median_g"], **conv},
            "copy": {"floats": sizes["copy"], "gbps": copy["best_g"],
                     "median_gbps": copy["median_g"], **copy},
            "peak_gflops": max(mm["best_g"], conv["best_g"])}  # fmt: skip


def _matmul(n: int, device):
    import torch

    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    return lambda: torch.mm(a, b)


def _conv(batch: int, channels: int, side: int, device):
    import torch
    import torch.nn.functional as F

    x = torch.randn(batch, channels, side, side, device=device)
    x = x.contiguous(memory_format=torch.channels_last)
    w = torch.randn(channels, channels, 3, 3, device=device)
    w = w.contiguous(memory_format=torch.channels_last)
    return lambda: F.conv2d(x, w, padding=1)


def _copy(floats: int, device):  # float32s: 4 bytes read and 4 written each
    import torch

    src = torch.rand(floats, device=device)
    dst = torch.empty_like(src)
    return lambda: dst.copy_(src)


# -- one preset -----------------------------------------------------------------------------------
def setup_preset(name: str, device, threads: int | None = None):
    """The preset's model, optimizer and a batch, and its training step (the trainer's)."""
    import torch

    from autoencode.models.autoencoder import build_model
    from autoencode.presets import get_preset
    from autoencode.training.device import auto_threads

    preset = get_preset(name)
    torch.manual_seed(0)
    model = build_model(preset.model)
    model = model.to(device, memory_format=model.memory_format)
    model.train()
    optimizer = preset.training.make_optimizer(model.parameters())
    batch = preset.training.batch_size
    x = torch.rand(batch, *preset.model.input_shape, device=device)
    x = x.contiguous(memory_format=model.memory_format)

    def forward():
        return model(x)

    def step(out=None):
        out = model(x) if out is None else out
        optimizer.zero_grad(set_to_none=True)
        out.loss.backward()
        optimizer.step()

    threads = threads or auto_threads(model, batch)
    return {"model": model, "batch": batch, "threads": threads, "forward": forward, "step": step,
            "parameters": sum(p.numel() for p in model.parameters()),
            "optimizer": preset.training.optimizer}  # fmt: skip


def count_flops(setup: dict) -> dict:
    """FLOPs of one step, forward and forward + backward (FlopCounterMode), per image too."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        out = setup["forward"]()
        forward = counter.get_total_flops()
        setup["step"](out)
        total = counter.get_total_flops()
        by_op = {str(op): n for op, n in counter.get_flop_counts().get("Global", {}).items()}
    batch = setup["batch"]
    return {"step": total, "forward": forward, "per_image": total / batch,
            "forward_per_image": forward / batch, "by_op": by_op}  # fmt: skip


def _category(event) -> str:
    """An op's category: that of the outermost op above it (the one Python called), or the
    optimizer's when inside ``Optimizer.step`` / ``zero_grad``."""
    outermost, parent = event, event.cpu_parent
    while parent is not None:
        if parent.name.startswith(OPTIMIZER_RANGES):
            return "optimizer"
        if parent.name.startswith("aten::"):
            outermost = parent
        parent = parent.cpu_parent
    name = outermost.name.removeprefix("aten::")
    return "flop_ops" if any(k in name for k in FLOP_OPS) else "elementwise_loss"


def profile_steps(setup: dict, device, steps: int) -> dict:
    """``steps`` steps under torch.profiler: the step's time split into the four categories
    (fractions of the profiled step), the framework's overhead per step, the top 5 ops."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile, record_function

    gpu = device.type == "cuda"
    activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if gpu else [])
    _sync(device)
    with profile(activities=activities) as prof:
        for _ in range(steps):
            with record_function(STEP_RANGE):
                setup["step"]()
                _sync(device)

    def own(e) -> float:  # an event's (or an average's) own µs: CPU self time, or its kernels'
        return e.self_device_time_total if gpu else e.self_cpu_time_total

    events = [e for e in prof.events() if e.device_type == DeviceType.CPU]
    step_us = sum(e.cpu_time_total for e in events if e.name == STEP_RANGE)
    spent = dict.fromkeys(CATEGORIES, 0.0)
    for e in events:
        if e.name.startswith(OPTIMIZER_RANGES):
            if not gpu and not _inside(e, OPTIMIZER_RANGES):
                spent["optimizer"] += e.cpu_time_total  # its whole span, Python included
        elif e.name.startswith("aten::"):
            category = _category(e)
            if category != "optimizer" or gpu:
                spent[category] += own(e)
    spent["outside_ops"] = max(step_us - sum(spent.values()), 0.0)
    shares = {k: v / step_us for k, v in spent.items()}
    averages = sorted((a for a in prof.key_averages() if a.key != STEP_RANGE), key=own,
                      reverse=True)  # fmt: skip
    top = [{"op": a.key, "calls_per_step": a.count / steps,
            "self_us_per_step": own(a) / steps, "share": own(a) / step_us}
           for a in averages[:5]]  # fmt: skip
    ops = sum(a.count for a in prof.key_averages() if a.key.startswith("aten::")) / steps
    return {"steps": steps, "profiled_step_ms": step_us / steps / 1e3, "shares": shares,
            "us_per_step": {k: v / steps for k, v in spent.items()},
            "overhead_us_per_step": spent["outside_ops"] / steps, "aten_ops_per_step": ops,
            "top_ops": top}  # fmt: skip


def _inside(event, names: tuple[str, ...]) -> bool:
    parent = event.cpu_parent
    while parent is not None:
        if parent.name.startswith(names):
            return True
        parent = parent.cpu_parent
    return False


def measure_preset(name: str, device, args) -> dict:
    """One preset's row: FLOPs, step time (best and median), achieved GFLOP/s, the profile."""
    import torch

    setup = setup_preset(name, device, args.threads)
    torch.set_num_threads(setup["threads"])
    setup["step"]()  # the first step builds the optimizer's state and the mkldnn primitives
    flops = count_flops(setup)
    times = timed(setup["step"], device, args.steps, args.seconds, warmup=args.warmup)
    best, median = min(times), statistics.median(times)
    achieved = flops["step"] / best / 1e9
    profiled = profile_steps(setup, device, args.profile_steps)
    return {"preset": name, "batch": setup["batch"], "threads": setup["threads"],
            "parameters": setup["parameters"], "optimizer": setup["optimizer"], "flops": flops,
            "step_ms_best": best * 1e3, "step_ms": median * 1e3, "steps_timed": len(times),
            "achieved_gflops": achieved, "median_gflops": flops["step"] / median / 1e9,
            "profile": profiled}  # fmt: skip


def with_shares(row: dict, peak: dict) -> dict:
    """The row with its achieved GFLOP/s as shares of the peak, and of the peak at its threads."""
    own = peak["at_threads"][row["threads"]]["peak_gflops"]
    return {**row, "share_of_peak": row["achieved_gflops"] / peak["peak_gflops"],
            "share_of_peak_at_threads": row["achieved_gflops"] / own}  # fmt: skip


# -- the whole measurement ------------------------------------------------------------------------
def measure(args, device, sizes: dict, presets: list[str]) -> dict:
    """The peak (on every core, and at each thread count a preset uses), then every preset."""
    from autoencode.training.device import available_cores

    cores = available_cores()
    wanted = {cores}
    for name in presets:  # the thread counts the presets will use
        wanted.add(setup_preset(name, device, args.threads)["threads"])
    at = {}
    for t in sorted(wanted, reverse=True):
        with OthersLoad() as others:
            at[t] = measure_peak(device, t, sizes, args.peak_reps, args.peak_seconds)
        at[t]["others_load"] = others.value
        at[t]["mm_glimpses"] = []
    peaks = {"threads": cores, "peak_gflops": at[cores]["peak_gflops"], "at_threads": at}
    rows, mm, probe = [], _matmul(sizes["mm"], device), _copy(PROBE_FLOATS, device)
    for name in presets:
        core = core_probe(probe, device, cores)
        for t in sorted(wanted):  # the peak is looked at again beside every preset's steps
            at[t]["mm_glimpses"].append(glimpse(mm, 2 * sizes["mm"] ** 3, device, t, args))
        with OthersLoad() as others:
            rows.append(measure_preset(name, device, args))
        rows[-1]["others_load"], rows[-1]["core_gbps"] = others.value, core
    for p in at.values():
        p["peak_gflops"] = max(p["peak_gflops"], *p["mm_glimpses"])
    peaks["peak_gflops"] = at[cores]["peak_gflops"]
    return {"peak": peaks, "rows": [with_shares(r, peaks) for r in rows]}


def core_probe(probe, device, cores: int) -> float | None:
    """The CPU's 1 MiB copy, best GB/s over 20 ms: what the cores give now. When the host is
    busy this falls with the presets' steps (to a third here, as ``conv-fast``'s step grew from 15
    to 25 ms), whatever this machine's own load. None on a GPU."""
    import torch

    if device.type != "cpu":
        return None
    torch.set_num_threads(cores)
    return _rate(2 * 4 * PROBE_FLOATS, timed(probe, device, 20, 0.02))["best_g"]


def quiet_windows(runs: list[dict], presets: list[str], reference: float | None) -> list[int]:
    """Per preset, its windows whose core probe was within 10% of ``reference`` (or of the best
    probe of these runs, when higher)."""
    probes = [r["core_gbps"] for run in runs for r in run["rows"] if r["core_gbps"]]
    if not probes:
        return [len(runs)] * len(presets)
    best = max([*probes, reference or 0])
    return [sum((run["rows"][i]["core_gbps"] or 0) >= QUIET * best for run in runs)
            for i in range(len(presets))]  # fmt: skip


def best_seen_twice(runs: list[dict], presets: list[str]) -> list[bool]:
    """Per preset, whether a second window's best step came within 10% of the best one: a best
    seen once may be a fast spell the next run does not meet (``conv-fast``'s windows were 15
    or 20 to 25 ms, whatever the probe said)."""
    seen = []
    for i in range(len(presets)):
        bests = sorted(run["rows"][i]["step_ms_best"] for run in runs)
        seen.append(len(bests) > 1 and bests[1] <= SEEN_TWICE * bests[0])
    return seen


def settled(runs: list[dict], presets: list[str], reference: float | None) -> bool:
    """Every preset has its quiet windows, and its best step seen twice."""
    quiet = min(quiet_windows(runs, presets, reference)) >= QUIET_WINDOWS
    return quiet and all(best_seen_twice(runs, presets))


def glimpse(mm, flops: float, device, threads: int, args) -> float:
    """The matrix product's best GFLOP/s over ``--glimpse-seconds`` (at least 3 calls)."""
    import torch

    torch.set_num_threads(threads)
    return _rate(flops, timed(mm, device, 3, args.glimpse_seconds))["best_g"]


def slim(run: dict) -> dict:
    """A repetition as written: its rows without their FLOP counts and profiles (the table's
    rows keep theirs), so that a 5-minute run's file stays small."""
    return {**run, "rows": [{k: v for k, v in r.items() if k not in ("flops", "profile")}
                            for r in run["rows"]]}  # fmt: skip


def spread(values: list[float]) -> float:
    return max(values) / min(values) - 1 if min(values) > 0 else float("nan")


def best_peak(peaks: list[dict]) -> dict:
    """The peak over repetitions: at each thread count, the best matrix product, convolution and
    copy of any repetition, every glimpse, and the largest of them as the peak."""
    at = {}
    for t in peaks[0]["at_threads"]:
        seen = [p["at_threads"][t] for p in peaks]
        loads = [m["others_load"] for m in seen if m["others_load"] is not None]
        at[t] = {"threads": seen[0]["threads"],
                 "mm": max((m["mm"] for m in seen), key=lambda r: r["gflops"]),
                 "conv": max((m["conv"] for m in seen), key=lambda r: r["gflops"]),
                 "copy": max((m["copy"] for m in seen), key=lambda r: r["gbps"]),
                 "mm_glimpses": [g for m in seen for g in m["mm_glimpses"]],
                 "peak_gflops": max(m["peak_gflops"] for m in seen),
                 "others_load": max(loads, default=None)}  # fmt: skip
    threads = peaks[0]["threads"]
    return {"threads": threads, "peak_gflops": at[threads]["peak_gflops"], "at_threads": at}


def summarise(runs: list[dict], presets: list[str], peak: dict) -> list[dict]:
    """Per preset: the best repetition's row (by achieved GFLOP/s), its shares of the best peak,
    the spread over all repetitions."""
    table = []
    for i in range(len(presets)):
        rows = sorted((run["rows"][i] for run in runs), key=lambda r: r["achieved_gflops"])
        row = with_shares(rows[-1], peak)
        row["repeats"] = len(rows)
        row["spread"] = {"achieved_gflops": spread([r["achieved_gflops"] for r in rows]),
                         "share_of_peak": spread([r["share_of_peak"] for r in rows]),
                         "step_ms_best": spread([r["step_ms_best"] for r in rows])}  # fmt: skip
        table.append(row)
    return table


def machine(device) -> dict:
    import torch

    from autoencode.training.device import available_cores

    cpu = None
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        names = [ln.split(":", 1)[1].strip() for ln in cpuinfo.read_text().splitlines()
                 if ln.startswith("model name")]  # fmt: skip
        cpu = names[0] if names else None
    info = {"torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu or platform.processor() or None,
            "cores": available_cores(), "torch_threads_default": torch.get_num_threads(),
            "mkldnn": torch.backends.mkldnn.is_available(), "device": str(device),
            "device_name": cpu}  # fmt: skip
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["tf32"] = {"matmul": torch.backends.cuda.matmul.allow_tf32,
                        "cudnn": torch.backends.cudnn.allow_tf32}  # fmt: skip
    return info


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def _load(x: float | None) -> str:
    return "?" if x is None else _pct(x)


def core_lines(report: dict) -> list[str]:
    """What the core probe saw, the best steps seen once, the comparison with an earlier run."""
    lines = []
    if report["core_gbps"] is not None:
        quiet = ", ".join(f"{r['preset']} {r['quiet_windows']}/{r['repeats']}"
                          for r in report["table"])  # fmt: skip
        lines.append(f"\nCore probe (1 MiB copy): best {report['core_gbps']:.0f} GB/s; windows "
                     f"within 10% of it: {quiet}.")  # fmt: skip
    once = [f"`{r['preset']}`" for r in report["table"] if not r["best_seen_twice"]]
    if once and len(report["runs"]) > 1:
        lines.append(f"Best step met in one window only (no second within 10% of it before "
                     f"--patience ran out; it may not come again): {', '.join(once)}.")  # fmt: skip
    against = report.get("against")
    if against:
        old = against["core_gbps"]
        if old and report["core_gbps"] and report["core_gbps"] < QUIET * old:
            lines.append(f"This run never saw the cores as fast as {against['file']} did ({old:.0f} "
                         f"GB/s): the host was busy throughout, and its rows are slow.")  # fmt: skip
        apart = ", ".join(f"{k} {_pct(v['previous'])} → {_pct(v['now'])}"
                          for k, v in against["shares"].items())  # fmt: skip
        if against["most_apart"] is not None:
            lines.append(f"Against {against['file']}: {apart}; at most "
                         f"{_pct(against['most_apart'])} apart.")  # fmt: skip
    return lines


def markdown(report: dict) -> str:
    peak = report["peak"]
    at = peak["at_threads"][peak["threads"]]
    repeated = len(report["runs"]) > 1
    lines = [f"Peak on {peak['threads']} thread(s), {report['machine']['device_name']}: "
             f"{at['peak_gflops']:.1f} GFLOP/s (best of {len(at['mm_glimpses'])} glimpses of "
             f"the matrix product beside the presets and its timing before them: "
             f"mm {at['mm']['n']}² {at['mm']['gflops']:.1f} GFLOP/s), conv "
             f"{'×'.join(map(str, at['conv']['shape']))} 3×3 {at['conv']['gflops']:.1f} GFLOP/s, "
             f"copy {at['copy']['gbps']:.1f} GB/s (others' load {_load(at['others_load'])}).",
             ""]  # fmt: skip
    for t, p in peak["at_threads"].items():
        if t != peak["threads"]:
            lines[0] += (f" On {t} thread(s): peak {p['peak_gflops']:.1f}, "
                         f"mm {p['mm']['gflops']:.1f}, "
                         f"conv {p['conv']['gflops']:.1f} GFLOP/s.")  # fmt: skip
    head = ["preset", "batch", "threads", "MFLOP/image", "step ms best (median)", "achieved GFLOP/s",
            "share of peak (at its threads)", "FLOP ops", "elementwise+loss", "optimizer",
            "outside ops", "overhead µs/step", "others' load"]  # fmt: skip
    if repeated:
        head.append("spread")
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in report["table"]:
        s = r["profile"]["shares"]
        cells = [f"`{r['preset']}`", str(r["batch"]), str(r["threads"]),
                 f"{r['flops']['per_image'] / 1e6:.2f}",
                 f"{r['step_ms_best']:.2f} ({r['step_ms']:.2f})",
                 f"{r['achieved_gflops']:.2f}",
                 f"{_pct(r['share_of_peak'])} ({_pct(r['share_of_peak_at_threads'])})",
                 *(_pct(s[k]) for k in CATEGORIES),
                 f"{r['profile']['overhead_us_per_step']:.0f}",
                 _load(r["others_load"])]  # fmt: skip
        if repeated:
            cells.append(_pct(r["spread"]["achieved_gflops"]))
        lines.append("| " + " | ".join(cells) + " |")
    loads = [r["others_load"] for r in report["table"]] + [at["others_load"]]
    if any(x is not None and x > 0.05 for x in loads):
        lines.append("\nOther processes kept over 5% of the cores busy during some of these "
                     "measurements (others' load): those rows are not this machine's; rerun them "
                     "on a quiet one.")  # fmt: skip
    lines += core_lines(report)
    lines.append("")
    for r in report["table"]:
        top = ", ".join(f"{t['op']} {_pct(t['share'])}" for t in r["profile"]["top_ops"])
        lines.append(f"- `{r['preset']}` top ops by self time: {top}")
    return "\n".join(lines)


def load_previous(path: Path, parser) -> dict:
    try:
        previous = json.loads(path.read_text())
        if not isinstance(previous, dict) or not isinstance(previous.get("table"), list):
            raise ValueError("no table")
        return previous
    except (OSError, ValueError) as e:
        parser.error(f"--against {path}: not a result of this script ({e})")


def _number(x) -> float | None:
    return float(x) if isinstance(x, (int, float)) and not isinstance(x, bool) and x > 0 else None


def compare(report: dict, previous: dict, path: Path) -> dict:
    """Each preset's share of the peak in this run and in ``previous``, and how far apart."""
    before = {r.get("preset"): r for r in previous["table"] if isinstance(r, dict)}
    shares = {}
    for row in report["table"]:
        old = _number(before.get(row["preset"], {}).get("share_of_peak"))
        if old:
            now = row["share_of_peak"]
            shares[row["preset"]] = {"previous": old, "now": now, "apart": max(now, old) /
                                     min(now, old) - 1}  # fmt: skip
    return {"file": str(path), "core_gbps": _number(previous.get("core_gbps")), "shares": shares,
            "most_apart": max((v["apart"] for v in shares.values()), default=None)}  # fmt: skip


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--presets", nargs="+", help="default: stacked conv vae + the fast ones")
    parser.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    parser.add_argument("--threads", type=int, help="every preset on these threads (default: "
                        "the trainer's choice, auto_threads)")  # fmt: skip
    parser.add_argument("--repeat", type=int, default=5,
                        help="measure everything at least N times; the best counts (default 5)")  # fmt: skip
    parser.add_argument("--minutes", type=float, default=5.0,
                        help="and go on repeating until this long has passed (default 5)")  # fmt: skip
    parser.add_argument("--patience", type=float, default=5.0,
                        help="minutes more, at most, for quiet windows and bests met twice (default 5)")  # fmt: skip
    parser.add_argument("--against", type=Path, metavar="PREVIOUS.json",
                        help="an earlier run of this script on this machine: its core probe is "
                        "the quiet one to wait for, and the shares are compared with it")  # fmt: skip
    parser.add_argument("--steps", type=int, default=20, help="timed steps, at least")
    parser.add_argument("--seconds", type=float, default=0.5, help="timed seconds, at least")
    parser.add_argument("--warmup", type=int, default=5, help="untimed steps first")
    parser.add_argument("--profile-steps", type=int, default=10)
    parser.add_argument("--peak-reps", type=int, default=5)
    parser.add_argument("--peak-seconds", type=float, default=0.5)
    parser.add_argument("--glimpse-seconds", type=float, default=0.3,
                        help="the matrix product timed again before each preset (default 0.3)")  # fmt: skip
    parser.add_argument("--smoke", action="store_true", help="tiny peak sizes, 3 timed steps, "
                        "stacked and conv: seconds")  # fmt: skip
    parser.add_argument("--out", type=Path, default=HERE / "results" / "roofline.json")
    args = parser.parse_args(argv)
    if args.smoke:
        args.repeat, args.minutes, args.patience = 1, 0.0, 0.0
        args.steps, args.seconds, args.warmup, args.profile_steps = 3, 0.0, 1, 2
        args.peak_reps, args.peak_seconds, args.glimpse_seconds = 3, 0.0, 0.0
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda: torch sees no CUDA device")
    previous = load_previous(args.against, parser) if args.against else None
    reference = _number(previous.get("core_gbps")) if previous else None
    device = torch.device(args.device)
    presets = args.presets or (SMOKE_PRESETS if args.smoke else SEED + FAST)
    sizes = SIZES["smoke" if args.smoke else args.device]
    started, threads = time.perf_counter(), torch.get_num_threads()
    from autoencode.io import atomic_write
    from autoencode.training.device import denormals_flushed

    try:
        with denormals_flushed():  # as the trainer does
            runs = [measure(args, device, sizes, presets)]
            while (
                len(runs) < args.repeat
                or time.perf_counter() - started < 60 * args.minutes
                or (
                    not settled(runs, presets, reference)
                    and time.perf_counter() - started < 60 * (args.minutes + args.patience)
                )
            ):
                runs.append(measure(args, device, sizes, presets))
    finally:
        torch.set_num_threads(threads)
    peaks = [run["peak"] for run in runs]
    peak = best_peak(peaks)
    names = ("device", "threads", "repeat", "minutes", "patience", "steps", "seconds", "warmup",
             "profile_steps", "peak_reps", "peak_seconds", "glimpse_seconds", "smoke")  # fmt: skip
    settings = {k: getattr(args, k) for k in names}
    report = {"machine": machine(device), "settings": {**settings, "presets": presets,
                                                       "sizes": sizes},
              "peak": peak, "peak_spread": spread([p["peak_gflops"] for p in peaks]),
              "table": summarise(runs, presets, peak), "runs": [slim(run) for run in runs],
              "wall_s": time.perf_counter() - started}  # fmt: skip
    probes = [r["core_gbps"] for run in runs for r in run["rows"] if r["core_gbps"]]
    report["core_gbps"] = max(probes, default=None)
    quiet, twice = quiet_windows(runs, presets, reference), best_seen_twice(runs, presets)
    for row, n, seen in zip(report["table"], quiet, twice, strict=True):
        row["quiet_windows"], row["best_seen_twice"] = n, seen
    if previous:
        report["against"] = compare(report, previous, args.against)
    atomic_write(
        args.out, lambda tmp: tmp.write_text(json.dumps(report, indent=2, default=float) + "\n")
    )
    print(markdown(report))
    print(f"wall time {report['wall_s']:.0f} s; {args.out}")
    return report


if __name__ == "__main__":
    main()
