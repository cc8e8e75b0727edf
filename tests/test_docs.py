"""The documentation builds without a warning, and the user guide's code runs.

The Sphinx build needs the ``docs`` extra (sphinx, myst-parser) and is skipped without it.
The user guide test runs every ```` ```python ```` block of ``docs/user_guide.md`` in order,
as one script, with a tiny network and 2 epochs (blocks written as ``{code-block} python``,
such as the GPU example, are shown but not run).
"""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def test_sphinx_build_has_no_warning(tmp_path):
    pytest.importorskip("sphinx")
    pytest.importorskip("myst_parser")
    out = tmp_path / "html"
    cmd = [
        sys.executable, "-m", "sphinx", "-W", "--keep-going", "-b", "html",
        "-d", str(tmp_path / "doctrees"), str(DOCS), str(out),
    ]
    pythonpath = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    env = dict(os.environ, PYTHONPATH=pythonpath)
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, (
        f"sphinx-build failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-6000:]}"
    )
    for page in ("index", "installation", "user_guide", "model", "benchmarks", "speed",
                 "scaling", "api"):
        assert (out / f"{page}.html").is_file(), page
    api = (out / "api.html").read_text(encoding="utf-8")
    documented = ["CAMLIFSurvival", "CAMLIFSurvival.fit", "CAMLIFSurvival.predict",
                  "CAMLIFSurvival.predict_survival_function", "CAMLIFSurvival.score",
                  "datasets.load_tcga_gbmlgg", "datasets.iter_splits",
                  "losses.cox_ph_loss", "losses.alignment_loss"]
    documented += [f"nn.{name}" for name in (
        "CAMLIFNet", "GroupTokenizer", "ModalityEncoder", "GlobalContextCrossAttention",
        "ModalAttention", "LowRankFusion", "OptimalWeightConcat")]
    for name in documented:
        assert f'id="sksurv_camlif.{name}"' in api, name


def _python_blocks(text):
    """The bodies of the ```python fenced blocks (not of {code-block} directives)."""
    return re.findall(r"^```python\n(.*?)^```", text, flags=re.M | re.S)


# Tiny network, 2 epochs, one thread, no worker processes: the guide's code in seconds.
_FAST_DEFAULTS = dict(d_model=8, n_heads=2, n_encoder_layers=1, hidden_size=16, max_iter=2,
                      n_threads=1)


def _run_page(page, monkeypatch, tmp_path, min_blocks):
    """Run the page's python blocks (``page`` relative to docs/) as one script, fast; return
    the namespace."""
    from sksurv_camlif import CAMLIFSurvival

    blocks = _python_blocks((DOCS / page).read_text(encoding="utf-8"))
    assert len(blocks) >= min_blocks
    code = "\n".join(blocks)
    code = re.sub(r"\bmax_iter=\d+", "max_iter=2", code)
    code = re.sub(r"\bn_jobs=\d+", "n_jobs=None", code)  # no worker processes
    kwdefaults = dict(CAMLIFSurvival.__init__.__kwdefaults__, **_FAST_DEFAULTS)
    monkeypatch.setattr(CAMLIFSurvival.__init__, "__kwdefaults__", kwdefaults)
    monkeypatch.chdir(tmp_path)
    namespace = {"__name__": page}
    exec(compile(code, str(DOCS / page), "exec"), namespace)
    return namespace


def test_user_guide_snippets_run(monkeypatch, tmp_path):
    namespace = _run_page("user_guide.md", monkeypatch, tmp_path, min_blocks=10)
    assert namespace["loaded"].device_.type == "cpu"
    assert len(namespace["times"]) > 0


def test_readme_quick_start_runs(monkeypatch, tmp_path):
    namespace = _run_page("../README.md", monkeypatch, tmp_path, min_blocks=1)
    assert 0.5 < namespace["est"].score(namespace["X"].iloc[namespace["test"]], namespace["y"][namespace["test"]])
    assert (tmp_path / "model.skops").is_file()


def test_index_snippet_runs(monkeypatch, tmp_path):
    namespace = _run_page("index.md", monkeypatch, tmp_path, min_blocks=1)
    assert hasattr(namespace["est"], "module_")


def test_guide_figures_rebuild_in_fast_mode(tmp_path):
    """docs/make_figures.py (the user guide's pictures) runs end to end with a tiny network."""
    pytest.importorskip("matplotlib")
    from conftest import load_script

    name = "_camlif_make_figures_under_test"
    try:
        out = load_script(DOCS / "make_figures.py", name).main(["--fast", "--out", str(tmp_path)])
    finally:
        sys.modules.pop(name, None)
    for fig in ("km_risk_groups", "survival_curves", "contributions", "training_curve"):
        path = out / f"guide_{fig}.png"
        assert path.stat().st_size > 5000, fig
        assert (DOCS / "_static" / path.name).is_file(), f"{path.name} is not committed"
