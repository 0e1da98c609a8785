"""MINE paper, Fig. 2 (equitability): y = f(x) + sigma * eps, x ~ U(-1, 1), f in {x, x^3, sin x}.

    python scripts/repro_equitability.py [--sigmas 0.05,0.1,0.2,0.5,1.0] [--n 10000]

An equitable estimator gives the same reading for the same noise, whatever f. Here each
estimate is set against *its own* true MI, h(Y) - h(sigma * eps), computed by 1-D numerical
integration (dim.tasks.additive_noise_mi). Writes results/equitability.{json,md,png}.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dim.report import markdown_table, save_figure, smile_and_ksg, write_results  # noqa: E402
from dim.tasks import ADDITIVE_NOISE_FUNCTIONS, additive_noise_mi, sample_additive_noise  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sigmas", default="0.05,0.1,0.2,0.5,1.0")
    parser.add_argument("--n", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", default=str(ROOT / "results" / "equitability"))
    args = parser.parse_args()
    sigmas = [float(s) for s in args.sigmas.split(",")]

    rows = []
    for function in ADDITIVE_NOISE_FUNCTIONS:
        for sigma in sigmas:
            x, y = sample_additive_noise(args.n, function, sigma, seed=args.seed)
            truth = additive_noise_mi(function, sigma)
            rows.append({"f": function, "sigma": sigma, "true": truth, **smile_and_ksg(x, y, seed=args.seed)})
            print(f"f={function} sigma={sigma} true={truth:.3f} smile={rows[-1]['dim_smile']:.3f} "
                  f"ksg={rows[-1]['ksg']:.3f}", flush=True)  # fmt: skip

    table = markdown_table(
        ["f", "sigma", "true (nats)", "dim SMILE", "95% CI", "KSG", "SMILE error"],
        [[r["f"], r["sigma"], r["true"], r["dim_smile"], f"[{r['ci'][0]:.2f}, {r['ci'][1]:.2f}]", r["ksg"],
          f"{r['dim_smile'] - r['true']:+.3f}"] for r in rows],
    )  # fmt: skip
    print(table)
    out = Path(args.out)
    write_results(out, {"n": args.n, "seed": args.seed, "rows": rows}, table)

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 2, figsize=(10, 4))
    for function in ADDITIVE_NOISE_FUNCTIONS:
        part = [r for r in rows if r["f"] == function]
        line = axes[0].plot(sigmas, [r["dim_smile"] for r in part], "o-", label=f"dim, f={function}")[0]
        axes[0].plot(sigmas, [r["true"] for r in part], ":", color=line.get_color())
        axes[1].plot(sigmas, [r["dim_smile"] - r["true"] for r in part], "o-", label=f"f={function}")
    axes[0].set(xscale="log", xlabel="noise sigma", ylabel="nats", title="estimate (dotted: its true MI)")
    axes[1].axhline(0, color="k", linewidth=0.8)
    axes[1].set(xscale="log", xlabel="noise sigma", ylabel="estimate - truth (nats)", title="error against own truth")
    axes[0].legend(fontsize=8)
    axes[1].legend(fontsize=8)
    save_figure(figure, out.with_suffix(".png"))


if __name__ == "__main__":
    main()
