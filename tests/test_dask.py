"""Model selection through joblib's Dask backend gives the same results as the serial run.

Two worker processes of one thread each (``distributed.LocalCluster``), a tiny
``CAMLIFSurvival`` and a 2 x 2 grid search on scikit-survival's breast-cancer data: the
estimator is seeded and uses one torch thread, so a fit in a worker process must give the
same C-index as the same fit in this process.
"""

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")

import joblib  # noqa: E402
from sklearn.model_selection import GridSearchCV, KFold  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from sksurv.datasets import load_breast_cancer  # noqa: E402

from sksurv_camlif import CAMLIFSurvival  # noqa: E402
from conftest import tiny

TINY = tiny(max_iter=3)


@pytest.fixture(scope="module")
def data():
    X, y = load_breast_cancer()
    genes = [c for c in X.columns if c.startswith("X")]
    return X[genes], y, genes


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    )
    cl = distributed.Client(cluster)
    try:
        yield cl
    finally:
        cl.close()
        cluster.close()


def _search(genes):
    spec = [("g1", "passthrough", genes[:38]), ("g2", StandardScaler(), genes[38:])]
    return GridSearchCV(
        CAMLIFSurvival(spec, **TINY),
        {"d_model": [8, 16]},
        cv=KFold(2, shuffle=True, random_state=0),
        n_jobs=-1,
    )


def test_grid_search_dask_backend_matches_serial(data, client):
    X, y, genes = data
    serial = _search(genes).set_params(n_jobs=None).fit(X, y)

    with distributed.get_task_stream(client) as stream, joblib.parallel_backend("dask"):
        dask = _search(genes).fit(X, y)
    # the 4 fits (2 candidates x 2 folds) really ran on the workers
    assert len(stream.data) >= 1
    assert len({task["worker"] for task in stream.data}) >= 1

    np.testing.assert_allclose(
        dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"], rtol=1e-6
    )
    np.testing.assert_allclose(
        dask.cv_results_["split0_test_score"], serial.cv_results_["split0_test_score"], rtol=1e-6
    )
    assert dask.best_params_ == serial.best_params_
    # the refitted best estimator (fitted here, after the search) predicts the same
    np.testing.assert_allclose(dask.predict(X), serial.predict(X), rtol=1e-6, atol=1e-6)
