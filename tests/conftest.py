"""Shared test configuration: the tiny, fast, deterministic network every file uses."""

#: A tiny network on the CPU with one torch thread and a fixed seed: a fit takes a fraction
#: of a second on the test data. Files add their own epoch budget.
TINY_NET = dict(
    d_model=8,
    n_heads=2,
    hidden_size=16,
    n_encoder_layers=1,
    n_tokens=2,
    device="cpu",
    n_threads=1,
    random_state=0,
)

#: The paper's plain network (no linear offset, one member with its own validation split):
#: for tests of the training loop itself.
PLAIN = dict(offset=None, n_members=1)


def tiny(max_iter, **params):
    """``TINY_NET`` trained ``max_iter`` epochs without early stopping, plus ``params``."""
    return {**TINY_NET, "max_iter": max_iter, "early_stopping": False, **params}


def load_script(path, name):
    """Import the script at ``path`` (``benchmarks/`` is not a package) as module ``name``;
    the caller removes it from ``sys.modules`` when done."""
    import importlib.util
    import sys

    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
