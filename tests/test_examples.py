"""The scripts in examples/ run end to end (fast mode: tiny network, 3 epochs, small grid).

Each script is run in this process with ``runpy`` (torch and the data are imported once),
with ``SKSURV_CAMLIF_EXAMPLES_FAST=1`` and a temporary directory as the working directory
(where ``survival_curves.py`` writes its PNG).
"""

import importlib.util
import runpy
from pathlib import Path

import pytest
import torch

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


@pytest.fixture
def run_example(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("SKSURV_CAMLIF_EXAMPLES_FAST", "1")
    monkeypatch.delenv("SKSURV_CAMLIF_EXAMPLES_OUTPUT_DIR", raising=False)
    monkeypatch.chdir(tmp_path)
    threads = torch.get_num_threads()

    def run(name):
        runpy.run_path(str(EXAMPLES / name), run_name="__main__")
        # the examples must leave torch's global settings as they found them
        assert torch.get_num_threads() == threads
        return capsys.readouterr().out

    return run


def test_every_example_is_tested():
    scripts = {p.name for p in EXAMPLES.glob("*.py")}
    tested = {"quickstart.py", "grid_search.py", "missing_modality.py", "survival_curves.py"}
    assert scripts == tested


def test_quickstart(run_example):
    out = run_example("quickstart.py")
    assert "616 train / 153 test" in out
    assert "Test Harrell's C-index: 0." in out
    assert out.count("\nTCGA-") == 3  # survival probabilities of three patients


def test_grid_search(run_example):
    out = run_example("grid_search.py")
    assert "best parameters: {" in out
    assert "Test C-index of the refitted best model: 0." in out


def test_missing_modality(run_example):
    out = run_example("missing_modality.py")
    assert "cnv block absent for" in out
    assert "full data" in out and "cnv absent for 30%" in out


def test_survival_curves(run_example, tmp_path):
    out = run_example("survival_curves.py")
    if importlib.util.find_spec("matplotlib") is None:
        assert "matplotlib is not installed" in out
        assert not (tmp_path / "survival_curves.png").exists()
    else:
        png = tmp_path / "survival_curves.png"
        assert png.is_file() and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f"wrote {png}" in out


def test_survival_curves_output_dir(run_example, monkeypatch, tmp_path):
    pytest.importorskip("matplotlib")
    out_dir = tmp_path / "figures"
    monkeypatch.setenv("SKSURV_CAMLIF_EXAMPLES_OUTPUT_DIR", str(out_dir))
    run_example("survival_curves.py")
    assert (out_dir / "survival_curves.png").is_file()


def test_survival_curves_without_matplotlib(run_example, monkeypatch, tmp_path):
    import builtins

    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name == "matplotlib" or name.startswith("matplotlib."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    out = run_example("survival_curves.py")
    assert "matplotlib is not installed" in out
    assert not (tmp_path / "survival_curves.png").exists()
