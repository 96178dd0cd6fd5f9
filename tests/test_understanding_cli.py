"""`yuqing eval`, `yuqing classify` and `yuqing train` as a user runs them (docs/design.md §5 contract)."""

import csv
import json
import os
import random
import subprocess
import sys

from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures"


def yuqing(*args, cwd, input_text=None):
    return subprocess.run([sys.executable, "-m", "monitor", *args], capture_output=True, text=True, cwd=cwd,
                          env=dict(os.environ), input=input_text, timeout=300)


def run(capsys, *args) -> tuple[int, str, str]:
    """In-process `yuqing ARGS` (no interpreter start-up per call)."""
    from monitor.cli.main import main

    code = main(list(args))
    out = capsys.readouterr()
    return code, out.out, out.err


def _last_json(stdout: str) -> dict:
    return json.loads(stdout.strip().splitlines()[-1])


def test_eval_json_contract_on_raw_and_tokenised_files(tmp_path, capsys):
    for name in ("domain_sample.csv", "domain_tokens_sample.csv"):
        code, stdout, stderr = run(capsys, "eval", str(FIXTURES / name), "--format", "json")
        assert code == 0, stderr
        out = _last_json(stdout)
        assert set(out) == {"n", "accuracy", "macro_f1", "per_class", "seconds"}
        assert out["n"] == (35 if name == "domain_sample.csv" else 21)
        assert 0 <= out["macro_f1"] <= 1 and 0 <= out["accuracy"] <= 1
        for figures in out["per_class"].values():
            assert set(figures) == {"precision", "recall", "f1", "support"}
        assert sum(f["support"] for f in out["per_class"].values()) == out["n"]


def test_eval_bad_input_exits_2_naming_the_file(tmp_path, capsys):
    bad = tmp_path / "nolabel.csv"
    bad.write_text("title,body\n标题,内容\n", encoding="utf-8")
    code, _, err = run(capsys, "eval", str(bad), "--format", "json")
    assert code == 2 and "nolabel.csv" in err and "label" in err
    code, _, err = run(capsys, "eval", str(tmp_path / "absent.csv"), "--format", "json")
    assert code == 2 and "absent.csv" in err
    code, _, err = run(capsys, "eval", str(FIXTURES / "domain_sample.csv"), "--model", str(bad))
    assert code == 2 and "nolabel.csv" in err


def test_classify_explains(tmp_path, capsys):
    r = yuqing("classify", "--json", "--text", "马街街道一化工厂发生爆炸，造成三人死亡、十二人受伤", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    out = _last_json(r.stdout)
    assert out["department"] == "区应急局" and "马街街道办事处" in out["co_departments"]
    assert out["severity"] == "较大" and {k: out["facts"][k] for k in ("deaths", "injured")} == {"deaths": 3, "injured": 12}
    assert set(out["facts"]) <= {"deaths", "injured", "uncertain", "doubts"}  # bare 受伤: possibly serious, said why
    assert "安全生产" in out["sensitive_areas"] and out["response_type"] == "重大问题"
    assert {r["stage"] for r in out["reasons"]} >= {"classify", "route", "severity", "response"}
    text = yuqing("classify", cwd=tmp_path, input_text="小区物业乱收停车费，业主投诉无门")
    assert text.returncode == 0 and "牵头部门" in text.stdout and "理由" in text.stdout
    assert run(capsys, "classify", "--text", "  ")[0] == 2


def test_train_on_a_subset_then_eval_with_it(tmp_path, shared_data, capsys):
    rows = list(csv.DictReader(open(shared_data / "train" / "full9210_train_tokens.csv", encoding="utf-8")))
    random.Random(1).shuffle(rows)
    subset = tmp_path / "subset.csv"
    with open(subset, "w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["row", "tokens", "label"])
        w.writeheader()
        w.writerows(rows[:600])
    model = tmp_path / "m.npz"
    code, stdout, stderr = run(capsys, "train", str(subset), str(FIXTURES / "domain_sample.csv"), "--out",
                               str(model), "--cv", "2", "--json")
    assert code == 0, stderr
    out = _last_json(stdout)
    assert out["n"] == 635 and out["cv_folds"] == 2 and 0 < out["cv_macro_f1"] <= 1
    with capsys.disabled():
        print(f"\n[train on 635 examples, grouped 2-fold CV] macro-F1 {out['cv_macro_f1']}")
    code, stdout, _ = run(capsys, "eval", str(FIXTURES / "domain_tokens_sample.csv"), "--format", "json", "--model",
                          str(model))
    assert code == 0 and _last_json(stdout)["n"] == 21
    code, _, err = run(capsys, "train", str(tmp_path / "nothing"))
    assert code == 2 and "nothing" in err
