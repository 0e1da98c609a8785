"""GAN and GAN + MINE (MINE paper Sec. 5.1): mode coverage on 2-D mixtures and Stacked MNIST.

Also installed as the console command ``dim-train-gan`` (same arguments).

    python scripts/train_gan.py                          # GAN + MINE on the 25-Gaussians grid
    python scripts/train_gan.py beta=0                   # the vanilla GAN, same networks and draws
    python scripts/train_gan.py dataset=spiral out_dir=outputs/gan_spiral
    python scripts/train_gan.py +gan=stacked_mnist out_dir=outputs/stacked
    python scripts/train_gan.py +gan=full     # the full-size 2-D set-up

Writes out_dir/{checkpoint.pt, metrics.json, samples.png, tensorboard/}; prints modes captured,
the high-quality share and the reverse KL. ``resume=true`` continues a run exactly. Bad input
(unknown dataset, beta < 0, a checkpoint of another kind): one line on stderr, exit code 2,
nothing written.
"""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig

from dim.checkpoint import check_out_dir
from dim.cli import command
from dim.generative.gan import GANTrainer, build_gan


def save_samples(trainer: GANTrainer, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from dim.generative.plots import image_grid, scatter_samples
    from dim.report import save_figure

    figure, ax = plt.subplots(figsize=(4, 4))
    samples = trainer.sample(trainer.settings.eval_samples)
    if trainer.settings.dataset == "stacked":
        ax.imshow(image_grid(samples))
        ax.axis("off")
        ax.set_title(title, fontsize=9)
    else:
        scatter_samples(ax, samples.cpu(), trainer.target, title)
    save_figure(figure, path)


def run(cfg: DictConfig) -> dict:
    """The command on a composed config."""
    check_out_dir(cfg.out_dir, cfg.resume)  # before any work (Stacked MNIST first trains a classifier)
    trainer, classifier_accuracy = build_gan(cfg)
    if cfg.resume:
        trainer.resume()  # refuses a checkpoint of another kind or with other settings
    result = trainer.fit()
    final = result["final"]
    name = "vanilla GAN" if trainer.settings.beta == 0 else f"GAN + MINE (beta {trainer.settings.beta:g})"
    if classifier_accuracy is not None:
        print(f"digit classifier test accuracy: {classifier_accuracy:.1%}")
    print(f"{name} on {cfg.dataset}, {result['steps']} steps: {final['modes']} of {final['num_modes']} modes, "
          f"{final['high_quality']:.1%} high-quality samples, reverse KL {final['reverse_kl']:.3f} nats, "
          f"I(G(eps, c); c) >= {final['mi_nats']:.2f} nats (statistics network's reading)")  # fmt: skip
    out = Path(cfg.out_dir)
    save_samples(trainer, out / "samples.png", f"{name}: {final['modes']} modes")
    print(f"wrote {out / 'checkpoint.pt'}, {out / 'metrics.json'}, {out / 'samples.png'}\n"
          f"tensorboard: tensorboard --logdir {out / 'tensorboard'}")  # fmt: skip
    return result


main = command("train_gan", "train_gan", run)

if __name__ == "__main__":
    main()
