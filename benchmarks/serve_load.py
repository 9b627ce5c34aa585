"""A load test of ``autoencode serve`` on loopback: batched against the same service unbatched.

For each run folder, the service starts in a process of its own twice: batching on (the
defaults: up to 256 images a batch, up to 2 ms of waiting while requests arrive) and off
(``--max-batch 1``: each request runs alone, through the same queue). Against each, wrk (Debian's
``wrk``, a C load generator: little CPU of its own, so the service gets the cores) POSTs one
PNG of the run's first test image to ``/embed`` from 1, 8 and 64 concurrent connections, each
for a fixed time, then stops by itself: requests/s, p50 and p99 latency, and the responses that
were not 2xx. Then the batched service takes at least 10,000 more requests at 64 connections
while its resident memory (VmRSS) is read every quarter second: its first, largest and last
reading. Before all that, the time from starting ``autoencode serve`` to its first answer from
``/health`` (median of 5 starts; the first start warms the disk cache and is reported apart).

Writes benchmarks/results/serve_load.json.

    apt-get install wrk
    python benchmarks/serve_load.py runs/demo/stacked runs/demo/conv --seconds 10
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from PIL import Image

import autoencode as ae

HERE = Path(__file__).resolve().parent
OUT = HERE / "results" / "serve_load.json"
AUTOENCODE = [sys.executable, "-m", "autoencode"]
LUA = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "image/png"
local f = io.open(os.getenv("AUTOENCODE_BODY"), "rb"); wrk.body = f:read("*all"); f:close()
done = function(summary, latency, requests)
  io.write(string.format('JSON {"requests": %d, "seconds": %.3f, "non_2xx": %d, "socket_errors": %d, "p50_ms": %.3f, "p99_ms": %.3f}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


class Service:
    """``autoencode serve RUN --port 0 ARGS`` in a process of its own, until stopped."""

    def __init__(self, run: str, *args: str):
        started = time.perf_counter()
        self.process = subprocess.Popen([*AUTOENCODE, "serve", run, "--port", "0", *args],
                                        stdout=subprocess.PIPE, text=True)  # fmt: skip
        self.url = re.search(r"at (http://\S+) ", self.process.stdout.readline()).group(1)
        self.started = self._wait(lambda h: True) - started

    def _wait(self, until) -> float:
        while True:
            try:
                health = httpx.get(self.url + "/health", timeout=5)
                if health.status_code == 200 and until(health.json()):
                    return time.perf_counter()
            except httpx.TransportError:
                pass
            time.sleep(0.01)

    def ready(self) -> None:
        self._wait(lambda h: h["ready"])

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(re.search(r"VmRSS:\s+(\d+) kB", status).group(1)) / 1024

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(60)


def wrk(url: str, clients: int, seconds: float, body: Path, script: Path) -> dict:
    out = subprocess.run(["wrk", "-t1", f"-c{clients}", f"-d{math.ceil(seconds)}s", "-s", str(script),
                          url + "/embed"], capture_output=True, text=True, check=True,
                         env={**os.environ, "AUTOENCODE_BODY": str(body)})  # fmt: skip
    result = json.loads(out.stdout.split("JSON ", 1)[1].splitlines()[0])
    return {"clients": clients, **result,
            "requests_per_second": round(result["requests"] / result["seconds"], 1)}  # fmt: skip


def load(run: str, clients: list[int], seconds: float, body: Path, script: Path) -> dict:
    rows = {}
    for mode, args in (("batched", []), ("unbatched", ["--max-batch", "1"])):
        service = Service(run, *args)
        service.ready()
        rows[mode] = [wrk(service.url, c, seconds, body, script) for c in clients]
        if mode == "batched":
            rows["memory"] = memory(service, rows[mode][-1]["requests_per_second"], body, script)
        service.stop()
    return rows


def memory(service: Service, rate: float, body: Path, script: Path, requests: int = 10_000) -> dict:
    """Resident memory while the service takes at least ``requests`` at 64 connections."""
    readings, done = [service.rss_mb()], threading.Event()

    def read():
        while not done.wait(0.25):
            readings.append(service.rss_mb())

    reader = threading.Thread(target=read)
    reader.start()
    result = wrk(service.url, 64, max(5, 1.5 * requests / rate), body, script)
    done.set()
    reader.join()
    return {"requests": result["requests"], "non_2xx": result["non_2xx"],
            "rss_mb_first": round(readings[0], 1), "rss_mb_peak": round(max(readings), 1),
            "rss_mb_last": round(readings[-1], 1), "readings": len(readings)}  # fmt: skip


def startup(run: str, times: int = 5) -> dict:
    seconds = []
    for _ in range(times):
        service = Service(run)
        seconds.append(service.started)
        service.stop()
    return {"first": round(seconds[0], 2), "then": [round(s, 2) for s in seconds[1:]],
            "median_after_the_first": round(statistics.median(seconds[1:]), 2)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--seconds", type=float, default=10, help="each load (default 10)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8, 64])
    args = parser.parse_args()
    if not shutil.which("wrk"):
        sys.exit("serve_load needs wrk: apt-get install wrk")
    results = []
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "post.lua"
        script.write_text(LUA)
        for run in args.runs:
            body = Path(folder) / "image.png"
            Image.fromarray(ae.load_run(run).load_dataset().test.images[0]).save(body)
            result = {"run": run, "startup_seconds": startup(run),
                      **load(run, args.clients, args.seconds, body, script)}  # fmt: skip
            top = {m: result[m][-1]["requests_per_second"] for m in ("batched", "unbatched")}
            result["ratio_at_most_clients"] = round(top["batched"] / top["unbatched"], 2)
            print(json.dumps(result))
            results.append(result)
    OUT.write_text(json.dumps({"machine": f"{os.cpu_count()} cores", "seconds": args.seconds,
                               "results": results}, indent=1) + "\n")  # fmt: skip


if __name__ == "__main__":
    main()
