"""Tests of hcmgan_lite.data on the real IDX files and on fabricated folders."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hcmgan_lite.data import (FASHION_MNIST_CLASSES, ImageData, default_data_root, find_data_root,
                              from_tensor, load_dataset, load_fashion_mnist, load_mnist, load_sop)
from hcmgan_lite.fetch import fetch_data, has_data

DATA_ROOT = find_data_root()


@pytest.fixture(scope="module")
def fmnist():
    return load_fashion_mnist(DATA_ROOT)


def write_idx(path: Path, array: np.ndarray, compress: bool = False) -> None:
    """Write a uint8 array in IDX format (magic 0x0000 08 ndim, big-endian dims)."""
    a = np.asarray(array, dtype=np.uint8)
    payload = bytes([0, 0, 8, a.ndim]) + np.asarray(a.shape, dtype=">u4").tobytes() + a.tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    if compress:
        with gzip.open(str(path) + ".gz", "wb") as f:
            f.write(payload)
    else:
        path.write_bytes(payload)


def small_data(n_per_class=(5, 7, 3)) -> ImageData:
    labels = torch.cat([torch.full((n,), c) for c, n in enumerate(n_per_class)])
    labels = labels[torch.randperm(len(labels), generator=torch.Generator().manual_seed(1))]
    images = torch.arange(len(labels), dtype=torch.float32).view(-1, 1, 1, 1).expand(-1, 1, 28, 28) / 100
    return ImageData(images.contiguous(), labels, ["a", "b", "c"], "small")


# --- real data -------------------------------------------------------------------------------

@pytest.mark.needs_data("fashion-mnist")
def test_fashion_mnist_real(fmnist):
    assert fmnist.name == "fashion-mnist"
    assert len(fmnist) == 70_000 and fmnist.shape == (1, 28, 28)
    assert fmnist.images.dtype == torch.float32 and fmnist.labels.dtype == torch.int64
    assert fmnist.images.min() >= -1 and fmnist.images.max() <= 1
    assert torch.bincount(fmnist.labels).tolist() == [7000] * 10
    assert fmnist.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    train_mean = (fmnist.images[:60_000].mean(dtype=torch.float64).item() + 1) / 2
    assert abs(train_mean - 0.2860) < 0.0005
    assert fmnist.class_names == FASHION_MNIST_CLASSES and fmnist.n_classes == 10


@pytest.mark.needs_data("mnist")
def test_mnist_10k_real():
    data = load_mnist(DATA_ROOT)
    assert data.name == "mnist-10k" and len(data) == 10_000 and data.shape == (1, 28, 28)
    assert torch.bincount(data.labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert data.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert abs((data.images.mean(dtype=torch.float64).item() + 1) / 2 - 0.1311) < 0.0005
    assert data.class_names == [str(d) for d in range(10)]


@pytest.mark.needs_data("mnist")
def test_load_dataset_dispatch():
    assert load_dataset("mnist", DATA_ROOT).name == "mnist-10k"
    with pytest.raises(ValueError, match="accepted names.*sop"):
        load_dataset("cifar10", DATA_ROOT)


# --- IDX parsing and search order ------------------------------------------------------------

def test_idx_train_and_test_merged_exact_values(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    x_train = np.array([np.full((28, 28), v) for v in (0, 255, 51)], dtype=np.uint8)
    write_idx(raw / "train-images-idx3-ubyte", x_train)
    write_idx(raw / "train-labels-idx1-ubyte", [3, 1, 4])
    write_idx(raw / "t10k-images-idx3-ubyte", x_train[:2], compress=True)
    write_idx(raw / "t10k-labels-idx1-ubyte", [1, 5], compress=True)
    data = load_mnist(tmp_path)
    assert data.name == "mnist" and len(data) == 5
    assert data.labels.tolist() == [3, 1, 4, 1, 5]
    assert data.images[:, 0, 0, 0].tolist() == pytest.approx([-1.0, 1.0, 51 / 127.5 - 1, -1.0, 1.0])


def test_idx_truncated_and_bad_magic(tmp_path):
    folder = tmp_path / "fashion-mnist"
    write_idx(folder / "train-images-idx3-ubyte", np.zeros((4, 28, 28)))
    write_idx(folder / "train-labels-idx1-ubyte", [0, 1, 2, 3])
    path = folder / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(ValueError, match="truncated") as err:
        load_fashion_mnist(tmp_path)
    assert str(path) in str(err.value)
    path.write_bytes(b"\x00\x00\x0c\x03" + bytes(100))
    with pytest.raises(ValueError, match="magic number"):
        load_fashion_mnist(tmp_path)
    path.with_name(path.name + ".gz").write_bytes(b"not gzip")
    path.unlink()
    with pytest.raises(ValueError, match="corrupt"):
        load_fashion_mnist(tmp_path)


def test_broken_compressed_stream_names_the_file(tmp_path):
    """64 bytes overwritten inside a .gz stream: a zlib error, reported with the file and its folder."""
    folder = tmp_path / "fashion-mnist"
    rng = np.random.default_rng(0)
    write_idx(folder / "train-images-idx3-ubyte", rng.integers(0, 256, (50, 28, 28)), compress=True)
    write_idx(folder / "train-labels-idx1-ubyte", [0] * 50)
    gz = folder / "train-images-idx3-ubyte.gz"
    raw = bytearray(gz.read_bytes())
    raw[40:104] = bytes(range(64))
    gz.write_bytes(bytes(raw))
    with pytest.raises(ValueError, match="cannot read IDX file") as err:
        load_fashion_mnist(tmp_path)
    assert str(gz) in str(err.value) and str(folder) in str(err.value)


def test_download_branch_reads_both_splits(tmp_path, monkeypatch):
    import torchvision.datasets

    class FakeFashionMNIST:  # stands in for the network download
        def __init__(self, root, train, download):
            assert download and Path(root) == tmp_path
            n = 3 if train else 2
            self.data = torch.full((n, 28, 28), 255 if train else 0, dtype=torch.uint8)
            self.targets = torch.arange(n) + (0 if train else 7)

    monkeypatch.setattr(torchvision.datasets, "FashionMNIST", FakeFashionMNIST)
    data = load_fashion_mnist(tmp_path, download=True)
    assert len(data) == 5 and data.labels.tolist() == [0, 1, 2, 7, 8]
    assert data.images[:3].min() == 1 and data.images[3:].max() == -1


def test_missing_root(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_mnist(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_sop(tmp_path / "nowhere")


def test_empty_folder_lists_search_path(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        load_fashion_mnist(tmp_path)
    msg = str(err.value)
    for folder in (tmp_path / "fashion-mnist", tmp_path / "FashionMNIST" / "raw", tmp_path):
        assert f"- {folder}\n" in msg
    assert "HCMGAN_DATA" in msg and "download=True" in msg


def test_find_data_root(monkeypatch, tmp_path):
    monkeypatch.setenv("HCMGAN_DATA", str(tmp_path))
    assert find_data_root() == tmp_path
    assert find_data_root("elsewhere") == Path("elsewhere")
    monkeypatch.delenv("HCMGAN_DATA")
    # the checkout's data/ folder, whatever the current folder (a kernel started in book/ included)
    assert find_data_root() == Path(__file__).resolve().parents[1] / "data" == default_data_root()
    monkeypatch.chdir(tmp_path)
    assert find_data_root() == default_data_root()


def _idx_folder(folder: Path, n=3, test=False):
    write_idx(folder / "train-images-idx3-ubyte", np.full((n, 28, 28), 7), compress=True)
    write_idx(folder / "train-labels-idx1-ubyte", list(range(n)), compress=True)
    if test:
        write_idx(folder / "t10k-images-idx3-ubyte", np.zeros((2, 28, 28)))
        write_idx(folder / "t10k-labels-idx1-ubyte", [4, 5])


def test_fetch_copies_a_folder_into_the_loaders_layout(tmp_path):
    src, dest = tmp_path / "src", tmp_path / "dest"
    _idx_folder(src / "FashionMNIST" / "raw", test=True)      # torchvision's layout in, ours out
    _idx_folder(src / "mnist-10k", n=4)
    (src / "mnist-10k" / "notes.txt").write_text("not data")
    said = []
    where = fetch_data(source=src, to=dest, announce=said.append)
    assert where == {"fashion-mnist": str(dest / "fashion-mnist"), "mnist": str(dest / "mnist-10k")}
    assert sorted(p.name for p in (dest / "fashion-mnist").iterdir()) == [
        "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert not (dest / "mnist-10k" / "notes.txt").exists() and not list(dest.rglob("*.part"))
    assert len(load_fashion_mnist(dest)) == 5 and load_mnist(dest).name == "mnist-10k"
    assert has_data("fashion-mnist", dest) and has_data("mnist", dest) and not has_data("mnist", tmp_path / "x")
    assert "5 images, 4 files copied" in said[0]
    # a second fetch finds the data where it is and copies nothing
    said.clear()
    fetch_data(["fmnist"], source=src, to=dest, announce=said.append)
    assert said == [f"fashion-mnist: 5 images already in {dest / 'fashion-mnist'}"]


def test_fetch_refuses_what_it_cannot_do(tmp_path):
    with pytest.raises(ValueError, match="unknown data set 'cifar10' for fetch"):
        fetch_data(["cifar10"], source=tmp_path, to=tmp_path / "d")
    with pytest.raises(FileNotFoundError, match="no such folder"):
        fetch_data(source=tmp_path / "nowhere", to=tmp_path / "d")
    with pytest.raises(ValueError, match="same folder"):
        fetch_data(source=tmp_path, to=tmp_path)
    (tmp_path / "src").mkdir()                                  # a source without the data set: the loader's error
    with pytest.raises(FileNotFoundError, match="no MNIST IDX files"):
        fetch_data(["mnist"], source=tmp_path / "src", to=tmp_path / "d")
    bad = tmp_path / "bad" / "fashion-mnist"                    # a corrupt file is never copied
    _idx_folder(bad)
    (bad / "train-images-idx3-ubyte.gz").write_bytes(b"not gzip")
    with pytest.raises(ValueError, match="cannot read IDX file"):
        fetch_data(["fashion-mnist"], source=tmp_path / "bad", to=tmp_path / "d2")
    assert not (tmp_path / "d2" / "fashion-mnist").exists()


def test_fetch_downloads_without_a_source(tmp_path, monkeypatch):
    import torchvision.datasets

    class FakeMNIST:  # stands in for the network download
        def __init__(self, root, train, download):
            assert download and Path(root) == tmp_path / "d"
            self.data = torch.zeros((2 if train else 1, 28, 28), dtype=torch.uint8)
            self.targets = torch.tensor([1, 2] if train else [3])

    monkeypatch.setattr(torchvision.datasets, "MNIST", FakeMNIST)
    said = []
    assert fetch_data("mnist", to=tmp_path / "d", announce=said.append) == {"mnist": str(tmp_path / "d")}
    assert said == [f"mnist: downloaded 3 images into {tmp_path / 'd'}"]


def test_data_command_fetch_and_where(tmp_path, capsys):
    from hcmgan_lite.__main__ import main
    _idx_folder(tmp_path / "src" / "fashion-mnist")
    assert main(["data", "fetch", "fashion-mnist", "--from", str(tmp_path / "src"), "--to", str(tmp_path / "d")]) == 0
    assert f"data folder: {tmp_path / 'd'}" in capsys.readouterr().out
    assert main(["data", "where", "--data-root", str(tmp_path / "d")]) == 0
    out = capsys.readouterr().out
    assert f"fashion-mnist: 3 images in {tmp_path / 'd' / 'fashion-mnist'}" in out
    assert "mnist: not found (hcmgan data fetch mnist)" in out
    assert main(["data", "fetch", "--from", str(tmp_path / "nowhere"), "--to", str(tmp_path / "d")]) == 2
    assert "error: --from" in capsys.readouterr().err


def test_a_misspelt_dataset_is_an_error_never_fashion_mnist():
    from hcmgan_lite import HCMGAN, get_settings
    for bad in ("fasion-mnist", "mnsit", "cifar10"):
        with pytest.raises(ValueError, match=f"unknown data set '{bad}'; accepted: mnist, fashion-mnist, sop"):
            get_settings("quick", bad)
        with pytest.raises(ValueError, match="unknown data set"):
            HCMGAN(dataset=bad).fit(torch.zeros(4, 28, 28))
    with pytest.raises(TypeError, match="dataset must be a name"):
        get_settings("quick", 3)
    fm = get_settings("paper", "fashion-mnist")
    assert get_settings("paper", None) == get_settings("paper", "custom") == get_settings("paper", "FMNIST") == fm
    assert get_settings("paper", "mnist-10k") == get_settings("paper", "mnist") != fm


# --- Stanford Online Products ----------------------------------------------------------------

def make_sop(base: Path) -> None:
    rng = np.random.default_rng(0)
    layout = {"bicycle_final": ["a.JPG", "b.jpg", "sub/c.JPG"], "chair_final": ["x.jpeg", "deep/er/y.png"],
              "kettle_final": ["k1.JPG", "k2.JPG"], "lamp_final": ["l.JPG"]}
    for cls, files in layout.items():
        for f in files:
            path = base / cls / f
            path.parent.mkdir(parents=True, exist_ok=True)
            h, w = rng.integers(20, 90, size=2)
            Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(path)
    (base / "bicycle_final" / "notes.txt").write_text("not an image")
    (base / "Ebay_info.txt").write_text("metadata")


def test_sop_fabricated(tmp_path):
    make_sop(tmp_path / "Stanford_Online_Products")
    data = load_sop(tmp_path, progress=False)
    assert data.name == "sop" and data.class_names == ["bicycle", "chair"]
    assert len(data) == 5 and data.shape == (1, 32, 32)
    assert torch.bincount(data.labels).tolist() == [3, 2]
    assert data.images.min() >= -1 and data.images.max() <= 1
    same = load_sop(tmp_path / "Stanford_Online_Products", size=28, max_per_class=1, progress=False)
    assert same.shape == (1, 28, 28) and torch.bincount(same.labels).tolist() == [1, 1]


def test_sop_grayscale_value(tmp_path):
    path = tmp_path / "mug_final" / "white.JPG"
    path.parent.mkdir()
    Image.new("RGB", (50, 70), (255, 255, 255)).save(path)
    data = load_sop(tmp_path, progress=False)
    assert data.images.min() > 0.97


def test_sop_without_class_folders(tmp_path):
    (tmp_path / "Stanford_Online_Products" / "bicycle").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="_final"):
        load_sop(tmp_path)


# --- from_tensor -----------------------------------------------------------------------------

def test_from_tensor_layouts_and_ranges():
    nhwc = np.zeros((4, 28, 28, 1), dtype=np.uint8)
    nhwc[1] = 255
    d = from_tensor(nhwc)
    assert d.shape == (1, 28, 28) and d.images[0].max() == -1 and d.images[1].min() == 1
    assert from_tensor(torch.rand(2, 3, 32, 32)).shape == (3, 32, 32)
    assert torch.allclose(from_tensor(torch.full((2, 28, 28), 0.5)).images, torch.zeros(2, 1, 28, 28))
    assert torch.allclose(from_tensor(torch.full((2, 28, 28), 127.5)).images, torch.zeros(2, 1, 28, 28))
    neg = torch.full((2, 28, 28), -0.5)
    assert torch.equal(from_tensor(neg).images, neg.unsqueeze(1))
    scaled = from_tensor(torch.full((2, 28, 28), 10.0), value_range=(0, 20))
    assert torch.allclose(scaled.images, torch.zeros(2, 1, 28, 28))


def test_from_tensor_labels_remapped():
    d = from_tensor(torch.zeros(4, 28, 28), labels=np.array([3, 7, 7, 3]))
    assert d.labels.tolist() == [0, 1, 1, 0] and d.labels.dtype == torch.int64
    assert d.class_names == ["3", "7"] and d.n_classes == 2
    named = from_tensor(torch.zeros(3, 28, 28), labels=[2, 0, 2], class_names=["x", "y", "z"])
    assert named.labels.tolist() == [1, 0, 1] and named.class_names == ["x", "z"]


def test_from_tensor_errors():
    bad = torch.zeros(3, 28, 28)
    bad[0, 0, :2] = float("nan")
    with pytest.raises(ValueError, match="2 NaN/inf"):
        from_tensor(bad)
    with pytest.raises(ValueError, match="30x30.*28x28 and 32x32"):
        from_tensor(torch.zeros(2, 30, 30))
    with pytest.raises(ValueError, match="accepted ranges"):
        from_tensor(torch.full((2, 28, 28), 300.0))
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        from_tensor(torch.zeros(3, 28, 28), labels=[0, 1])


# --- ImageData.subset ------------------------------------------------------------------------

def test_subset_classes_by_name_and_index():
    data = small_data()
    by_name, by_index = data.subset(classes=["c", "a"]), data.subset(classes=[2, 0])
    assert torch.equal(by_name.images, by_index.images) and torch.equal(by_name.labels, by_index.labels)
    assert by_name.class_names == ["c", "a"]
    assert torch.bincount(by_name.labels).tolist() == [3, 5]
    originals = torch.tensor([2, 0])[by_name.labels]
    assert torch.equal(originals, data.labels[data.labels != 1])


def test_subset_per_class_deterministic():
    data = small_data()
    a, b, c = (data.subset(per_class=4, seed=s) for s in (0, 0, 1))
    assert torch.bincount(a.labels).tolist() == [4, 4, 3]
    assert torch.equal(a.images, b.images) and not torch.equal(a.images, c.images)
    assert len(data.subset(classes=["b"], per_class=2)) == 2


@pytest.mark.needs_data("fashion-mnist")
def test_subset_on_real_data(fmnist):
    sub = fmnist.subset(classes=["Bag", "Trouser"], per_class=100, seed=3)
    assert sub.class_names == ["Bag", "Trouser"] and torch.bincount(sub.labels).tolist() == [100, 100]
    assert torch.equal(sub.images, fmnist.subset(classes=[8, 1], per_class=100, seed=3).images)


def test_subset_errors():
    data = small_data()
    with pytest.raises(ValueError, match="unknown class name 'd'"):
        data.subset(classes=["d"])
    with pytest.raises(ValueError, match="at least 1"):
        data.subset(per_class=0)
    with pytest.raises(ValueError, match="needs labels"):
        ImageData(data.images).subset(per_class=2)


def test_to_returns_new_object():
    data = small_data()
    moved = data.to("cpu")
    assert moved is not data and torch.equal(moved.labels, data.labels) and len(moved) == len(data)
