"""Tests of hcmgan_lite.data on the real IDX files and on fabricated folders."""
import gzip
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from hcmgan_lite.data import (FASHION_MNIST_CLASSES, ImageData, find_data_root, from_tensor,
                              load_dataset, load_fashion_mnist, load_mnist, load_sop)

DATA_ROOT = Path(os.environ.get("HCMGAN_DATA") or Path(__file__).parents[1].parent / "shared" / "data")


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


def test_mnist_10k_real():
    data = load_mnist(DATA_ROOT)
    assert data.name == "mnist-10k" and len(data) == 10_000 and data.shape == (1, 28, 28)
    assert torch.bincount(data.labels).tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert data.labels[:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert abs((data.images.mean(dtype=torch.float64).item() + 1) / 2 - 0.1311) < 0.0005
    assert data.class_names == [str(d) for d in range(10)]


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
    assert find_data_root() == Path("data")


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
