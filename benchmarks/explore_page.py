"""The explorer page at Fashion-MNIST's full size: file size, and time until it is interactive.

For a trained run (default: the demo's stacked run), writes ``autoencode explore`` pages for
the validation split (5,000 points) and for all 70,000 images, then opens each in headless
Chromium (Debian's, through Selenium) ``--repeats`` times, a fresh tab each time, and reads:

- ``ready_ms``: from navigation start until every point is drawn and the page answers input
  (the page's own ``explore.readyAt``, ``performance.now()`` at that moment);
- ``parse_ms``: the same file with its script taken out, until its ``load`` event: what Chromium
  spends reading that many bytes of HTML, the floor under ready_ms (its peer in the same run);
- ``redraw_ms``: the median time of one full redraw after a wheel zoom (all points).

Medians over the repeats. Writes benchmarks/results/explore_page.json.

    python benchmarks/explore_page.py runs/demo/stacked --repeats 5
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import tempfile
import time
from pathlib import Path

import autoencode as ae

HERE = Path(__file__).resolve().parent
FLAGS = [  # as the machine's own check starts it: no background connections, a fresh profile
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--window-size=1400,900",
]  # fmt: skip


def browser():
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for flag in FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service("/usr/bin/chromedriver"))
    driver.set_script_timeout(120)
    return driver


def ready_ms(driver, page: Path) -> dict:
    driver.get("about:blank")
    driver.get(page.as_uri())
    driver.execute_async_script("const done = arguments[0]; explore.ready.then(() => done(null));")
    ready, drawn = driver.execute_script("return [explore.readyAt, explore.drawn]")
    redraws = driver.execute_script(  # a zoom, then full redraws timed in the page
        "const m = document.getElementById('map'), r = m.getBoundingClientRect(), t = [];"
        "m.dispatchEvent(new WheelEvent('wheel', {deltaY: -200, clientX: r.x + r.width / 2,"
        " clientY: r.y + r.height / 2, cancelable: true}));"
        "for (let k = 0; k < 5; k++) { const s = performance.now(); explore.redrawNow();"
        " t.push(performance.now() - s); } return t;"
    )
    return {"ready_ms": ready, "drawn": drawn, "redraw_ms": statistics.median(redraws)}


def parse_ms(driver, page: Path, folder: Path) -> float:
    """The same bytes without the page's script: Chromium's cost of reading the file."""
    text = page.read_text()
    start = text.rindex("<script>")
    bare = folder / f"bare_{page.name}"
    bare.write_text(text[:start] + "<script>/* taken out */</script></body></html>")
    driver.get("about:blank")
    driver.get(bare.as_uri())
    return driver.execute_script(
        "const n = performance.getEntriesByType('navigation')[0]; return n.loadEventStart;"
    )


def measure(run: Path, split: str, method: str, repeats: int, folder: Path) -> dict:
    start = time.perf_counter()
    page = ae.explore(run, split=split, method=method, out=folder / f"explore_{split}.html")
    written = time.perf_counter() - start
    driver = browser()
    try:
        rows = [ready_ms(driver, page) for _ in range(repeats)]
        parses = [parse_ms(driver, page, folder) for _ in range(repeats)]
    finally:
        driver.quit()
    meta = json.loads(re.search(r'id="meta">(.*?)</script>', page.read_text()).group(1))
    ready = statistics.median(r["ready_ms"] for r in rows)
    return {
        "split": split, "points": meta["points"], "drawn": rows[0]["drawn"],
        "map": meta["mapFrom"], "bytes": page.stat().st_size, "write_seconds": round(written, 1),
        "ready_ms": round(ready), "ready_ms_all": [round(r["ready_ms"]) for r in rows],
        "parse_ms": round(statistics.median(parses)),
        "ready_over_parse": round(ready / statistics.median(parses), 2),
        "redraw_ms": round(statistics.median(r["redraw_ms"] for r in rows), 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", nargs="?", default="runs/demo/stacked")
    parser.add_argument("--method", default="tsne")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--splits", default="valid,all")
    args = parser.parse_args()
    results = {"run": args.run, "method": args.method, "repeats": args.repeats, "pages": []}
    with tempfile.TemporaryDirectory() as folder:
        for split in args.splits.split(","):
            row = measure(Path(args.run), split, args.method, args.repeats, Path(folder))
            print(json.dumps(row))
            results["pages"].append(row)
    out = HERE / "results" / "explore_page.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
