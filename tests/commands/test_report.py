"""``autoencode report``: a run's page, its numbers as tables a person reads."""

import autoencode as ae
from autoencode.cli.main import main


def test_numbers_are_tables_rounded_and_the_raw_json_folded(tiny_run):
    run = tiny_run("stacked")
    ae.RunFolder(run).record("pretraining", {"finetune": 0.7402500000000001}, key="100")
    assert main(["reconstruct", str(run)]) == 0
    page = ae.write_report(run).read_text()
    before, rest = page.split("<details>")
    folded, after = rest.split("</details>")
    shown = before + after
    assert "<th>finetune</th></tr><tr><td>100</td><td>0.7403</td>" in shown
    assert "0.74025000" not in shown
    assert "0.7402500000000001" in folded  # metrics.json as it is, behind the fold
    assert "trained on cpu, 1 thread; autoencode" in shown and '"device"' not in shown
    assert "<figcaption>validation images (top) above their reconstructions" in shown
    assert "<td>model.encoder.units</td><td>[100, 30]</td>" in shown


def test_the_runtime_line_reads_any_runtime_a_config_may_hold():
    from autoencode.commands.report import runtime_line

    line = runtime_line({"device": "cpu", "threads": 2, "processes": 2, "torch": "2.13.0"})
    assert line.startswith("trained on cpu, 2 threads, 2 processes; ")
    for odd in (None, "two", [2], 1):  # fuzzed run folders (tests/test_hostile_inputs.py)
        assert "processes" not in runtime_line({"device": "cpu", "processes": odd})
