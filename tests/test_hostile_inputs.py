"""A run folder or data file from someone else is data, never a hazard (property-based).

Each test mutates one input at random (config.json, the safetensors header of the weights or the
checkpoint, metrics.json and history.csv, IDX headers), runs the CLI in-process on a fresh copy,
and asserts that the command either works (exit 0) or refuses in one line (exit 2,
``autoencode: error: ...``): never a traceback, never another exit status. Every test runs under
a lowered address-space limit, so a file that makes the loader try to allocate what its numbers
claim fails the test (with a MemoryError) instead of taking the machine down.
"""

from __future__ import annotations

import contextlib
import copy
import gzip
import io
import json
import math
import re
import resource
import shutil
import struct
import tempfile
import zipfile
import zlib
from pathlib import Path
from unittest import mock

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from autoencode.cli.main import main
from autoencode.data import sources
from autoencode.data.idx import content_sha256, parse_idx, read_idx
from autoencode.errors import ConfigError, DataError
from autoencode.models import build_model
from autoencode.presets import PRESETS
from conftest import idx_bytes, synthetic_images

# -- the memory bound ------------------------------------------------------------------------

GiB = 1 << 30
# The bound is the address space the process holds when the test starts plus HEADROOM, not a
# fixed size: importing torch alone maps ~0.6 GiB (its libraries, MKL's and the allocators'
# reservations), and each CPU thread that torch starts adds ~24 MiB more (an 8 MiB stack and a
# malloc arena): 1.4 GiB more for 32 threads. So the fixture starts torch's thread pools first
# (as a command would, at the default thread count) and measures after. Measured on 2 cores:
# VmSize is 0.75-1.1 GiB when a test starts; no test here adds more than 0.15 GiB, except the
# gzip bomb, which may decompress 1 GiB (idx.MAX_CONTENT) before it is refused and adds 1.2 GiB.
# 3 GiB is that with room to spare, while a single 4 GiB request, let alone the 512 GB that
# encoder_units of 2e9 once asked for, fails at once instead of swapping the machine to death.
HEADROOM = 3 * GiB


def vm_size() -> int:
    """This process's virtual size in bytes (Linux's /proc/self/status)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError("no VmSize in /proc/self/status")


@pytest.fixture(autouse=True)
def memory_limit():
    """The soft RLIMIT_AS lowered to the current virtual size + HEADROOM for the test's
    duration, then restored (any process may raise its soft limit back up to the hard one)."""
    if not Path("/proc/self/status").exists():
        pytest.skip("the address-space bound needs Linux's /proc")
    x = torch.ones(1024, 1024)
    (x @ x).sum()  # torch's OpenMP and MKL threads, started before measuring (see HEADROOM)
    if torch.cuda.is_available():  # CUDA reserves tens of GiB of address space as it starts
        torch.zeros(1, device="cuda")
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    limit = vm_size() + HEADROOM
    for bound in (soft, hard):
        if bound != resource.RLIM_INFINITY:
            limit = min(limit, bound)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    try:
        yield limit
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def test_the_memory_limit_holds_with_torch_imported(memory_limit):
    assert resource.getrlimit(resource.RLIMIT_AS)[0] == memory_limit
    assert vm_size() < memory_limit - 2 * GiB  # the headroom is real, not already used up
    with pytest.raises((RuntimeError, MemoryError)):
        torch.empty(HEADROOM + GiB, dtype=torch.uint8)  # more than the headroom: refused at once
    with pytest.raises(MemoryError):
        np.empty(HEADROOM + GiB, dtype=np.uint8)
    assert torch.ones(GiB // 16, dtype=torch.uint8).sum() == GiB // 16  # a modest one still works


# -- the base run folder, and running the CLI on a copy of it ---------------------------------


@pytest.fixture(scope="module")
def base(tiny_run):
    """A trained run (conftest's tiny stacked run, with a figure, metrics and a checkpoint) and
    its data file, for the module."""
    run = tiny_run("stacked")
    assert main(["reconstruct", str(run), "-n", "2"]) == 0  # a figure for report to embed
    return run, tiny_run.data


@contextlib.contextmanager
def copy_of(run: Path):
    """A fresh copy of a run folder in a temporary directory (one per Hypothesis example)."""
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copytree(run, Path(tmp) / "run")
        yield Path(tmp) / "run"


def commands(run: Path, npz: Path) -> dict[str, list[str]]:
    return {
        "summary": ["summary", str(run)],
        "reconstruct": ["reconstruct", str(run), "--data", str(npz), "-n", "3"],
        "report": ["report", str(run)],
        "embed": ["embed", str(run), "--data", str(npz)],
    }


def cli_is_safe(capsys, argv: list[str]) -> tuple[int, str]:
    """Run the CLI; it must exit 0, or 2 with one ``autoencode: error:`` line on stderr. An
    exception escaping ``main`` fails the test with its traceback."""
    capsys.readouterr()  # what an earlier example left
    code = main(argv)
    _out, err = capsys.readouterr()
    assert code in (0, 2), f"exit {code}: {err}"
    assert "Traceback" not in err, err
    if code == 2:
        assert err.startswith("autoencode: error: "), err
        assert err.endswith("\n") and err.count("\n") == 1, f"not one line: {err!r}"
    else:
        assert "autoencode: error" not in err, err
    return code, err


def outcome(code: int, err: str) -> str:
    """What a run came to, for ``--hypothesis-show-statistics``: exit 0, or the error's gist."""
    return "exit 0" if code == 0 else re.sub(r"/\S+: ", "", err.strip())[19:100]


# Hypothesis examples share function-scoped fixtures: capsys is drained before each run, and the
# memory limit holds for the whole test, which is what is wanted.
HYPOTHESIS = {"deadline": None, "suppress_health_check": [HealthCheck.function_scoped_fixture,
                                                          HealthCheck.too_slow]}  # fmt: skip

# -- random JSON, and random edits at random places in a JSON tree -----------------------------

INTERESTING_INTS = [0, 1, 2, 3, 28, 30, 100, 784, -1, -(2**31), 1 << 20, (1 << 20) + 1,
                    2_000_000_000, 2**31, 2**32, 2**53 + 1, 2**63, 2**64, 10**30, -(10**30),
                    10**400]  # fmt: skip
WORDS = ["stacked", "conv", "vae", "autoencoder", "dense", "reconstruction", "denoising",
         "variational", "vq", "sparse_kl", "pool", "stride", "bce", "mse",
         "selu", "relu", "linear", "sgd", "adam", "file", "builtin",
         "memory", "folder", "fashion-mnist", "autoencode-run/1", "autoencode-run/2", "F32",
         "", "\n", "x\ny", "/", "../../etc/passwd", "é"]  # fmt: skip
KEYS = ["kind", "input_shape", "encoder", "decoder", "objective", "units", "coding_activation",
        "tied", "downsample", "beta", "noise", "dropout", "target", "weight", "codebook_size",
        "commitment", "loss", "encoder_units", "decoder_units", "activation", "filters",
        "kernel_size", "hidden", "codings", "kl_weight", "epochs", "batch_size", "optimizer", "lr",
        "optimizer_options", "seed", "location", "train_size", "valid_size", "dataset", "format",
        "preset", "model", "training", "data", "runtime", "momentum", "history", "scalars",
        "param_groups", "params", "epoch", "loss", "evaluation", "maps"]  # fmt: skip

# Keys without control characters or line breaks: messages name unknown keys as written, and
# those that cannot be shown on one line have tests of their own (test_a_key_with_a_line_break).
keys = st.sampled_from(KEYS) | st.text(st.characters(exclude_categories=("Cc", "Zl", "Zp")),
                                       max_size=8)  # fmt: skip
ints = st.sampled_from(INTERESTING_INTS) | st.integers() | st.integers(0, 1000)
scalars = (st.none() | st.booleans() | ints | st.floats() | st.sampled_from(WORDS)
           | st.text(max_size=12))  # fmt: skip
json_values = st.recursive(
    scalars | st.lists(st.integers(1, 1000), min_size=1, max_size=4),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=12,
)  # fmt: skip


def json_paths(node, prefix=()):
    """Every place in a JSON tree, the root included, as a tuple of keys and indices."""
    yield prefix
    if isinstance(node, dict):
        items = node.items()
    elif isinstance(node, list):
        items = enumerate(node)
    else:
        return
    for key, child in items:
        yield from json_paths(child, (*prefix, key))


@st.composite
def mutated_json(draw, tree, values=json_values, max_edits=3):
    """``tree`` with 1..max_edits edits, each replacing, deleting or adding a value somewhere."""
    tree = copy.deepcopy(tree)
    for _ in range(draw(st.integers(1, max_edits))):
        path = draw(st.sampled_from(list(json_paths(tree))))
        edit = draw(st.sampled_from(["replace", "delete", "add"]))
        if not path:
            if edit == "replace":
                tree = draw(values)
            elif edit == "add" and isinstance(tree, dict):
                tree[draw(keys)] = draw(values)
            continue
        parent = tree
        for key in path[:-1]:
            parent = parent[key]
        key, node = path[-1], parent[path[-1]]
        if edit == "replace":
            parent[key] = draw(values)
        elif edit == "delete":
            del parent[key]
        elif isinstance(node, dict):
            node[draw(keys)] = draw(values)
        elif isinstance(node, list):
            node.insert(draw(st.integers(0, len(node))), draw(values))
        else:
            parent[key] = draw(values)
    return tree


def to_json(tree) -> str:
    """As the library writes JSON, but NaN and Infinity pass (Python's json reads them back)."""
    return json.dumps(tree, indent=2)


# -- 1. config.json ---------------------------------------------------------------------------


def test_the_issue_encoder_units_of_two_billion(base, capsys):
    """The issue's case: reconstruct once tried to allocate 512 GB and printed a traceback."""
    run, npz = base
    with copy_of(run) as folder:
        config = json.loads((folder / "config.json").read_text())
        config["model"]["encoder_units"] = [2_000_000_000, 30]
        (folder / "config.json").write_text(json.dumps(config))
        code, err = cli_is_safe(capsys, commands(folder, npz)["reconstruct"])
        assert code == 2 and "config.json" in err and "encoder_units" in err, err


@pytest.mark.parametrize("model", [
    {"encoder_units": [1 << 20, 1 << 20]},  # each in range, 1e12 weights together
    {"input_shape": [1, 1 << 20, 1 << 20]},
    {"input_shape": [1, 28, 28, 1]},
    {"kind": "conv", "input_shape": [1, 28, 28], "filters": [1 << 20], "kernel_size": 999},
    {"kind": "conv", "input_shape": [1 << 20, 28, 28], "filters": [1]},
    {"kind": "vae", "input_shape": [1, 28, 28], "hidden": [150], "codings": 1 << 20},
    {"decoder_units": [-5]},
    {"activation": "__import__('os').system('true')"},
])  # fmt: skip
def test_oversized_and_malformed_models(base, capsys, model):
    run, npz = base
    with copy_of(run) as folder:
        config = json.loads((folder / "config.json").read_text())
        if "kind" in model:
            config["model"] = model
        else:
            config["model"].update(model)
        (folder / "config.json").write_text(json.dumps(config))
        code, err = cli_is_safe(capsys, commands(folder, npz)["reconstruct"])
        assert code == 2 and "config.json" in err, err


@pytest.mark.parametrize("text", [
    "[" * 100_000,  # deeper than Python's recursion limit
    '{"format": ' + "9" * 5000 + "}",  # more digits than Python converts to an int
    '{"format": "autoencode-run/2", "model": {"kind": "stacked", "encoder_units": [1e400, 30]}}',
    "\ufeff{}",
    "",
    b'{"format": "\xff\xfe"}',  # not UTF-8
])  # fmt: skip
def test_unreadable_config_texts(base, capsys, text):
    run, npz = base
    with copy_of(run) as folder:
        content = text if isinstance(text, bytes) else text.encode()
        (folder / "config.json").write_bytes(content)
        code, err = cli_is_safe(capsys, commands(folder, npz)["summary"])
        assert code == 2 and "config.json" in err, err


@pytest.mark.parametrize("where", [
    "model",
    "training",
    "optimizer_options",
    "tensor",
])  # fmt: skip
def test_a_key_with_a_line_break(base, capsys, where):
    """An unknown key is named in the message: as its repr when it cannot be shown on one line."""
    run, npz = base
    with copy_of(run) as folder:
        config = json.loads((folder / "config.json").read_text())
        if where == "optimizer_options":
            config["training"]["optimizer_options"]["wi\nngs"] = 1
        elif where == "tensor":
            weights = folder / "model.safetensors"
            header, data = split_safetensors(weights.read_bytes())
            end = len(data)  # one more float32, after the others
            header["wi\nngs"] = {"dtype": "F32", "shape": [1], "data_offsets": [end, end + 4]}
            weights.write_bytes(join_safetensors(header, data + bytes(4)))
        else:
            config[where]["wi\nngs"] = 1
        (folder / "config.json").write_text(json.dumps(config))
        code, err = cli_is_safe(capsys, commands(folder, npz)["summary"])
        assert code == 2 and r"'wi\nngs'" in err, err


@settings(max_examples=80, **HYPOTHESIS)
@given(data=st.data(), command=st.sampled_from(["summary", "reconstruct", "report", "embed"]))
def test_mutated_config(base, capsys, data, command):
    run, npz = base
    original = json.loads((run / "config.json").read_text())
    config = data.draw(mutated_json(original), label="config.json")
    with copy_of(run) as folder:
        (folder / "config.json").write_text(to_json(config))
        code, err = cli_is_safe(capsys, commands(folder, npz)[command])
        event(outcome(code, err))
        if code == 2:
            assert str(folder) in err or str(npz) in err, f"names no file: {err}"


PRESET_MODELS = {name: preset.model.to_dict() for name, preset in PRESETS.items()}
LEGACY_MODELS = [{"kind": "stacked", "input_shape": [1, 28, 28], "encoder_units": [100, 30]},
                 {"kind": "conv", "input_shape": [1, 28, 28], "filters": [16, 32, 64]},
                 {"kind": "vae", "input_shape": [1, 28, 28], "hidden": [150, 100]}]  # fmt: skip


@settings(max_examples=300, **HYPOTHESIS)
@given(data=st.data(), tree=st.sampled_from([*PRESET_MODELS.values(), *LEGACY_MODELS]))
def test_mutated_model_config_of_every_preset(data, tree):
    """Any preset's model config (and the older kinds'), mutated: built on the meta device, or
    one ConfigError on one line; never another exception."""
    config = data.draw(mutated_json(tree), label="model")
    try:
        build_model(json.loads(to_json(config)), device="meta")
    except ConfigError as e:
        assert "\n" not in str(e) and str(e), repr(e)
        event("refused")
    else:
        event("built")


# -- 2. the safetensors header ----------------------------------------------------------------

DTYPES = ["F32", "F16", "BF16", "F64", "I8", "U8", "I16", "I32", "I64", "U64", "BOOL",
          "F8_E4M3", "F8_E5M2", "C64", "Q4", "f32", "", "F32\n"]  # fmt: skip
header_values = (
    st.lists(ints, max_size=4)  # shapes and data_offsets
    | st.lists(st.integers(0, 700_000), min_size=2, max_size=2)
    | st.sampled_from(DTYPES)
    | json_values
)


tensor_names = st.sampled_from(["encoder.9.weight", "model.encoder.1.weight", "rng.torch", "x\ny",
                                ""]) | st.text(max_size=8)  # fmt: skip
TENSOR_EDITS = {
    "dtype": st.sampled_from(DTYPES),
    "shape": st.lists(ints, max_size=4),
    "data_offsets": st.lists(st.integers(0, 700_000) | ints, min_size=2, max_size=2),
    "rename": tensor_names,
    "copy": tensor_names,
    "drop": st.none(),
}


def split_safetensors(raw: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack("<Q", raw[:8])
    return json.loads(raw[8 : 8 + length]), raw[8 + length :]


def join_safetensors(header: dict, data: bytes, pad: bool = True) -> bytes:
    body = json.dumps(header).encode()
    if pad:  # as safetensors writes it: the data 8-byte aligned
        body += b" " * (-len(body) % 8)
    return struct.pack("<Q", len(body)) + body + data


class Edited(bytes):
    """A file's new content, shown (when Hypothesis reports an example) as what was done to it
    rather than as all its bytes."""

    def __new__(cls, content: bytes, note: str):
        edited = super().__new__(cls, content)
        edited.note = note
        return edited

    def __repr__(self) -> str:
        return self.note


@st.composite
def mutated_safetensors(draw, raw: bytes, values=header_values) -> Edited:
    """The file with its header's JSON edited, its length field changed, or bytes changed."""
    header, data = split_safetensors(raw)
    length = len(raw) - len(data) - 8
    how = draw(st.sampled_from(["tensor", "tensor", "header", "length", "bytes", "cut"]))
    if how == "tensor":  # a plausible edit of one tensor's entry, to get past the JSON schema
        edited = copy.deepcopy(header)
        name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
        field = draw(st.sampled_from(sorted(TENSOR_EDITS)))
        value = draw(TENSOR_EDITS[field])
        if field in ("dtype", "shape", "data_offsets"):
            edited[name][field] = value
        elif field == "rename":
            edited[value] = edited.pop(name)
        elif field == "copy":  # a second name for the same bytes
            edited[value] = copy.deepcopy(edited[name])
        else:
            del edited[name]
        return Edited(join_safetensors(edited, data), f"tensor {name!r}: {field} {value!r}")
    if how == "header":
        edited = draw(mutated_json(header, values))
        if not isinstance(edited, dict):
            edited = {"__metadata__": edited}
        pad = draw(st.booleans())
        return Edited(join_safetensors(edited, data, pad), f"header {json.dumps(edited)}")
    if how == "length":
        choices = [0, 1, 7, 8, length - 1, length + 1, length + 8, len(raw) - 8, len(raw),
                   100_000_000, 100_000_001, 2**32, 2**63, 2**64 - 1]  # fmt: skip
        new = draw(st.sampled_from(choices) | st.integers(0, 2**64 - 1))
        return Edited(struct.pack("<Q", new) + raw[8:], f"length field {new} (was {length})")
    if how == "bytes":
        content = bytearray(raw)
        where = st.integers(0, length + 8 + 64)  # the header, and the start of the data
        edits = draw(st.lists(st.tuples(where, st.integers(0, 255)), min_size=1, max_size=8))
        for position, value in edits:
            content[position] = value
        return Edited(bytes(content), f"bytes (position, value) {edits}")
    cut, tail = draw(st.integers(0, len(raw) - 1)), draw(st.binary(max_size=16))
    return Edited(raw[:cut] + tail, f"cut to {cut} bytes, then {tail!r}")


def test_a_header_that_claims_two_billion_rows(base, capsys):
    """Shape and offsets agree with each other but not with the file: refused before loading."""
    run, npz = base
    with copy_of(run) as folder:
        weights = folder / "model.safetensors"
        header, data = split_safetensors(weights.read_bytes())
        header["encoder.1.weight"].update(shape=[2_000_000_000, 784],
                                          data_offsets=[0, 2_000_000_000 * 784 * 4])  # fmt: skip
        weights.write_bytes(join_safetensors(header, data))
        code, err = cli_is_safe(capsys, commands(folder, npz)["reconstruct"])
        assert code == 2 and "model.safetensors" in err, err


@settings(max_examples=80, **HYPOTHESIS)
@given(data=st.data(), command=st.sampled_from(["summary", "reconstruct", "report", "embed"]))
def test_mutated_weights(base, capsys, data, command):
    run, npz = base
    raw = data.draw(mutated_safetensors((run / "model.safetensors").read_bytes()), label="weights")
    with copy_of(run) as folder:
        (folder / "model.safetensors").write_bytes(raw)
        code, err = cli_is_safe(capsys, commands(folder, npz)[command])
        event(outcome(code, err))
        if code == 2:
            assert "model.safetensors" in err, err


@st.composite
def mutated_checkpoint(draw, raw: bytes) -> Edited:
    """The checkpoint with its trainer state (the JSON inside the header) or its header edited."""
    if draw(st.booleans()):
        return draw(mutated_safetensors(raw))
    header, data = split_safetensors(raw)
    meta = draw(mutated_json(json.loads(header["__metadata__"]["json"])))
    header["__metadata__"]["json"] = json.dumps(meta)
    return Edited(join_safetensors(header, data), f"trainer state {json.dumps(meta)}")


@settings(max_examples=30, **HYPOTHESIS)
@given(data=st.data())
def test_mutated_checkpoint_on_resume(base, capsys, data):
    run, _npz = base
    checkpoint = run / "checkpoint" / "last.safetensors"
    raw = data.draw(mutated_checkpoint(checkpoint.read_bytes()), label="checkpoint")
    rng = torch.get_rng_state()  # resume sets the global generator from the checkpoint
    try:
        with copy_of(run) as folder:
            (folder / "checkpoint" / "last.safetensors").write_bytes(raw)
            argv = ["train", "--resume", str(folder), "--epochs", "2", "--quiet"]
            code, err = cli_is_safe(capsys, argv)
            event(outcome(code, err))
            if code == 2:
                assert str(folder) in err, f"names no file: {err}"
    finally:
        torch.set_rng_state(rng)


@pytest.fixture(scope="module")
def with_sampler(base):
    """The base run with a fitted two-component mixture (samplers/gmm.safetensors)."""
    run, _npz = base
    assert main(["fit-sampler", str(run), "--components", "2"]) == 0
    return run, run / "samplers" / "gmm.safetensors"


FLOATS = [b"\x00\x00\xc0\x7f", b"\x00\x00\x80\x7f", b"\x00\x00\x80\xbf", b"\x00\x00\x00\x00"]


@st.composite
def mutated_sampler(draw, raw: bytes) -> Edited:
    """The sampler file with its header, its settings (the JSON inside the header) or its values
    (NaN, infinity, -1, 0 written over a float) edited."""
    how = draw(st.sampled_from(["file", "settings", "values"]))
    if how == "file":
        return draw(mutated_safetensors(raw))
    header, data = split_safetensors(raw)
    if how == "settings":
        meta = draw(mutated_json(json.loads(header["__metadata__"]["json"])))
        header["__metadata__"]["json"] = json.dumps(meta)
        return Edited(join_safetensors(header, data), f"settings {json.dumps(meta)}")
    content = bytearray(data)
    at = draw(st.lists(st.integers(0, len(data) // 4 - 1), min_size=1, max_size=4))
    value = draw(st.sampled_from(FLOATS))
    for i in at:
        content[4 * i : 4 * i + 4] = value
    return Edited(join_safetensors(header, bytes(content)), f"floats {at} set to {value!r}")


@settings(max_examples=60, **HYPOTHESIS)
@given(data=st.data())
def test_mutated_sampler(with_sampler, capsys, data):
    """A damaged or hostile sampler file: the images, or one line naming the file (exit 2)."""
    run, sampler = with_sampler
    raw = data.draw(mutated_sampler(sampler.read_bytes()), label="sampler")
    with copy_of(run) as folder:
        (folder / "samplers" / "gmm.safetensors").write_bytes(raw)
        argv = [
            "generate",
            str(folder),
            "--sampler",
            "gmm",
            "-n",
            "3",
            "--out",
            str(folder / "s.png"),
        ]
        code, err = cli_is_safe(capsys, argv)
        event(outcome(code, err))
        if code == 2:
            assert "gmm.safetensors" in err, err


# -- what report reads besides: metrics.json and history.csv ---------------------------------

history_texts = st.lists(
    st.lists(st.sampled_from(["epoch", "loss", "val_loss", "1", "2", "-1", "nan", "1e999", "",
                              "x", '"a,b"', "0.5"]), max_size=5).map(",".join),
    max_size=4,
).map("\n".join) | st.text(max_size=40)  # fmt: skip


@settings(max_examples=30, **HYPOTHESIS)
@given(data=st.data())
def test_mutated_metrics(base, capsys, data):
    run, _npz = base
    metrics = data.draw(
        mutated_json(json.loads((run / "metrics.json").read_text())), label="metrics"
    )
    with copy_of(run) as folder:
        (folder / "metrics.json").write_text(to_json(metrics))
        code, err = cli_is_safe(capsys, ["report", str(folder)])
        event(outcome(code, err))
        if code == 2:
            assert "metrics.json" in err, err


@settings(max_examples=30, **HYPOTHESIS)
@given(text=history_texts)
def test_mutated_history(base, capsys, text):
    run, _npz = base
    with copy_of(run) as folder:
        (folder / "history.csv").write_text(text)
        code, err = cli_is_safe(capsys, ["report", str(folder)])
        event(outcome(code, err))
        if code == 2:
            assert "history.csv" in err, err


# -- 3. IDX files -----------------------------------------------------------------------------

IDX_DIMS = [0, 1, 2, 3, 27, 28, 255, 256, 65535, 65536, 2**31 - 1, 2**31, 2**32 - 1]
IDX_TYPES = [0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]


@st.composite
def mutated_idx(draw, array: np.ndarray) -> bytes:
    """IDX bytes of ``array`` with the magic, type, ndim or dims changed, and the payload kept,
    cut, padded, or made to fit the new header (when that is small)."""
    content = bytearray(idx_bytes(array))
    header = 4 + 4 * array.ndim
    magic = bytearray(content[:4])
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):  # a bad magic number stops all else
        byte = draw(st.integers(0, 3))
        magic[byte] = draw(st.sampled_from([0, 1, 3, 4, 8, 255, *IDX_TYPES]) | st.integers(0, 255))
    dims = list(struct.unpack(f">{array.ndim}I", content[4:header]))
    if draw(st.booleans()):
        small = st.lists(st.integers(0, 40), max_size=4)  # that a payload can be made to fit
        dims = draw(
            small | st.lists(st.sampled_from(IDX_DIMS) | st.integers(0, 2**32 - 1), max_size=6)
        )
        if draw(st.booleans()):
            magic[3] = len(dims)
    payload = bytes(content[header:])
    how = draw(st.sampled_from(["keep", "fit", "fit", "cut", "pad"]))
    itemsize = {0x08: 1, 0x09: 1, 0x0B: 2, 0x0C: 4, 0x0D: 4, 0x0E: 8}.get(magic[2], 1)
    size = math.prod(dims) * itemsize
    if how == "fit" and size <= 1 << 20:
        payload = (payload * (size // max(len(payload), 1) + 1))[:size]
    elif how == "cut":
        payload = payload[: draw(st.integers(0, len(payload)))]
    elif how == "pad":
        payload += draw(st.binary(min_size=1, max_size=8))
    return bytes(magic) + struct.pack(f">{len(dims)}I", *dims) + payload


def assert_idx_result(content: bytes, parse) -> None:
    """``parse`` returns an array the content's size, or raises one DataError of one line."""
    try:
        array = parse()
    except DataError as e:
        assert "\n" not in str(e) and "idx-file" in str(e), str(e)
        return
    assert isinstance(array, np.ndarray)
    assert array.ndim == content[3]
    assert 4 + 4 * array.ndim + array.nbytes == len(content)


@settings(max_examples=300, deadline=None)
@given(content=mutated_idx(np.arange(60, dtype=np.uint8).reshape(3, 4, 5)) | st.binary(max_size=40))
def test_parse_idx_on_mutated_headers(content):
    assert_idx_result(content, lambda: parse_idx(content, "idx-file"))


@settings(max_examples=60, deadline=None)
@given(
    content=mutated_idx(np.arange(60, dtype=np.uint8).reshape(3, 4, 5)),
    how=st.sampled_from(["raw", "gzip", "cut gzip"]),
)
def test_read_idx_on_mutated_files(content, how):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "idx-file"
        packed = gzip.compress(content) if how != "raw" else content
        path.write_bytes(packed[: len(packed) // 2] if how == "cut gzip" else packed)
        assert_idx_result(content, lambda: read_idx(path))


@pytest.mark.parametrize("dims", [
    [65536] * 4,  # 2**64 elements: np.prod wrapped to 0, which "matched" an empty payload
    [0, 2, 2**31 - 1, 2**32 - 1],  # empty, but too large for numpy to index
])  # fmt: skip
def test_dims_that_no_array_can_have(dims):
    content = bytes([0, 0, 0x08, len(dims)]) + struct.pack(f">{len(dims)}I", *dims)
    with pytest.raises(DataError, match=r"idx-file: .*IDX shape"):
        parse_idx(content, "idx-file")
    many = bytes([0, 0, 0x08, 100]) + struct.pack(">100I", *[1] * 100) + b"x"  # numpy's max: 64
    with pytest.raises(DataError, match="idx-file: numpy cannot hold"):
        parse_idx(many, "idx-file")


def test_a_gzip_bomb_is_refused_within_the_memory_limit(memory_limit):
    """4 GiB of zeros in 4 MiB of gzip (one member, repeated): more than the headroom."""
    member = gzip.compress(bytes(64 << 20), compresslevel=1, mtime=0)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "idx-file.gz"
        with open(path, "wb") as f:
            for _ in range(64):
                f.write(member)
        with pytest.raises(DataError, match=r"idx-file\.gz: decompressed, more than"):
            read_idx(path)


@pytest.mark.parametrize("command", [
    "reconstruct",
    "embed",
])  # fmt: skip
def test_a_data_file_with_an_empty_split(base, capsys, command):
    run, _npz = base
    images, _labels = synthetic_images(8)
    with copy_of(run) as folder:
        empty = folder.parent / "empty.npz"
        np.savez(empty, x_train=images, x_valid=images[:2], x_test=images[:0])
        argv = [command, str(folder), "--data", str(empty), "--split", "test"]
        code, err = cli_is_safe(capsys, argv)
        assert code == 2, err


def npy_member(shape: tuple, payload: bytes = b"", descr: str = "|u1") -> bytes:
    """An .npy file whose header says ``shape`` and ``descr``, followed by ``payload`` alone."""
    out = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        out, {"descr": descr, "fortran_order": False, "shape": shape}
    )
    return out.getvalue() + payload


@pytest.mark.parametrize("member", [
    pytest.param(npy_member((10**6, 28, 28, 100)), id="header claims 73 GiB"),
    pytest.param(npy_member((4, 28, 28), bytes(100)), id="payload cut short"),
    pytest.param(npy_member((4,), bytes(32), "|O"), id="object array"),
    pytest.param(b"not an npy file", id="not npy"),
])  # fmt: skip
def test_a_npz_file_with_a_lying_member(base, capsys, member):
    run, _npz = base
    train = io.BytesIO()
    np.save(train, synthetic_images(8)[0])
    with copy_of(run) as folder:
        path = folder.parent / "lie.npz"
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("x_train.npy", train.getvalue())
            archive.writestr("x_test.npy", member)
        argv = ["reconstruct", str(folder), "--data", str(path), "--split", "test"]
        code, err = cli_is_safe(capsys, argv)
        assert code == 2 and "lie.npz" in err, err


def test_an_image_folder_with_a_huge_png(base, capsys):
    from PIL import Image

    run, _npz = base
    with copy_of(run) as folder:
        images = folder.parent / "images"
        images.mkdir()
        for i in range(3):
            Image.fromarray(np.zeros((28, 28), np.uint8)).save(images / f"{i}.png")
        png = bytearray((images / "0.png").read_bytes())
        png[16:24] = struct.pack(">II", 100_000, 100_000)  # IHDR's width and height
        png[29:33] = struct.pack(">I", zlib.crc32(bytes(png[12:29])))  # and its checksum
        (images / "0.png").write_bytes(bytes(png))
        code, err = cli_is_safe(capsys, ["reconstruct", str(folder), "--data", str(images)])
        assert code == 2 and "0.png" in err, err


FASHION = list(sources.FASHION_MNIST_FILES)


def fake_fashion_arrays() -> dict[str, np.ndarray]:
    """Fashion-MNIST's four files, as small: 8 training and 4 test images."""
    rng = np.random.default_rng(0)
    return {FASHION[0]: rng.integers(0, 256, (8, 28, 28), dtype=np.uint8),
            FASHION[1]: rng.integers(0, 10, (8,), dtype=np.uint8),
            FASHION[2]: rng.integers(0, 256, (4, 28, 28), dtype=np.uint8),
            FASHION[3]: rng.integers(0, 10, (4,), dtype=np.uint8)}  # fmt: skip


@settings(max_examples=60, **HYPOTHESIS)
@given(data=st.data(), which=st.sampled_from(FASHION), compress=st.booleans(),
       trusted=st.booleans(), command=st.sampled_from(["reconstruct", "embed"]))  # fmt: skip
def test_mutated_fashion_mnist_folder(base, capsys, data, which, compress, trusted, command):
    """A Fashion-MNIST folder (--data-dir) with one file's header changed. Its checksum refuses
    the file unless ``trusted`` makes the changed content the expected one, so that the parser
    and everything after it see it."""
    run, _npz = base
    arrays = fake_fashion_arrays()
    contents = {name: idx_bytes(a) for name, a in arrays.items()}
    contents[which] = data.draw(mutated_idx(arrays[which]), label=which)
    with copy_of(run) as folder, tempfile.TemporaryDirectory() as data_dir:
        for name, content in contents.items():
            path = Path(data_dir) / (name if compress else name.removesuffix(".gz"))
            path.write_bytes(gzip.compress(content) if compress else content)
        digests = {n: content_sha256(c) for n, c in contents.items()} if trusted else {}
        with mock.patch.dict(sources.FASHION_MNIST_FILES, digests):
            argv = [command, str(folder), "--data", "fashion-mnist", "--data-dir", data_dir,
                    "--split", "test"]  # fmt: skip
            code, err = cli_is_safe(capsys, argv)
            event(outcome(code, err))
        if not trusted:
            assert code == 2 and "checksum mismatch" in err, err
