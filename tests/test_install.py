"""The project installs from a wheel and runs from anywhere: the data files ship inside the wheel.

The wheel is built from a copy of the checkout (so no ``build/`` is left behind), then installed without
its dependencies into a fresh venv; a ``.pth`` file lends that venv the test venv's site-packages for NumPy
and pandas (a plain path entry: the ``.pth`` files there, such as the editable install's, are not run).
"""

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "build", "dist", "*.egg-info", "__pycache__", ".*_cache", "tests", "screenshots*"
)
SHIPPED = [
    "fitscope/data/README.md",
    "fitscope/data/boston-housing/train-data.csv",
    "fitscope/data/boston-housing/train-target.csv",
    "fitscope/data/boston-housing/test-data.csv",
    "fitscope/data/boston-housing/test-target.csv",
    "fitscope/data/download-time/train.csv",
    "fitscope/data/download-time/test.csv",
]
#: Where each folder of the checkout lands in the wheel: one import package, ``fitscope``.
#: Each source folder and where it lands: every package folder of the checkout, found, not listed (a package
#: once missing from pyproject's list shipped without its modules).
PACKAGED = {"package": "fitscope", "resources": "fitscope/resources", "data": "fitscope/data",
            **{init.parent.relative_to(ROOT).as_posix(): "fitscope/" + init.parent.relative_to(ROOT).as_posix()
               for top in ("engine", "gui") for init in (ROOT / top).rglob("__init__.py")}}


def _run(args, cwd, **kw):
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, **kw)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(venv folder, its python, the wheel) with fitscope installed from a freshly built wheel."""
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(ROOT, src, ignore=IGNORE)
    built = _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(src)],
                 tmp)
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp / "dist").glob("fitscope-*.whl")

    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = _run([str(python), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"], tmp)
    Path(site.stdout.strip(), "test-venv-dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = [sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index", "-q"]
    done = _run([*pip, str(wheel)], tmp)
    assert done.returncode == 0, done.stderr
    return venv, python, wheel


def test_the_wheel_holds_the_data_files(installed):
    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    assert set(SHIPPED) <= names
    assert {"fitscope/__main__.py", "fitscope/engine/cli/__init__.py", "fitscope/engine/cli/fit.py",
            "fitscope/gui/app.py"} <= names
    # Every package and resource of the checkout ships: the app's views and panels, its texts and style.
    for folder, packaged in PACKAGED.items():
        for source in (ROOT / folder).glob("*.py"):
            assert f"{packaged}/{source.name}" in names
    for resource in (ROOT / "resources").rglob("*.*"):
        if resource.suffix in (".md", ".qss", ".svg"):
            assert f"fitscope/resources/{resource.relative_to(ROOT / 'resources').as_posix()}" in names
    # Nothing but the one package lands at the top of site-packages.
    tops = {name.split("/")[0] for name in names if not name.split("/")[0].endswith(".dist-info")}
    assert tops == {"fitscope"}


def test_the_installed_package_is_imported_from_the_venv_not_the_checkout(installed, tmp_path):
    venv, python, _ = installed
    where = _run([str(python), "-c", "import fitscope.engine as e, fitscope.data as d; print(e.__file__); "
                                     "print(d.__file__)"], tmp_path)
    assert where.returncode == 0, where.stderr
    for line in where.stdout.splitlines():
        assert Path(line).resolve().is_relative_to(venv.resolve())


def test_the_installed_command_trains_on_the_shipped_data_from_another_folder(installed, tmp_path):
    venv, _, _ = installed
    fitscope = str(venv / "bin" / "fitscope")
    run = _run([fitscope, "fit", "--data", "boston-housing", "--epochs", "2", "--quiet"], tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stderr == ""
    lines = run.stdout.splitlines()
    assert any(line.startswith("test loss:") for line in lines)
    assert lines[-1].startswith("baseline loss:") and lines[-1].split()[2] == "85.5829"


def test_python_dash_m_fitscope_is_the_same_command(installed, tmp_path):
    _, python, _ = installed
    run = _run([str(python), "-m", "fitscope", "fit", "--data", "download-time", "--epochs", "1", "--quiet"],
               tmp_path)
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0].startswith("final training loss:")
    version = _run([str(python), "-m", "fitscope", "--version"], tmp_path)
    assert version.returncode == 0 and version.stdout.startswith("fitscope ")


def test_the_app_has_a_windowless_entry_point_too(installed):
    venv, _, wheel = installed
    entry_points = next(n for n in zipfile.ZipFile(wheel).namelist() if n.endswith("entry_points.txt"))
    text = zipfile.ZipFile(wheel).read(entry_points).decode()
    assert "[console_scripts]\nfitscope = fitscope.__main__:main" in text
    assert "[gui_scripts]\nfitscope-app = fitscope.__main__:app" in text
    assert (venv / "bin" / "fitscope-app").exists()
