"""``autoencode prepare``: decode an image folder (or copy a .npy/.npz file) once into data that
every command reads memory-mapped."""

from __future__ import annotations

import argparse

from autoencode.cli.options import positive_int


def size(text: str) -> tuple[int, int]:
    """``WIDTHxHEIGHT``, e.g. ``64x64``."""
    width, sep, height = text.lower().partition("x")
    if not (sep and width.isdigit() and height.isdigit() and int(width) > 0 and int(height) > 0):
        raise argparse.ArgumentTypeError(f"expected WIDTHxHEIGHT such as 64x64, got {text!r}")
    return int(width), int(height)


def add_parser(sub) -> None:
    p = sub.add_parser("prepare", help="decode an image folder once into memory-mapped data",
                       description="Decode the images of FOLDER (one subfolder per class, or none) "
                                   "in parallel into DATA: images.npy (uint8, read memory-mapped), "
                                   "labels.npy, files.txt and manifest.json (sizes, checksums, "
                                   "splits: a seeded random tenth for validation). A .npy/.npz "
                                   "file is copied into the same layout. Interrupted, run it again: "
                                   "it goes on where it stopped. Then: autoencode train --data DATA.")  # fmt: skip
    p.add_argument("source", metavar="FOLDER_OR_FILE")
    p.add_argument("--out", required=True, metavar="DATA", help="the folder to write")
    p.add_argument("--skip-bad", action="store_true",
                   help="leave out unreadable images (listed) instead of stopping at the first")  # fmt: skip
    p.add_argument("--resize", type=size, metavar="WIDTHxHEIGHT",
                   help="resize every image to this size (stretched), for folders of mixed sizes")  # fmt: skip
    p.add_argument("--workers", type=positive_int, help="decoding processes (default: CPU count)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace DATA if it holds other prepared data")  # fmt: skip
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.data.preparing import prepare

    manifest = prepare(args.source, args.out, resize=args.resize, skip_bad=args.skip_bad,
                       workers=args.workers, overwrite=args.overwrite, progress=not args.quiet)  # fmt: skip
    for skipped in manifest["skipped"]:
        print(f"skipped {skipped['error']}")
    shape = "×".join(str(n) for n in manifest["image_shape"])
    splits = ", ".join(
        f"{name} {stop - start}" for name, (start, stop) in manifest["splits"].items()
    )
    print(f"wrote {args.out}: {manifest['count']} images of {shape} ({splits})")
    return 0
