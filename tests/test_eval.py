"""Evaluation package: probes, k-NN, MI checks, the probe script's outputs and its errors."""

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dim.errors import DataError
from eval.knn import BACKENDS, knn_predict, neighbours
from eval.linear import linear_probe, mlp_probe
from eval.mi_checks import label_mi_barber_agakov, label_mi_estimate, neural_dependency

ROOT = Path(__file__).resolve().parent.parent


def _separable(n=600, classes=4, dim=16, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(classes, size=n)
    centres = rng.normal(size=(classes, dim)) * 6
    return (centres[labels] + rng.normal(size=(n, dim))).astype(np.float32), labels


def test_linear_probe_separates_and_shuffled_labels_give_chance():
    x, y = _separable()
    result = linear_probe(x[:400], y[:400], x[400:], y[400:])
    assert result["top1"] > 0.98 and result["top5"] == 1.0
    shuffled = np.random.default_rng(1).permutation(y)
    chance = linear_probe(x[:400], shuffled[:400], x[400:], shuffled[400:])
    assert abs(chance["top1"] - 0.25) < 0.12


def test_mlp_probe_separates():
    x, y = _separable()
    assert mlp_probe(x[:400], y[:400], x[400:], y[400:], epochs=15)["top1"] > 0.95


@pytest.mark.usefixtures("single_thread")
@pytest.mark.parametrize("n", [4, 5, 257, 285, 513])
def test_every_probe_fits_any_training_size_with_two_rows_per_class(n):
    """4 and 5 rows: two per class; 257 and 513 rows: the refit on the whole train split
    leaves one row after the batches of 256; 285 rows: so does the fit of the weight-decay
    sweep (285 - 28 validation rows = 257). Every probe must still classify separable data."""
    labels = np.arange(n + 200) % 2  # rows alternate between the classes: >= 2 per class in the first n
    x = (8 * np.eye(4)[labels] + np.random.default_rng(0).normal(size=(n + 200, 4))).astype(np.float32)
    train_x, train_y, test_x, test_y = x[:n], labels[:n], x[n:], labels[n:]
    assert linear_probe(train_x, train_y, test_x, test_y, weight_decays=(0.0, 1e-2), max_iter=50)["top1"] > 0.9
    assert mlp_probe(train_x, train_y, test_x, test_y, epochs=10)["top1"] > 0.9
    for backend in BACKENDS:
        assert (knn_predict(train_x, train_y, test_x, backend=backend) == test_y).mean() > 0.9, backend


K = 10  # neighbours in the k-NN tests


def _knn_cases() -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """name -> (train (N, 16), queries (100, 16), copy_of (N,)): copy_of[r] is the distinct
    row that training row r repeats (r itself where rows are all distinct)."""
    rng = np.random.default_rng(0)
    cases = {f"N={n}": (rng.normal(size=(n, 16)), rng.normal(size=(100, 16)), np.arange(n))
             for n in (K + 1, 30, 1023, 1025)}  # fmt: skip
    cases["mean 3"] = (rng.normal(size=(300, 16)) + 3, rng.normal(size=(100, 16)) + 3, np.arange(300))
    copy_of = rng.permutation(np.repeat(np.arange(100), 3))  # 100 distinct rows, 3 copies each
    distinct = rng.normal(size=(100, 16))
    cases["duplicates"] = (distinct[copy_of], distinct[:50] + 0.1 * rng.normal(size=(50, 16)), copy_of)
    return cases


def _cosine(a, b):
    """Cosine similarity of a (..., D) and b (..., D) along the last axis, in float64."""
    return (a / np.linalg.norm(a, axis=-1, keepdims=True) * b / np.linalg.norm(b, axis=-1, keepdims=True)).sum(-1)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(_knn_cases()))
def test_knn_neighbours_equal_sklearn_brute_force(backend, case):
    """Against NearestNeighbors(algorithm="brute", metric="cosine") in float64: the same
    similarity at every rank, each returned row really has it, and the same row wherever that
    similarity is apart from the other ranks' by more than float32 rounding. Duplicate rows
    tie exactly; which copy comes back is unspecified (module docstring), so there the rows
    are compared as vectors: the same distinct row at every rank."""
    from sklearn.neighbors import NearestNeighbors

    train, queries, copy_of = _knn_cases()[case]
    search = NearestNeighbors(n_neighbors=K, algorithm="brute", metric="cosine").fit(train)
    distances, expected = search.kneighbors(queries)
    similarities, rows = neighbours(train, queries, K, backend)
    assert rows.shape == (len(queries), K) and (np.sort(rows, 1)[:, 1:] != np.sort(rows, 1)[:, :-1]).all()
    np.testing.assert_allclose(similarities, 1 - distances, atol=1e-5)
    np.testing.assert_allclose(_cosine(queries[:, None], train[rows]), 1 - distances, atol=1e-5)
    gaps = np.pad(np.diff(distances, axis=1), ((0, 0), (1, 1)), constant_values=np.inf)  # (M, K + 1)
    apart = np.minimum(gaps[:, :-1], gaps[:, 1:]) > 1e-5  # rank r against ranks r - 1 and r + 1
    assert np.array_equal(copy_of[rows][apart], copy_of[expected][apart])
    assert np.array_equal(np.sort(copy_of[rows], 1), np.sort(copy_of[expected], 1))


@pytest.mark.parametrize("backend", BACKENDS)
def test_knn_votes_equal_sklearn_classifier(backend):
    """Majority and exp(similarity / T) votes equal KNeighborsClassifier's with the same
    weights (ties to the smallest label in both), for every training size of the cases."""
    from sklearn.neighbors import KNeighborsClassifier

    temperature = 0.07
    for name, (train, queries, copy_of) in _knn_cases().items():
        labels = np.random.default_rng(1).integers(4, size=copy_of.max() + 1)[copy_of]  # copies share a label
        for weighted, weights in ((False, "uniform"), (True, lambda d: np.exp((1 - d) / temperature))):
            sklearn = KNeighborsClassifier(K, weights=weights, algorithm="brute", metric="cosine").fit(train, labels)
            predicted = knn_predict(train, labels, queries, k=K, temperature=temperature, weighted=weighted,
                                    backend=backend)  # fmt: skip
            assert np.array_equal(predicted, sklearn.predict(queries)), (name, weighted)


def test_bfloat16_search_returns_the_float32_neighbours_and_falls_back_when_uncertain(monkeypatch):
    import torch

    import eval.knn as knn

    fallbacks = []
    exact_search = knn._search_float32
    monkeypatch.setattr(knn, "_search_float32", lambda q, d, k: fallbacks.append(len(q)) or exact_search(q, d, k))
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(10, 32))
    clustered = centres[rng.integers(10, size=3000)] + 2 * rng.normal(size=(3000, 32))
    axis = 30 * np.eye(32)[0]  # shifts database and queries apart: every similarity < 0
    near_ties = np.repeat(rng.normal(size=(40, 32)), 25, axis=0) + 1e-4 * rng.normal(size=(1000, 32))
    cases = {  # database, queries, whether the bfloat16 bound may certify them
        "clustered": (clustered[:2500], clustered[2500:], True),
        "near ties": (near_ties, near_ties[::10] + 1e-4 * rng.normal(size=(100, 32)), False),
        "all negative": (clustered[:2500] + axis, clustered[2500:2600] - axis, False),
    }
    for name, (database, queries, certifiable) in cases.items():
        database = torch.nn.functional.normalize(torch.tensor(database, dtype=torch.float32), dim=1)
        queries = torch.nn.functional.normalize(torch.tensor(queries, dtype=torch.float32), dim=1)
        fallbacks.clear()
        search = knn._Bfloat16Search(database, k=10, chunk=64, margin=8)  # 40 chunks: the two-level selection
        values, rows = search(queries, database, 10)
        expected = (queries @ database.T).topk(10, dim=1)
        assert torch.equal(rows.sort(dim=1).values, expected.indices.sort(dim=1).values), name
        assert torch.allclose(values, expected.values, atol=1e-6), name
        if certifiable:
            assert sum(fallbacks) < 0.05 * len(queries), name
        else:
            assert sum(fallbacks) > 0.5 * len(queries), name


def test_knn_weighted_vote_on_separable_features():
    x, y = _separable()
    assert (knn_predict(x[:400], y[:400], x[400:], k=20) == y[400:]).mean() > 0.98


def _one_hot_code(labels, classes, rng):
    """A code (N, classes) that determines the label: one-hot(label) + N(0, 0.01^2) noise."""
    return np.eye(classes, dtype=np.float32)[labels] + 0.01 * rng.normal(size=(len(labels), classes)).astype(np.float32)


def test_mi_checks_recover_label_entropy_for_one_hot_code():
    rng = np.random.default_rng(0)
    labels = rng.integers(4, size=3000)
    code = _one_hot_code(labels, 4, rng)
    truth = math.log(4)
    ba = label_mi_barber_agakov(code[:2000], labels[:2000], code[2000:], labels[2000:])
    assert abs(ba["mi_nats"] - truth) < 0.05
    mine = label_mi_estimate(code, labels, steps=600, batch_size=256, readout_batch_size=512)
    assert abs(mine["mi_nats"] - truth) < 0.1 * truth


def test_barber_agakov_uses_the_training_label_marginal():
    """Labels with probabilities (1/2, 1/4, 1/4), H = 1.5 bits, and a code that determines the
    label, so I(code; label) = 1.5 bits. The training split holds exactly those frequencies; the
    test split is balanced, so its plug-in entropy (log2 3 = 1.58 bits) is not H(label)."""
    rng = np.random.default_rng(0)
    train_labels = rng.permutation(np.repeat([0, 1, 2], [1000, 500, 500]))
    test_labels = np.repeat([0, 1, 2], 100)
    result = label_mi_barber_agakov(_one_hot_code(train_labels, 3, rng), train_labels,
                                    _one_hot_code(test_labels, 3, rng), test_labels)  # fmt: skip
    assert result["label_entropy_nats"] == pytest.approx(1.5 * math.log(2), rel=1e-12)
    assert result["ceiling_nats"] == result["label_entropy_nats"]
    assert 1.45 < result["mi_bits"] <= 1.5


def test_neural_dependency_zero_for_independent_and_positive_for_dependent():
    rng = np.random.default_rng(0)
    independent = rng.normal(size=(4000, 4)).astype(np.float32)
    dependent = independent.copy()
    dependent[:, 1] = dependent[:, 0] + 0.1 * dependent[:, 1]
    assert abs(neural_dependency(independent, steps=400)["mi_nats"]) < 0.05
    assert neural_dependency(dependent, steps=400)["mi_nats"] > 0.5


def test_bad_features_raise_one_line_errors():
    x, y = _separable(n=100)
    with pytest.raises(DataError, match="labels"):
        linear_probe(x, y[:50], x, y)
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(DataError, match="NaN"):
        knn_predict(bad, y, x)


def _npz(tmp_path, labelled=True):
    from dim.tasks import embedded_digits

    images, labels = embedded_digits()
    x = np.pad(images[:300], ((0, 0), (0, 0), (2, 2), (2, 2)))
    arrays = {"x": x, "x_test": x[:100]}
    if labelled:
        arrays |= {"y": labels[:300], "y_test": labels[:100]}
    np.savez(tmp_path / "d.npz", **arrays)
    return tmp_path / "d.npz"


def _probe(tmp_path, *args):
    return subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "probe.py"), "data=npz", f"data.root={_npz(tmp_path)}",
         f"out_dir={tmp_path / 'report'}", f"cache_dir={tmp_path / 'cache'}",
         "progress=false", "mi_steps=200", "knn_k=[10,20]", *args],
        capture_output=True, text=True,
    )  # fmt: skip


def test_probe_script_writes_complete_json_and_report(tmp_path):
    run = _probe(tmp_path, "encoder=random", "layers=[fc,code]", "protocols=[linear,knn]", "mi_checks=[label]")
    assert run.returncode == 0, run.stderr
    payload = json.loads((tmp_path / "report" / "probe.json").read_text())
    assert {"rows", "config", "data_fingerprint", "seconds", "mi_checks"} <= set(payload)
    for row in payload["rows"]:
        assert set(row) == {"encoder", "layer", "protocol", "metric", "value"} and math.isfinite(row["value"])
    protocols = {(r["layer"], r["protocol"]) for r in payload["rows"]}
    assert {("fc", "linear"), ("code", "knn"), ("code", "mi_label_ba")} <= protocols
    assert (tmp_path / "report" / "report.md").read_text().count("|") > 10
    assert (tmp_path / "report" / "accuracy.png").stat().st_size > 1000


@pytest.mark.parametrize("args, message", [
    (["encoder=missing.pt"], "not found"),
    (["encoder=random", "layers=[code,nope]"], "unknown layer"),
])  # fmt: skip
def test_probe_bad_input_exits_2_without_report(tmp_path, args, message):
    run = _probe(tmp_path, *args)
    assert run.returncode == 2 and message in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "report").exists()


def test_export_features_writes_named_arrays(tmp_path):
    from dim.config import compose
    from eval.run import export_features, probe_overrides

    out = tmp_path / "features.npz"
    cfg = compose("export", probe_overrides(["encoder=random", "data=npz", f"data.root={_npz(tmp_path)}",
                                             "layers=[code,fc]", f"out={out}", "progress=false",
                                             f"cache_dir={tmp_path / 'cache'}"]))  # fmt: skip
    export_features(cfg)
    with np.load(out) as arrays:
        assert set(arrays.files) == {"train_code", "train_fc", "train_labels", "test_code", "test_fc", "test_labels"}
        assert arrays["train_code"].shape == (300, 64) and arrays["test_fc"].shape[0] == 100
        assert np.isfinite(arrays["train_fc"]).all() and arrays["test_labels"].dtype == np.int64


def test_export_features_bad_layer_exits_2_without_file(tmp_path):
    out = tmp_path / "features.npz"
    run = subprocess.run([sys.executable, str(ROOT / "scripts" / "export_features.py"), "encoder=random",
                          "layers=[code,nope]", f"out={out}"], capture_output=True, text=True)  # fmt: skip
    assert run.returncode == 2 and "unknown layer" in run.stderr and len(run.stderr.strip().splitlines()) == 1
    assert not out.exists() and not list(tmp_path.iterdir())


def test_the_report_table_orders_k_nn_columns_by_k_and_probes_before_mi_checks():
    from eval.run import table

    rows = [{"encoder": "e", "layer": "code", "protocol": p, "metric": m, "value": 0.5}
            for p, m in (("knn", "k100"), ("mi_label_ba", "mi_nats"), ("knn", "k20"), ("knn", "k10"),
                         ("linear", "top1"))]  # fmt: skip
    header = table(rows).splitlines()[0]
    assert header == "| encoder | layer | knn k10 | knn k20 | knn k100 | linear top1 | mi_label_ba mi_nats |"


def test_every_mi_check_has_a_name_in_words():
    from eval.mi_checks import CHECK_NAMES

    assert set(CHECK_NAMES) == {"label_ba", "label_mine", "input_code", "dependency"}  # payload["mi_checks"] keys
    assert "KL(p(z) || prod p(z_i))" in CHECK_NAMES["dependency"]


def test_barber_agakov_probe_is_chosen_for_calibration_not_accuracy():
    """4 classes weakly coded in 4 of 154 dimensions, 400 training rows: a probe chosen by
    validation accuracy overfits the noise dimensions, its cross-entropy exceeds H(label) and
    H - CE falls below 0; chosen by validation cross-entropy it is calibrated and the bound
    stays a useful, non-negative reading below H(label)."""
    rng = np.random.default_rng(0)
    labels = rng.integers(4, size=1400)
    x = np.concatenate([np.eye(4)[labels] + rng.normal(size=(1400, 4)), rng.normal(size=(1400, 150))], 1)
    x = x.astype(np.float32)
    split = (x[:400], labels[:400], x[400:], labels[400:])
    by_accuracy = linear_probe(*split, select_by="top1")
    by_calibration = linear_probe(*split, select_by="cross_entropy", weight_decays=(1e-4, 1e-3, 1e-2, 1e-1))
    assert by_calibration["cross_entropy_nats"] < by_accuracy["cross_entropy_nats"] - 0.3
    ba = label_mi_barber_agakov(*split)
    assert ba["label_entropy_nats"] - by_accuracy["cross_entropy_nats"] < 0 <= ba["mi_nats"] < ba["ceiling_nats"]
    with pytest.raises(ValueError, match="select_by"):
        linear_probe(*split, select_by="loss")
