"""One critic trained and read out: the loop behind :func:`dim.estimate_mi`."""

from __future__ import annotations

import copy
import math
import time

import torch
from torch import Tensor, nn

from dim import objectives
from dim.critics import make_critic
from dim.errors import DataError
from dim.estimation.inputs import MIN_ROWS, Pairs, split_parts, transform_inputs, with_radius
from dim.estimation.readout import Reading, block_scores, read_held_out
from dim.estimation.result import MIResult
from dim.estimation.settings import EstimatorSettings
from dim.loss import MutualInformation
from dim.objectives import readout_value
from dim.runtime import WeightAverage, adam, autocast, interactive

__all__ = ["fit_critic", "progress_bar"]


def _objective_for(estimator: str, clip: float, mine_alpha: float) -> MutualInformation:
    return MutualInformation(nn.Identity(), estimator, clip=clip, mine_alpha=mine_alpha)


def fit_critic(
    pairs: Pairs,
    *,
    estimator: str,
    readout: str,
    critic: str | nn.Module,
    settings: EstimatorSettings,
    seed: int,
    fold: int | None,
    folds: int,
    split_rows: tuple[Tensor, Tensor, Tensor, Tensor] | None,
    device: torch.device,
) -> MIResult:
    """One estimate: split the rows (or take ``split_rows``; fold ``fold`` of ``folds`` is the
    held-out part), train the critic of ``critic`` with ``estimator``'s objective, stop early on
    the validation readings of ``readout``, then read it out on the held-out rows."""
    s = settings
    start = time.perf_counter()
    torch.manual_seed(seed)
    generator = torch.Generator().manual_seed(seed)
    parts = split_rows or split_parts(pairs.x.shape[0], s.split, generator, fold, folds)
    train_rows, val_rows, cal_rows, test_rows = parts
    parts = (("training", train_rows), ("early-stopping", val_rows), ("calibration", cal_rows),
             ("held-out", test_rows))  # fmt: skip
    for name, rows in parts:
        if len(rows) < 16:
            raise DataError(
                f"the {name} part has only {len(rows)} rows; give at least {MIN_ROWS} pairs or change the split"
            )
    # the radius column is an input of the critics built here; a user's critic sees the sides as given
    radius = s.radius_column and not isinstance(critic, nn.Module)
    x_in = with_radius(pairs.x, pairs.x_kind, train_rows) if radius else pairs.x
    y_in = with_radius(pairs.y, pairs.y_kind, train_rows) if radius else pairs.y
    xs, x_transform = transform_inputs(x_in, pairs.x_kind, train_rows, s.transform)
    ys, y_transform = transform_inputs(y_in, pairs.y_kind, train_rows, s.transform)
    x_transform["radius_column"] = x_in is not pairs.x
    y_transform["radius_column"] = y_in is not pairs.y
    x_train, y_train = xs[train_rows], ys[train_rows]
    batch_size = min(s.batch_size, len(train_rows))

    # copy a user critic, so that repeated runs (seeds, folds) each start from its initial weights
    model = copy.deepcopy(critic) if isinstance(critic, nn.Module) else make_critic(
        x_train[:batch_size], y_train[:batch_size], critic, x_kind=pairs.x_kind, y_kind=pairs.y_kind,
        hidden=s.hidden, embedding_dim=s.embedding_dim, layers=s.critic_layers, fourier_features=s.fourier_features,
        radial_feature=s.radial_feature,
        x_classes=int(pairs.x.max()) + 1 if pairs.x_kind == "label" else None,
        y_classes=int(pairs.y.max()) + 1 if pairs.y_kind == "label" else None,
    )  # fmt: skip
    model = model.to(device)
    # the critic read out: the trained one, or an exponential moving average of its weights
    averaged = WeightAverage(model, s.ema) if s.ema else None
    read_model = averaged.module if averaged is not None else model
    mi_module = _objective_for(estimator, s.clip, s.mine_alpha).to(device)
    lr = s.lr if s.lr is not None else objectives.ESTIMATORS[estimator].critic_lr
    optimizer = adam(model.parameters(), device, lr=lr, weight_decay=s.weight_decay)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, s.steps) if s.lr_schedule == "cosine" else None

    def evaluate(rows: Tensor, block: int) -> tuple[Tensor, Tensor, int]:
        read_model.eval()
        out = block_scores(read_model, xs[rows], ys[rows], block, device, s.amp)
        read_model.train()
        return out

    timings = {"setup": time.perf_counter() - start, "critic_steps": 0.0, "early_stopping": 0.0, "readout": 0.0,
               "bootstrap": 0.0}  # fmt: skip
    clock = time.perf_counter()

    def lap(key: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[key] += now - clock
        clock = now

    val_block = min(s.readout_batch_size, len(val_rows))
    best_value, best_step, best_state, evals_without_gain = -math.inf, 0, None, 0
    gain_mark = -math.inf
    history: list[dict[str, float]] = []
    running = None
    bar = progress_bar(s.steps, s.progress, f"{estimator}")
    step = 0
    epoch_order = torch.randperm(len(train_rows), generator=generator)
    cursor = 0
    for step in range(1, s.steps + 1):
        if cursor + batch_size > len(train_rows):
            epoch_order, cursor = torch.randperm(len(train_rows), generator=generator), 0
        batch = epoch_order[cursor : cursor + batch_size]
        cursor += batch_size
        xb, yb = x_train[batch].to(device, non_blocking=True), y_train[batch].to(device, non_blocking=True)
        with autocast(device, s.amp):
            scores = model(xb, yb)
        objective = mi_module.objective(scores.float())
        optimizer.zero_grad(set_to_none=True)
        (-objective).backward()
        optimizer.step()
        if averaged is not None:
            averaged.update()
        if schedule is not None:
            schedule.step()
        # a smoothed training curve, kept on the device: reading it every step would wait for CUDA
        value = objective.detach()
        running = value if running is None else running.lerp(value, 0.05)
        lap("critic_steps")
        if step % s.eval_every == 0 or step == s.steps:
            val_value = readout_value(readout, *evaluate(val_rows, val_block)[:2], s.clip).item()
            history.append({"step": step, "train_objective": running.item(), "val_mi_nats": val_value})
            if val_value > best_value:  # the critic kept is the best on the early-stopping rows
                best_value, best_step = val_value, step
                best_state = copy.deepcopy(read_model.state_dict())
            # patience counts readouts that gain no more than min_delta over the last counted gain
            if val_value > gain_mark + s.min_delta:
                gain_mark, evals_without_gain = val_value, 0
            else:
                evals_without_gain += 1
            if bar is not None:
                bar.set_postfix(val_nats=f"{val_value:.3f}", best=f"{best_value:.3f}")
            lap("early_stopping")
            if evals_without_gain >= s.patience:
                break
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if best_state is not None:
        read_model.load_state_dict(best_state)

    test_block = min(s.readout_batch_size, len(test_rows))
    positive, negative, block = evaluate(test_rows, test_block)
    calibration_scores = evaluate(cal_rows, min(s.readout_batch_size, len(cal_rows)))[:2] if s.calibrate else None

    def read(name: str) -> Reading:
        return read_held_out(name, calibration_scores, (positive, negative), clip=s.clip, bootstrap=s.bootstrap,
                             seed=seed)  # fmt: skip

    reading = read(readout)
    companion = objectives.readout(readout).companion
    bound = read(companion) if companion else None
    train_positive, train_negative, _ = evaluate(train_rows[: len(test_rows)], test_block)
    train_mi = readout_value(readout, train_positive, train_negative, s.clip).item()
    lap("readout")
    timings["bootstrap"] = reading.bootstrap_seconds + (bound.bootstrap_seconds if bound else 0.0)
    timings["readout"] -= timings["bootstrap"]
    result = MIResult(
        estimator=estimator,
        readout=readout,
        mi_nats=reading.value,
        ci_nats=reading.interval,
        is_lower_bound=objectives.readout(readout).is_lower_bound,
        raw_mi_nats=reading.raw_value,
        raw_ci_nats=reading.raw_interval,
        floored=reading.floored,
        upper_limit_nats=reading.upper_limit,
        train_mi_nats=train_mi,
        val_mi_nats=best_value,
        ceiling_nats=objectives.readout(readout).ceiling(block),
        readout_batch_size=block,
        negatives_per_positive=block - 1,
        rows={"train": len(train_rows), "val": len(val_rows), "calibration": len(cal_rows),
              "test": len(test_rows) // block * block},  # fmt: skip
        steps=step,
        best_step=best_step,
        critic_scale=reading.scale,
        seconds=time.perf_counter() - start,
        history=history,
        lower_bound_readout=companion,
        lower_bound_nats=None if bound is None else bound.value,
        lower_bound_ci_nats=None if bound is None else bound.interval,
        transform={"x": x_transform, "y": y_transform},
        timings=timings,
    )
    return result


def progress_bar(total: int, enabled: bool, description: str):
    if not interactive(enabled):
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, leave=False, dynamic_ncols=True)
