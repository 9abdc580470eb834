"""The package as a user installs it: the console command, the version, a chapter run in a kernel started
in ``book/`` with no environment variable, and ``scripts/lab.sh`` serving the chapters in JupyterLab."""
import importlib.metadata
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import hcmgan_lite as hc

REPO = Path(__file__).resolve().parents[1]
CHAPTERS = sorted(p.name for p in (REPO / "book").glob("*.ipynb"))


def clean_env(**extra) -> dict:
    """This process's environment without PYTHONPATH and without any HCMGAN_ variable: what a reader has."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("HCMGAN_")}
    return dict(env, **extra)


def test_version_is_the_installed_distributions():
    assert hc.__version__ == importlib.metadata.version("hcmgan-lite")
    files = importlib.metadata.distribution("hcmgan-lite").entry_points
    assert any(e.name == "hcmgan" and e.value == "hcmgan_lite.__main__:main" for e in files)


def test_console_command_is_the_module(tmp_path):
    exe = Path(sys.executable).with_name("hcmgan")
    assert exe.is_file(), "the hcmgan console command is not installed (pip install -e .)"
    a = subprocess.run([str(exe), "--help"], capture_output=True, text=True, env=clean_env(), cwd=tmp_path)
    b = subprocess.run([sys.executable, "-m", "hcmgan_lite", "--help"], capture_output=True, text=True,
                       env=clean_env(), cwd=tmp_path)
    assert a.returncode == b.returncode == 0 and a.stdout == b.stdout
    assert a.stdout.startswith("usage: hcmgan ") and "fit" in a.stdout and "data" in a.stdout
    where = subprocess.run([str(exe), "data", "where"], capture_output=True, text=True, env=clean_env(),
                           cwd=tmp_path)
    assert where.returncode == 0 and f"data folder: {REPO / 'data'}" in where.stdout


def test_the_package_is_imported_from_this_checkout_without_pythonpath(tmp_path):
    """From any folder, with no PYTHONPATH: the editable install points at this checkout."""
    r = subprocess.run([sys.executable, "-c", "import hcmgan_lite, sys; print(hcmgan_lite.__file__); "
                        "print(hcmgan_lite.find_data_root())"], capture_output=True, text=True,
                       env=clean_env(), cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    file, root = r.stdout.split()
    assert Path(file).resolve() == (REPO / "hcmgan_lite" / "__init__.py").resolve()
    assert Path(root) == REPO / "data"


_EXECUTE = """
import sys, nbformat
from nbclient import NotebookClient
nb = nbformat.read(sys.argv[1], as_version=4)
NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": sys.argv[2]}}).execute()
nbformat.write(nb, sys.argv[3])
"""


@pytest.mark.needs_data("fashion-mnist")
def test_a_chapter_runs_in_a_kernel_started_in_book_with_no_environment(tmp_path):
    """The data chapter at its default size, as a reader opens it: the kernel's folder is book/, no
    PYTHONPATH, no HCMGAN_DATA; the package and the data are found as the README says."""
    out = tmp_path / "02_data.ipynb"
    r = subprocess.run([sys.executable, "-c", _EXECUTE, str(REPO / "book" / "02_data.ipynb"), str(REPO / "book"),
                        str(out)], capture_output=True, text=True, env=clean_env(), cwd=tmp_path, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    import nbformat
    nb = nbformat.read(out, as_version=4)
    text = "\n".join(o.get("text", "") for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []))
    assert "70,000" in text or "70000" in text        # all of Fashion-MNIST, from the default data folder
    assert not [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])
                if o.get("output_type") == "error"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lab_script_serves_every_chapter(tmp_path):
    """bash scripts/lab.sh --no-browser --port P: JupyterLab answers on P, rooted in book/, with every chapter
    and the project's Python kernel; then it is stopped."""
    port, token = _free_port(), "hcmgan-test-token"
    proc = subprocess.Popen(["bash", str(REPO / "scripts" / "lab.sh"), "--no-browser", f"--port={port}",
                             f"--IdentityProvider.token={token}", f"--ServerApp.runtime_dir={tmp_path / 'rt'}"],
                            cwd=tmp_path, env=clean_env(JUPYTER_CONFIG_DIR=str(tmp_path / "cfg")),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        def get(path):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}?token={token}", timeout=5) as resp:
                return resp.status, resp.read()
        deadline, last = time.monotonic() + 120, None
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                pytest.fail(f"scripts/lab.sh exited with {proc.returncode}:\n{proc.stdout.read()[-3000:]}")
            try:
                status, body = get("/api/contents")
                break
            except OSError as e:
                last = e
                time.sleep(1)
        else:
            pytest.fail(f"JupyterLab did not answer on port {port} within 120 s ({last})")
        assert status == 200
        listed = {item["name"] for item in json.loads(body)["content"]}
        assert set(CHAPTERS) <= listed, f"missing from the Lab's folder: {sorted(set(CHAPTERS) - listed)}"
        status, body = get("/lab")
        assert status == 200 and b"JupyterLab" in body
        specs = json.loads(get("/api/kernelspecs")[1])
        assert "python3" in specs["kernelspecs"]
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
