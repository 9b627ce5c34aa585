"""``autoencode serve``: embed, reconstruct, score, search and generate over HTTP."""

from __future__ import annotations

import sys

from autoencode.cli.options import non_negative_float, positive_float, positive_int


def add_parser(sub) -> None:
    p = sub.add_parser("serve", help="serve runs over HTTP: embed, reconstruct, score, search, generate",
                       description="An HTTP service (FastAPI on uvicorn) over the runs: POST an "
                                   "image (PNG, JPEG), an .npy array or JSON to /embed, "
                                   "/reconstruct, /score or /search (/runs/NAME/... for a run by "
                                   "its folder's name), /generate?n=8; GET /health, /runs, "
                                   "/openapi.json, and / for a page to drop an image on. "
                                   "Requests that arrive together run on the model together. "
                                   "Needs pip install 'autoencode[serve]'.")  # fmt: skip
    p.add_argument("run_folders", nargs="+", metavar="RUN")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on (default 127.0.0.1: this machine only)",
    )
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0: any free one)")
    p.add_argument("--token", default=None,
                   help="require 'Authorization: Bearer TOKEN' (default: the environment's "
                        "AUTOENCODE_TOKEN, else none)")  # fmt: skip
    p.add_argument("--search-in", default="train", metavar="SPLIT_OR_DATA",
                   help="what /search looks in: a split of each run's data (default train) or "
                        "other data's path")  # fmt: skip
    p.add_argument("--resize", action="store_true",
                   help="stretch images of another size or channel count to the model's "
                        "(default: refuse them with 422)")  # fmt: skip
    _add_limits(p)
    p.add_argument("--device", default="cpu", help="cpu (default), cuda, or auto")
    p.add_argument("--data-dir", default=None, help="folder holding the Fashion-MNIST .gz files")
    p.set_defaults(run=run)


def _add_limits(p) -> None:
    """The service's limits and batching."""
    p.add_argument(
        "--max-body-mb",
        type=positive_float,
        default=16,
        help="largest request body in MB (default 16)",
    )
    p.add_argument(
        "--max-images",
        type=positive_int,
        default=1024,
        help="images one request may carry (default 1024)",
    )
    p.add_argument(
        "--max-batch",
        type=positive_int,
        default=256,
        help="images run on the model at once (default 256; 1: no batching)",
    )
    p.add_argument(
        "--batch-wait-ms",
        type=non_negative_float,
        default=2,
        help="how long a batch that is not full waits for more requests (default 2)",
    )
    p.add_argument(
        "--max-queue",
        type=positive_int,
        default=1024,
        help="requests waiting per endpoint and run before 503 (default 1024)",
    )


def run(args) -> int:
    import os

    from autoencode.commands.serve import LOOPBACK, serve

    token = args.token or os.environ.get("AUTOENCODE_TOKEN") or None

    def listening(url: str) -> None:
        if args.host not in LOOPBACK and token is None:
            print(f"autoencode serve: listening on {args.host} without a token: anyone who can "
                  "reach this machine can use the service (--token sets one)", file=sys.stderr)  # fmt: skip
        print(f"serving {', '.join(args.run_folders)} at {url} (page: {url}/, OpenAPI: "
              f"{url}/openapi.json); Ctrl-C or SIGTERM stops it", flush=True)  # fmt: skip

    serve(args.run_folders, args.host, args.port, search_in=args.search_in, device=args.device,
          data_dir=args.data_dir, on_listening=listening, token=token, resize=args.resize,
          max_body=int(args.max_body_mb * 2**20), max_images=args.max_images,
          max_batch=args.max_batch, max_wait=args.batch_wait_ms / 1000,
          max_queue=args.max_queue)  # fmt: skip
    print("autoencode serve: stopped", flush=True)
    return 0
