"""scripts/verify_readme.py without training: the markers of README.md and docs/*.md, the spread
rule, the measured values read from each command's outputs, and a dry run."""

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

from dim.errors import DimError

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "scripts" / "verify_readme.py"
_spec = importlib.util.spec_from_file_location("verify_readme", SCRIPT)
verify = sys.modules["verify_readme"] = importlib.util.module_from_spec(_spec)  # dataclasses look it up there
_spec.loader.exec_module(verify)


def _figures_by_key(text: str) -> dict:
    return {figure.key: figure for figure in verify.parse_figures(text)}


def test_documents_are_readme_and_the_docs_pages():
    documents = verify.documents()
    assert documents[0] == ROOT / "README.md"
    assert ROOT / "docs" / "pretrain.md" in documents and all(path.suffix == ".md" for path in documents)


def test_documents_mark_the_figures_of_the_three_commands():
    figures = {figure.key: figure for figure in verify.document_figures()}
    layers = ("conv", "fc", "code")
    expected = {"setup.online probe", "probe.pixels input", "quality.raw pixels"}
    expected |= {f"probe.{encoder} {layer}" for encoder in ("trained", "random") for layer in layers}
    expected |= {f"quality.{row} {layer}" for row in ("DIM(L)", "DIM(G)", "random init") for layer in layers}
    assert expected <= set(figures)
    assert all(0 < figure.value <= 1 and figure.spread > 0 for figure in figures.values())
    assert figures["setup.online probe"].text.endswith("%")  # stated as a percentage
    readme = {figure.key for figure in verify.document_figures() if figure.source == "README.md"}
    assert "setup.online probe" in readme  # the set-up command's figure stays in README


def test_every_command_is_written_in_the_documents():
    """The commands the script runs are the ones a reader finds in README or docs/ (line breaks
    and code spans aside)."""
    text = " ".join(" ".join(path.read_text().replace("`", " ").split()) for path in verify.documents())
    for command in verify.COMMANDS.values():
        assert f"python {command}" in text, command


def test_a_figure_marked_twice_reads_the_same_everywhere():
    texts: dict[str, set[str]] = {}
    for figure in verify.document_figures():
        texts.setdefault(figure.key, set()).add(figure.text)
    assert {key: text for key, text in texts.items() if len(text) > 1} == {}


def test_documented_quality_figures_agree_with_the_recorded_results(tmp_path):
    """The quality names are the keys repro_dim_quality.py writes, and the documented table
    matches results/dim_quality.json (the run it reports)."""
    (tmp_path / "dim_quality.json").write_text((ROOT / "results" / "dim_quality.json").read_text())
    measured = {f"quality.{name}": values for name, values in verify.measure_quality(tmp_path, "").items()}
    quality = [figure for figure in verify.document_figures() if figure.group == "quality"]
    assert [row[-1] for row in verify.compare(quality, measured)] == ["OK"] * len(quality)


def test_parser_reads_the_number_before_each_marker():
    text = ("the probe read 85.3%<!-- verify: setup.online probe ±0.02 -->).\n"
            "| row | **0.972 ± 0.003**<!-- verify: quality.DIM(L) conv --> | 0.9<!-- verify: probe.x y +-0.1 --> |\n")
    figures = _figures_by_key(text)
    online = figures["setup.online probe"]
    assert (online.value, online.std, online.tolerance, online.text, online.line) == (pytest.approx(0.853), None, 0.02,
                                                                                      "85.3%", 1)
    assert online.where == "README.md:1"
    assert verify.parse_figures(text, "docs/evaluate.md")[0].where == "docs/evaluate.md:1"
    conv = figures["quality.DIM(L) conv"]
    assert (conv.value, conv.std, conv.text, conv.line) == (0.972, 0.003, "0.972 ± 0.003", 2)
    assert conv.spread == pytest.approx(0.006)  # 2 std
    assert figures["probe.x y"].value == 0.9 and figures["probe.x y"].spread == 0.1


@pytest.mark.parametrize("text, message", [
    ("no number here<!-- verify: probe.trained code ±0.01 -->", "follows no number"),
    ("0.9<!-- verify: typo.trained code ±0.01 -->", "names group 'typo'"),
    ("0.9<!-- verify: probe.trained code -->", "states no spread"),
    ("0.9<!-- verify: nothing -->", "malformed"),
])  # fmt: skip
def test_parser_rejects_bad_markers(text, message):
    with pytest.raises(DimError, match=message):
        verify.parse_figures(text)


def test_verdict_flags_a_value_outside_the_spread():
    mean_std = verify.parse_figures("0.926 ± 0.001<!-- verify: quality.DIM(L) code -->")[0]
    assert mean_std.spread == 0.005  # 2 std is narrower than the floor
    assert verify.verdict(mean_std, 0.930) == "OK"
    assert verify.verdict(mean_std, 0.931) == "OK"  # on the edge
    assert verify.verdict(mean_std, 0.920) == "OUTSIDE"
    assert verify.verdict(mean_std, None) == "MISSING"
    single = verify.parse_figures("85.3%<!-- verify: setup.online probe ±0.02 -->")[0]
    assert verify.verdict(single, 0.84) == "OK"
    assert verify.verdict(single, 0.83) == "OUTSIDE"


def test_measured_values_come_from_each_commands_outputs(tmp_path):
    stdout = "trained 620 steps (10 epochs); online linear probe on the code: 85.3% test accuracy\n"
    assert verify.measure_setup(tmp_path, stdout) == {"online probe": [pytest.approx(0.853)]}
    assert verify.measure_setup(tmp_path, "trained 620 steps (10 epochs)\n") == {}
    rows = [{"encoder": "trained", "layer": "code", "protocol": "linear", "metric": "top1", "value": 0.93},
            {"encoder": "trained", "layer": "code", "protocol": "mlp", "metric": "top1", "value": 0.95},
            {"encoder": "pixels", "layer": "input", "protocol": "linear", "metric": "top1", "value": 0.92}]  # fmt: skip
    (tmp_path / "probe").mkdir()
    (tmp_path / "probe" / "probe.json").write_text(json.dumps({"rows": rows}))
    assert verify.measure_probe(tmp_path, "") == {"trained code": [0.93], "pixels input": [0.92]}


def test_dry_run_lists_the_commands_and_runs_nothing(tmp_path):
    out_dir = tmp_path / "verify"
    run = subprocess.run([sys.executable, str(SCRIPT), "--dry-run", "--out-dir", str(out_dir)], capture_output=True,
                         text=True, cwd=tmp_path, timeout=120, check=False)  # fmt: skip
    assert run.returncode == 0, run.stderr
    for command in verify.COMMANDS.values():
        assert f"documented `python {command}`" in run.stdout
    assert f"out_dir={out_dir / 'train'}" in run.stdout and f"--out {out_dir / 'dim_quality'}" in run.stdout
    assert "| setup.online probe |" in run.stdout  # the documented figures, listed
    assert "| README.md:" in run.stdout and "| docs/" in run.stdout  # with where each is written
    assert not out_dir.exists()


def test_bad_options_exit_2(tmp_path):
    with pytest.raises(SystemExit) as unknown:
        verify.main(["--only", "setup,typo", "--dry-run"])
    (tmp_path / "used").mkdir()
    (tmp_path / "used" / "file").write_text("")
    with pytest.raises(SystemExit) as used:
        verify.main(["--out-dir", str(tmp_path / "used")])
    assert unknown.value.code == used.value.code == 2


def test_a_full_check_with_stand_in_commands(tmp_path, monkeypatch, capsys):
    """main() runs each group's command, reads its outputs, prints the table and exits 1 when a
    figure is outside its spread; stand-in commands write what the real ones would."""
    readme = tmp_path / "README.md"
    readme.write_text("online probe 85.3%<!-- verify: setup.online probe ±0.02 -->, trained code "
                      "0.927<!-- verify: probe.trained code ±0.01 -->, DIM(L) code 0.926 ± 0.003"
                      "<!-- verify: quality.DIM(L) code -->\n")  # fmt: skip
    monkeypatch.setattr(verify, "README", readme)
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text("DIM(L) code 0.926 ± 0.003<!-- verify: quality.DIM(L) code -->\n")
    monkeypatch.setattr(verify, "DOCS", tmp_path / "docs")

    def stand_ins(out_dir: Path) -> dict[str, list[str]]:
        rows = [{"encoder": "trained", "layer": "code", "protocol": "linear", "metric": "top1", "value": 0.93}]
        write = "import json, pathlib, sys; pathlib.Path(sys.argv[1]).parent.mkdir(exist_ok=True); " \
                "pathlib.Path(sys.argv[1]).write_text(sys.argv[2])"  # fmt: skip
        return {"setup": ["-c", "print('online linear probe on the code: 86.0% test accuracy')"],
                "probe": ["-c", write, str(out_dir / "probe" / "probe.json"), json.dumps({"rows": rows})],
                "quality": ["-c", write, str(out_dir / "dim_quality.json"),
                            json.dumps({"scores": {"DIM(L) code": [0.90, 0.91, 0.92]}})]}  # fmt: skip

    monkeypatch.setattr(verify, "commands", stand_ins)
    assert verify.main(["--out-dir", str(tmp_path / "v")]) == 1
    printed = capsys.readouterr().out
    assert "threads: torch.get_num_threads()" in printed
    assert "| README.md:1 | setup.online probe | 85.3% | 0.8600 | ±0.020 | OK |" in printed
    assert "| README.md:1 | probe.trained code | 0.927 | 0.9300 | ±0.010 | OK |" in printed
    assert ("| README.md:1 | quality.DIM(L) code | 0.926 ± 0.003 | 0.9100 ± 0.0100 (3 seeds) | ±0.006 | OUTSIDE |"
            in printed)  # fmt: skip
    assert "| page.md:1 | quality.DIM(L) code |" in printed  # a figure of docs/ is checked too
    assert (tmp_path / "v" / "verify_readme.md").is_file() and (tmp_path / "v" / "setup.log").is_file()
    assert verify.main(["--only", "setup", "--out-dir", str(tmp_path / "w")]) == 0
