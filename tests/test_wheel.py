"""The wheel is complete: built offline, installed into a fresh virtual environment, its
``iff typologies test`` finds the shipped fixture cases and passes them, and its
``iff typologies new`` finds the typology template.

The new environment gets the project environment's packages through a ``.pth`` file (so
nothing is downloaded) and the engine only from the wheel; it runs from a folder outside
the checkout, so the source tree cannot stand in for a missing packaged file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _run(args: list[str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    env["PIP_NO_INDEX"] = "1"  # never reach a package index
    result = subprocess.run(
        args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert result.returncode == 0, f"{args} failed:\n{result.stdout}\n{result.stderr}"
    return result


def test_installed_wheel_runs_its_typology_cases(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--no-index",
            "-w",
            str(dist),
            str(ROOT),
        ],
        cwd=tmp_path,
    )
    (wheel,) = dist.glob("iff_engine-*.whl")

    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=tmp_path)
    python = venv / "bin" / "python"
    site = _run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        cwd=tmp_path,
    ).stdout.strip()
    # the dependencies come from the project's environment, after the venv's own packages
    (Path(site) / "project_dependencies.pth").write_text(
        sysconfig.get_paths()["purelib"] + "\n", encoding="utf-8"
    )
    _run(
        [
            sys.executable,
            "-m",
            "pip",
            "--python",
            str(python),
            "install",
            "--quiet",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        cwd=tmp_path,
    )

    where = _run(
        [
            str(python),
            "-c",
            "import engine, engine.resources as r; print(engine.__file__); print(r.cases_dir())",
        ],
        cwd=tmp_path,
    ).stdout.split()
    assert Path(where[0]).is_relative_to(venv), where
    assert Path(where[1]) == Path(where[0]).parent / "_data" / "cases", where

    result = _run([str(venv / "bin" / "iff"), "typologies", "test", "SEX-01", "STR-01"], tmp_path)
    lines = result.stdout.splitlines()
    assert lines[-1].endswith(" passed, 0 failed"), result.stdout
    assert int(lines[-1].split()[0]) >= 4  # a positive and a negative case of each
    assert {line.split()[1] for line in lines if line.startswith("PASS")} == {"SEX-01", "STR-01"}

    # the template files of `iff typologies new` are in the wheel too
    project = tmp_path / "project"
    (project / "typologies").mkdir(parents=True)
    _run(
        [str(venv / "bin" / "iff"), "typologies", "new", "LAB-99", "--root", str(project)], tmp_path
    )
    assert (project / "fixtures" / "typologies" / "LAB-99" / "pos_1.yaml").is_file()
