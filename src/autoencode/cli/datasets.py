"""``autoencode datasets``: where Fashion-MNIST is looked for, and what is found there."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("datasets", help="show where datasets are found",
                       description="List the places Fashion-MNIST is looked for, in order.")  # fmt: skip
    p.add_argument("--data-dir", help="an explicit folder to look in first")
    p.add_argument("--fetch", action="store_true",
                   help="download the official files into the user cache if no place is complete")  # fmt: skip
    p.set_defaults(run=run)


def run(args) -> int:
    from autoencode.data.sources import candidates, locate_fashion_mnist

    print("fashion-mnist, looked for in this order (the first complete one is used):")
    chosen = False
    for place in candidates(args.data_dir):
        if place.complete:
            state = "complete" + ("  <- used" if not chosen else "")
            chosen = True
        elif not place.path.is_dir():
            state = "absent"
        else:
            state = "missing " + ", ".join(place.missing)
        origin = "--data-dir" if place.origin == "data_dir" else place.origin
        print(f"  {origin:16} {place.path}  {state}")
    if args.fetch:
        print(f"using {locate_fashion_mnist(args.data_dir)}")
    elif not chosen:
        print(
            "  none complete: 'autoencode train' will download the official files into the user cache"
        )
    return 0
