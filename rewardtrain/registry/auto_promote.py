"""Automatic promotion: a new model replaces the active one only when it is better with the stated confidence.

Rule: on the same validation rows, the paired-bootstrap interval of (new − active) accuracy at
the policy's confidence lies above 0 (its low end > 0). With no active model the first validated
model is promoted. The decision and its numbers go on the run (``auto_decision``) and into a
ModelEvent with no user: ``promote``, or ``keep`` when the active model stays.
"""
from django.db import transaction

from ..models import ModelEvent, ModelVersion, TrainingPolicy, TrainingRun
from .services import _active, _lock_project, _switch_active


def promote_decision(*, report: dict, version: int, confidence: float) -> dict:
    """The decision from a validation report alone (pure; the numbers it rests on included)."""
    active = report.get("active_model")
    if active is None:
        return {"outcome": "promoted", "version": version, "active_version": None, "confidence": confidence,
                "accuracy": report.get("accuracy"),
                "text": f"Promoted v{version}: there was no active model."}
    cmp = active.get("comparison") or {}
    numbers = {"version": version, "active_version": active["version"], "confidence": confidence,
               "difference": cmp.get("difference"), "low": cmp.get("low"), "high": cmp.get("high"),
               "p_better": cmp.get("p_a_better"), "pairs": cmp.get("pairs")}
    pct = f"{confidence:.0%}"
    if cmp.get("low") is None:
        return {"outcome": "kept", **numbers,
                "text": f"Kept active v{active['version']}: no paired comparison on the validation rows."}
    if abs(cmp.get("confidence", 0.95) - confidence) > 1e-9:
        return {"outcome": "kept", **numbers,
                "text": f"Kept active v{active['version']}: the report's interval is at {cmp['confidence']:.0%}, "
                        f"the policy asks {pct}."}
    interval = f"{pct} interval {cmp['low']:+.3f} to {cmp['high']:+.3f}"
    if cmp["low"] > 0:
        return {"outcome": "promoted", **numbers,
                "text": f"Promoted v{version}: accuracy {cmp['difference']:+.3f} over v{active['version']} ({interval})."}
    return {"outcome": "kept", **numbers,
            "text": f"Kept active v{active['version']}: v{version}'s accuracy difference {cmp['difference']:+.3f} "
                    f"({interval}) is not above 0 with {pct} confidence."}


def model_version_auto_promote(*, model_version: ModelVersion) -> dict | None:
    """Applies the project's policy to a newly registered model; None when the policy does not apply."""
    policy = TrainingPolicy.objects.filter(project_id=model_version.project_id).first()
    run = model_version.run
    if policy is None or not policy.auto_promote or run is None:
        return None
    if run.trigger == TrainingRun.Trigger.MANUAL and not policy.auto_promote_manual:
        return None
    report = model_version.validation_report or {}
    decision = promote_decision(report=report, version=model_version.version,
                                confidence=policy.promote_confidence)
    with transaction.atomic():
        _lock_project(model_version.project_id)
        model = ModelVersion.objects.select_for_update().get(pk=model_version.pk)
        current = _active(model.project_id)
        validated_against = (report.get("active_model") or {}).get("id")
        if (current.pk if current else None) != validated_against:
            decision = {**decision, "outcome": "kept",
                        "text": "Not promoted: the active model changed after validation; compare and promote by hand."}
        if model.status != ModelVersion.Status.CANDIDATE:
            decision = {**decision, "outcome": "kept", "text": f"Not promoted: v{model.version} is {model.status}."}
        if decision["outcome"] == "promoted":
            _switch_active(old=current, new=model, action=ModelEvent.Action.PROMOTE, user=None, detail=decision)
        else:
            ModelEvent.objects.create(project_id=model.project_id, model_version=model, action=ModelEvent.Action.KEEP,
                                      previous_active=current, detail=decision)
        TrainingRun.objects.filter(pk=run.pk).update(auto_decision=decision)
    return decision
