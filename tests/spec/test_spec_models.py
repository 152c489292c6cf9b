"""Every CI-sized model of spec/manifest.json gives its expected verdict under TLC:
correct models pass, every bug switch is caught with a violation of its property."""

import pytest

from harness.spec.manifest import AS_EXPECTED, check_model, judge, load_manifest

CI_MODELS = [m for m in load_manifest() if m.tier == "ci"]


def test_every_spec_has_a_correct_model_and_a_bug_switch():
    for spec in ("MonitorDelta", "Reconcile", "OvsdbRaft"):
        mine = [m for m in CI_MODELS if m.name == spec or m.name.startswith(spec + "_")]
        assert any(m.expect == "pass" for m in mine), spec
        assert any(m.expect == "violation" and m.property for m in mine), spec


@pytest.mark.parametrize("model", CI_MODELS, ids=[m.name for m in CI_MODELS])
def test_model_verdict(model):
    res = check_model(model)
    assert res.verdict != "error", res.message
    assert judge(model, res) == AS_EXPECTED, f"{model.name}: {res.summary()}\n{res.trace_text()}"
    if model.expect == "violation":
        assert res.property == model.property
        assert len(res.trace) >= 2  # the counterexample is reported
    elif model.simulate is None and model.distinct is not None:
        # The state count of an exhaustive run is a fingerprint of spec and model.
        assert res.distinct == model.distinct, "spec drift: update spec/manifest.json"
