import numpy as np
import pytest

from autoencode.data import sources
from autoencode.data.datasets import load_dataset, load_fashion_mnist
from autoencode.data.idx import content_sha256
from autoencode.errors import DataError
from conftest import idx_bytes, write_idx

NAMES = list(sources.FASHION_MNIST_FILES)


def fake_fashion_mnist(folder, n_train=6000, n_test=20, n_train_labels=None):
    """Files named like Fashion-MNIST's, holding small random data; returns their content digests."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    arrays = {
        NAMES[0]: rng.integers(0, 256, (n_train, 28, 28)),
        NAMES[1]: rng.integers(0, 10, (n_train if n_train_labels is None else n_train_labels,)),
        NAMES[2]: rng.integers(0, 256, (n_test, 28, 28)),
        NAMES[3]: rng.integers(0, 10, (n_test,)),
    }
    for name, array in arrays.items():
        write_idx(folder / name, array.astype(np.uint8))
    return {name: content_sha256(idx_bytes(a.astype(np.uint8))) for name, a in arrays.items()}


@pytest.fixture
def isolated(tmp_path, monkeypatch):
    """No real places: the cache and Debian's folder point into tmp_path."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.delenv(sources.ENV_VAR, raising=False)
    monkeypatch.setattr(sources, "DEBIAN_DIR", tmp_path / "debian")
    return tmp_path


def test_search_order(isolated, monkeypatch):
    digests = fake_fashion_mnist(isolated / "debian")
    monkeypatch.setattr(sources, "FASHION_MNIST_FILES", digests)
    assert sources.locate_fashion_mnist(download=False) == isolated / "debian"
    fake_fashion_mnist(sources.cache_dir())
    assert sources.locate_fashion_mnist(download=False) == sources.cache_dir()
    fake_fashion_mnist(isolated / "env")
    monkeypatch.setenv(sources.ENV_VAR, str(isolated / "env"))
    assert sources.locate_fashion_mnist(download=False) == isolated / "env"
    fake_fashion_mnist(isolated / "explicit")
    assert (
        sources.locate_fashion_mnist(isolated / "explicit", download=False) == isolated / "explicit"
    )


def test_seed_splits(isolated, monkeypatch):
    monkeypatch.setattr(sources, "FASHION_MNIST_FILES", fake_fashion_mnist(isolated / "d"))
    data = load_fashion_mnist(isolated / "d")
    assert (len(data.train), len(data.valid), len(data.test)) == (1000, 5000, 20)
    assert data.train.images.dtype == np.uint8 and data.image_shape == (1, 28, 28)
    assert data.class_names[0] == "T-shirt/top" and len(data.class_names) == 10


def test_data_dir_without_the_files(isolated):
    (isolated / "empty").mkdir()
    with pytest.raises(DataError, match=r"empty: data directory \(data_dir\) lacks train-images"):
        load_fashion_mnist(isolated / "empty")
    with pytest.raises(DataError, match="does not exist"):
        load_fashion_mnist(isolated / "nowhere")


def test_image_label_count_mismatch(isolated, monkeypatch):
    digests = fake_fashion_mnist(isolated / "d", n_train=6000, n_train_labels=5999)
    monkeypatch.setattr(sources, "FASHION_MNIST_FILES", digests)
    with pytest.raises(DataError, match="train has 6000 images but 5999 labels"):
        load_fashion_mnist(isolated / "d")


def test_local_checksum_mismatch(isolated):
    fake_fashion_mnist(isolated / "d")  # not the official content
    with pytest.raises(DataError, match="checksum mismatch"):
        load_fashion_mnist(isolated / "d")


def test_download_verifies_and_removes_a_bad_file(isolated, monkeypatch):
    monkeypatch.setattr(
        sources, "_fetch", lambda url, dest: dest.write_bytes(b"\x1f\x8bnot gzip at all")
    )
    with pytest.raises(DataError):
        sources.locate_fashion_mnist()
    assert not any(sources.cache_dir().iterdir())

    monkeypatch.setattr(
        sources, "_fetch", lambda url, dest: dest.write_bytes(idx_bytes(np.zeros(3, np.uint8)))
    )
    with pytest.raises(DataError, match="checksum mismatch; the download was removed"):
        sources.locate_fashion_mnist()
    assert not any(sources.cache_dir().iterdir())


def test_download_keeps_verified_files(isolated, monkeypatch):
    staged = isolated / "server"
    monkeypatch.setattr(sources, "FASHION_MNIST_FILES", fake_fashion_mnist(staged))
    monkeypatch.setattr(
        sources,
        "_fetch",
        lambda url, dest: dest.write_bytes((staged / url.rsplit("/", 1)[1]).read_bytes()),
    )
    assert sources.locate_fashion_mnist() == sources.cache_dir()
    assert sorted(p.name for p in sources.cache_dir().iterdir()) == sorted(NAMES)


def test_npz_dataset(tiny_npz):
    data = load_dataset(tiny_npz)
    assert (len(data.train), len(data.valid), len(data.test)) == (64, 32, 16)
    assert data.class_names == ("a", "b", "c", "d")


def test_npy_dataset_holds_out_valid(tmp_path):
    np.save(tmp_path / "x.npy", np.random.default_rng(0).random((50, 8, 8)).astype(np.float32))
    data = load_dataset(tmp_path / "x.npy")
    assert (len(data.train), len(data.valid), data.train.labels) == (45, 5, None)
    assert data.train.images.dtype == np.uint8


@pytest.mark.parametrize("arrays, message", [
    ({"x_train": np.zeros((4, 8, 8), np.uint8), "y_train": np.zeros(3)}, "4 images but 3 labels"),
    ({"x_train": np.full((4, 8, 8), 2.0)}, r"float images must lie in \[0, 1\]"),
    ({"pixels": np.zeros((4, 8, 8), np.uint8)}, "expected an array 'x_train' or 'images'"),
])  # fmt: skip
def test_bad_array_files(tmp_path, arrays, message):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_dataset(tmp_path / "bad.npz")


def test_unknown_dataset():
    with pytest.raises(
        DataError, match="unknown dataset 'mnist-ish': expected one of fashion-mnist"
    ):
        load_dataset("mnist-ish")


def datasets_listing(capsys, *argv) -> tuple[int, list[str], str]:
    """``autoencode datasets ARGV`` in-process: its exit status, output lines and stderr."""
    from autoencode.cli.main import main

    code = main(["datasets", *map(str, argv)])
    out, err = capsys.readouterr()
    return code, out.splitlines(), err


def place_line(origin: str, path, state: str) -> str:
    return f"  {origin:16} {path}  {state}"


def test_datasets_command_lists_each_place_and_the_one_used(isolated, capsys):
    fake_fashion_mnist(isolated / "mine")  # complete: only the files' presence is listed
    fake_fashion_mnist(sources.cache_dir())  # complete too, but second: not used
    partial = isolated / "debian"
    fake_fashion_mnist(partial)
    (partial / NAMES[1]).unlink()
    (partial / NAMES[3]).unlink()
    code, lines, err = datasets_listing(capsys, "--data-dir", isolated / "mine")
    assert (code, err) == (0, "")
    assert lines == [
        "fashion-mnist, looked for in this order (the first complete one is used):",
        place_line("--data-dir", isolated / "mine", "complete  <- used"),
        place_line("user cache", sources.cache_dir(), "complete"),
        place_line("Debian package", partial, f"missing {NAMES[1]}, {NAMES[3]}"),
    ]


def test_datasets_command_without_the_files(isolated, capsys):
    (isolated / "empty").mkdir()
    code, lines, err = datasets_listing(capsys, "--data-dir", isolated / "empty")
    assert (code, err) == (0, "")
    assert lines == [
        "fashion-mnist, looked for in this order (the first complete one is used):",
        place_line("--data-dir", isolated / "empty", "missing " + ", ".join(NAMES)),
        place_line("user cache", sources.cache_dir(), "absent"),
        place_line("Debian package", isolated / "debian", "absent"),
        "  none complete: 'autoencode train' will download the official files into the user cache",
    ]
    assert not any("<- used" in line for line in lines)


def test_datasets_command_names_the_environment_variable(isolated, capsys, monkeypatch):
    fake_fashion_mnist(isolated / "env")
    monkeypatch.setenv(sources.ENV_VAR, str(isolated / "env"))
    code, lines, _ = datasets_listing(capsys)
    assert code == 0
    assert lines[1:] == [
        place_line(f"${sources.ENV_VAR}", isolated / "env", "complete  <- used"),
        place_line("user cache", sources.cache_dir(), "absent"),
        place_line("Debian package", isolated / "debian", "absent"),
    ]


def test_datasets_fetch_uses_a_complete_place_and_downloads_nothing(isolated, capsys, monkeypatch):
    def no_download(url, dest):
        raise AssertionError(f"downloaded {url}")

    monkeypatch.setattr(sources, "_fetch", no_download)
    fake_fashion_mnist(isolated / "mine")
    code, lines, err = datasets_listing(capsys, "--data-dir", isolated / "mine", "--fetch")
    assert (code, err) == (0, "")
    assert lines[-1] == f"using {isolated / 'mine'}"
    code, lines, err = datasets_listing(capsys, "--data-dir", isolated / "nowhere", "--fetch")
    assert code == 2
    assert place_line("--data-dir", isolated / "nowhere", "absent") in lines
    assert err == (
        f"autoencode: error: {isolated / 'nowhere'}: data directory (--data-dir) does not exist\n"
    )
