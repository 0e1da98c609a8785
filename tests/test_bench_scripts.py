"""The benchmark scripts' bookkeeping (their figures are measured by running them, not here)."""

import json
import sys
from pathlib import Path

import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts" / "bench"))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts" / "repro"))

from bench_distributions import merged_runs, method_options, summarise  # noqa: E402
from dim.tasks import DISTRIBUTION_TASKS  # noqa: E402


def _run(method, task, seed, mi):
    return {"task": task, "seed": seed, "method": method, "mi": mi, "seconds": 1.0}


def test_merge_keeps_the_earlier_methods_and_replaces_the_rerun_ones(tmp_path):
    earlier = [_run(m, t, s, 0.5) for m in ("dim mine:rank", "KSG (k=3)") for t in ("a", "b") for s in (0, 1)]
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps({"n": 100, "seeds": [0, 1], "runs": earlier}))
    now = [_run("dim mine:rank", t, s, 0.9) for t in ("a", "b") for s in (0, 1)]
    now += [_run("dim dv:rank", t, s, 0.7) for t in ("a", "b") for s in (0, 1)]
    runs, names = merged_runs(str(path), now, ["dim mine:rank", "dim dv:rank"], ["a", "b"], [0, 1], 100)
    assert names == ["KSG (k=3)"]  # the methods new to the table
    assert len(runs) == 12
    assert {r["mi"] for r in runs if r["method"] == "dim mine:rank"} == {0.9}  # the re-run replaced the old
    assert {r["mi"] for r in runs if r["method"] == "KSG (k=3)"} == {0.5}


def test_merge_joins_one_methods_seeds_from_several_runs(tmp_path):
    """A peer's seed 0 from one run and its seeds 1, 2 from another make one three-seed cell."""
    first, second = tmp_path / "seed0.json", tmp_path / "seeds12.json"
    first.write_text(json.dumps({"n": 100, "seeds": [0], "runs": [_run("MINDE", "spiral-5x5", 0, 0.4)]}))
    later = [_run("MINDE", "spiral-5x5", s, 0.6) for s in (1, 2)]
    second.write_text(json.dumps({"n": 100, "seeds": [1, 2], "runs": later}))
    runs, names = merged_runs(str(first), [], [], ["spiral-5x5"], [0, 1, 2], 100)
    runs, more = merged_runs(str(second), runs, names, ["spiral-5x5"], [0, 1, 2], 100)
    assert names == ["MINDE"] and more == []
    assert sorted((r["seed"], r["mi"]) for r in runs) == [(0, 0.4), (1, 0.6), (2, 0.6)]
    cell = summarise("spiral-5x5", "MINDE", runs)
    assert cell["seeds"] == 3 and cell["mean"] == pytest.approx((0.4 + 0.6 + 0.6) / 3)


def test_a_method_names_its_estimator_transform_and_changed_settings():
    assert method_options("smile:rank") == {"estimator": "smile", "transform": "rank"}
    assert method_options("auto:rank:hidden=256:critic=concat:split=(0.5,0.25,0.25)") == {
        "estimator": "auto", "transform": "rank", "hidden": 256, "critic": "concat", "split": (0.5, 0.25, 0.25)}


def test_merge_refuses_a_run_on_other_arrays(tmp_path):
    path = tmp_path / "earlier.json"
    path.write_text(json.dumps({"n": 200, "seeds": [0, 1], "runs": [_run("KSG (k=3)", "a", 0, 0.5)]}))
    with pytest.raises(SystemExit, match="n=200"):
        merged_runs(str(path), [], ["dim dv:rank"], ["a"], [0, 1], 100)


def test_pooled_seeds_widen_an_estimate_by_their_spread():
    """Three SMILE-like estimates of the 0.224-nat Cauchy pair, 0.20 / 0.21 / 0.19 with +-0.02
    intervals: one run's interval reaches the truth (coverage 1/3). Pooled, the interval is
    0.20 -+ (0.02 + t(0.975, 2) * 0.01 / sqrt(3)) = [0.155, 0.245]: it covers the truth."""
    runs = [{**_run("dim smile:rank", "student-t-dof1-1x1", s, v), "ci": [v - 0.02, v + 0.02],
             "is_lower_bound": False, "floored": False} for s, v in enumerate((0.20, 0.21, 0.19))]  # fmt: skip
    cell = summarise("student-t-dof1-1x1", "dim smile:rank", runs)
    assert cell["coverage"] == pytest.approx(1 / 3)
    assert cell["pooled_covers"] is True
    # 0.18 / 0.19 / 0.17 with +-0.001: pooled upper limit 0.18 + 0.001 + 0.0248 = 0.206 < 0.224
    narrow = [{**r, "mi": v, "ci": [v - 0.001, v + 0.001]} for r, v in zip(runs, (0.18, 0.19, 0.17))]
    assert summarise("student-t-dof1-1x1", "dim smile:rank", narrow)["pooled_covers"] is False


def test_stacked_critics_compute_each_critics_own_objective_and_gradient():
    """The batched form timed by bench_batched_seeds is the r separate critics, not an approximation."""
    import bench_batched_seeds as bench

    from dim import bounds

    critics = [bench._critic(3, seed) for seed in range(3)]
    x, y = torch.randn(3, 16, 3), torch.randn(3, 16, 3)
    objective, params, buffers = bench.stacked_objective(critics)
    values = objective(params, buffers, x, y)
    values.sum().backward()
    for r, critic in enumerate(critics):
        alone = bounds.infonce_bound(critic(x[r], y[r]))
        alone.backward()
        assert torch.allclose(values[r], alone, atol=1e-6)
        for name, weight in critic.named_parameters():
            assert torch.allclose(params[name].grad[r], weight.grad, atol=1e-6)


def test_before_after_table_compares_the_same_samples_per_task():
    from bench_distributions import before_after

    from dim.tasks import DISTRIBUTION_TASKS

    truth = DISTRIBUTION_TASKS["spiral-5x5"].mi_nats
    records = [{"task": "spiral-5x5", "seed": s, "baseline_mi": truth * 0.8, "mi": truth + d, "baseline_seconds": 9.0,
                "seconds": 3.0} for s, d in enumerate((-0.01, 0.01))]  # fmt: skip
    row = before_after(records, "abc123").splitlines()[2].split(" | ")
    assert row[2:] == [f"{truth * 0.8:.3f}", f"{truth:.3f}", f"{0.2 * truth:+.3f}", "no / yes", "9.0", "3.0 |"]


def test_closest_table_names_the_nearest_method_and_counts_ties_within_a_hundredth():
    """Truth 1.0 on task a: readings 0.90 (dim), 0.995 (KSG), 0.99 (peer): KSG is closest and
    the peer, 0.005 nats further, ties with it; on task b (truth 0.5) dim alone is closest."""
    from bench_distributions import closest_table

    def cell(task, method, mean, truth):
        return {"task": task, "method": method, "mean": mean, "truth": truth, "relative_error": mean / truth - 1}

    cells = [cell("a", "dim", 0.90, 1.0), cell("a", "KSG", 0.995, 1.0), cell("a", "peer", 0.99, 1.0),
             cell("b", "dim", 0.49, 0.5), cell("b", "KSG", 0.40, 0.5), cell("b", "peer", 0.30, 0.5)]  # fmt: skip
    table = closest_table(cells, ["a", "b"], ["dim", "KSG", "peer"])
    assert "| a | 1.000 | -10.0% | -0.5% | -1.0% | KSG (+1 within 0.01) |" in table
    assert "| b | 0.500 | -2.0% | -20.0% | -40.0% | dim |" in table
    assert "| closest or within 0.01 nats of it |  | 1 / 2 | 1 / 2 | 1 / 2 |  |" in table


def test_closest_table_leaves_out_a_diverged_method():
    """A NaN reading (a peer that diverged on some seed) prints NaN and never counts as closest."""
    from bench_distributions import closest_table

    cells = [{"task": "a", "method": m, "mean": v, "truth": 1.0, "relative_error": v - 1.0}
             for m, v in (("dim", 0.8), ("peer", float("nan")))]  # fmt: skip
    table = closest_table(cells, ["a"], ["dim", "peer"])
    assert "| a | 1.000 | -20.0% | NaN | dim |" in table
    assert "| closest or within 0.01 nats of it |  | 1 / 1 | 0 / 1 |  |" in table


def test_coverage_lines_count_lower_limits_and_two_sided_intervals():
    from bench_distributions import coverage_lines

    cells = [{"task": "a", "truth": 1.0}]
    runs = [{**_run("dim", "a", s, v), "ci": [v - 0.05, v + 0.05]} for s, v in enumerate((0.97, 0.90, 1.2))]
    # intervals [0.92, 1.02] contains 1; [0.85, 0.95] is below it; [1.15, 1.25] is above it
    assert coverage_lines(runs, cells, ["dim"]) == ("dim: lower limit <= truth in 2/3 runs; "
                                                    "interval contains the truth in 1/3 (33%)")  # fmt: skip


def test_report_leaves_blank_the_tasks_a_method_did_not_run(tmp_path):
    """A peer run on one of two tasks (latentmi on the 25-D pairs only): its other cell is empty
    in the closest-method table, and the plot and JSON are still written."""
    from bench_distributions import report

    tasks = ["multinormal-sparse-25x25", "student-t-dof1-1x1"]
    runs = [_run("dim auto:rank", t, 0, 0.9 * DISTRIBUTION_TASKS[t].mi_nats) for t in tasks]
    runs.append(_run("latentmi 0.1.3", tasks[0], 0, 0.5))
    for r in runs:
        r["seconds"] = 1.0
    report({"n": 100, "seeds": [0], "runs": runs, "time_split": {}}, tasks, ["dim auto:rank", "latentmi 0.1.3"],
           str(tmp_path / "out"))  # fmt: skip
    text = (tmp_path / "out.md").read_text()
    assert "| student-t-dof1-1x1 | 0.224 | -10.0% |  | dim auto:rank |" in text
    assert (tmp_path / "out.png").exists() and len(json.loads((tmp_path / "out.json").read_text())["cells"]) == 3


def test_the_critic_step_benchmark_swaps_only_the_activation_and_its_infonce_is_dims():
    """bench_critic_step times torch's forms against dim's: the same critic and weights with
    nn.ELU in place of dim's ELU, and the same InfoNCE value through torch.logsumexp."""
    import bench_critic_step as bench

    from dim import bounds
    from dim.critics import ELU

    ours, x, y = bench.trained_critic(5, 3)
    theirs, _, _ = bench.trained_critic(5, 3, torch.nn.ELU)
    assert any(isinstance(m, ELU) for m in ours.modules()) and not any(isinstance(m, ELU) for m in theirs.modules())
    assert sum(isinstance(m, torch.nn.ELU) for m in theirs.modules()) == sum(isinstance(m, ELU) for m in ours.modules())
    scores = ours(x, y)
    torch.testing.assert_close(theirs(x, y), scores, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(bench.torch_infonce(scores), bounds.infonce_bound(scores))
