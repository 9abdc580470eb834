"""The chapters as notebook tests: ``bash scripts/test.sh`` collects ``book/*.ipynb`` with nbval
(``--nbval-lax``: every cell must run without an error; outputs are not compared, since they are
trainings) and runs each chapter from top to bottom in a fresh kernel started in ``book/``, the way
a reader's JupyterLab does.

The kernels inherit this process's environment, so the chapters run at the ``tiny`` profile (width 8,
20 steps per GAN: seconds per training, meaningless clusters), with their runs in a temporary folder
rather than ``book/runs``. Set ``HCMGAN_PROFILE=demo`` (or any profile) to test them at another size:
``HCMGAN_PROFILE=demo bash scripts/test.sh book``.
"""
import atexit
import os
import shutil
import tempfile

os.environ.setdefault("HCMGAN_PROFILE", "tiny")
os.environ.setdefault("HCMGAN_SOP_PER_CLASS", "12")     # the SOP chapter's images per class
os.environ.setdefault("HCMGAN_PROGRESS", "0")
if "HCMGAN_RUNS" not in os.environ:
    _runs = tempfile.mkdtemp(prefix="hcmgan-nbval-")
    os.environ["HCMGAN_RUNS"] = _runs
    atexit.register(shutil.rmtree, _runs, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """Without the images every chapter reads, the chapters skip, saying so (or fail under
    HCMGAN_REQUIRE_DATA=1, as in CI)."""
    import pytest
    from hcmgan_lite.data import find_data_root
    from hcmgan_lite.fetch import has_data
    missing = [d for d in ("fashion-mnist", "mnist") if not has_data(d)]
    if not missing or os.environ.get("HCMGAN_REQUIRE_DATA", "") not in ("", "0"):
        return
    skip = pytest.mark.skip(reason=f"the chapters need {', '.join(missing)} in {find_data_root()} "
                                   f"(hcmgan data fetch; see README, Data)")
    for item in items:
        if str(item.fspath).endswith(".ipynb"):
            item.add_marker(skip)
