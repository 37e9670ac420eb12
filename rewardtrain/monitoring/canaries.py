"""The canary set: a project's fixed prompts with responses, scored by every new model version (and the
active one), so the candidate's reward distribution can be compared with the active model's before it is
promoted: the two-sample Kolmogorov–Smirnov statistic and the shift of the mean in units of the active
model's canary reward standard deviation."""
from __future__ import annotations

import hashlib
import json

import numpy as np
from django.conf import settings
from django.db import transaction

from annotation.models import Project

from ..models import Canary, CanaryScore, ModelEvent, ModelVersion
from ..scoring.files import FileProblems, score_rows

Status = ModelVersion.Status


def _max_canaries() -> int:
    return int(getattr(settings, "VERDICT_CANARY_MAX_PROMPTS", 1000))


def canaries_import(*, project: Project, fileobj, filename: str) -> int:
    """Replaces the project's canary set with the file's rows (JSONL of {prompt, response} or
    {prompt, responses: [...]}); all or nothing: FileProblems names every bad line (file:line: field:
    problem) and nothing changes. Scoring of the active model and the candidates is queued."""
    rows = list(score_rows(fileobj, filename))
    if len(rows) > _max_canaries():
        raise FileProblems([f"{filename}: {len(rows)} canary prompts; at most {_max_canaries()} are allowed "
                            "(VERDICT_CANARY_MAX_PROMPTS)"])
    with transaction.atomic():
        Project.objects.select_for_update().filter(pk=project.pk).first()
        Canary.objects.filter(project=project).delete()
        Canary.objects.bulk_create([Canary(project=project, line=r.line, prompt=r.prompt, responses=r.responses)
                                    for r in rows])
        for model_id in ModelVersion.objects.filter(project=project).exclude(status=Status.ARCHIVED).values_list(
                "pk", flat=True):
            canary_scores_enqueue(model_version_id=model_id)
    return len(rows)


def canary_set_of(*, project_id: int) -> tuple[list[Canary], str]:
    """The canaries in order and the set's sha256 (which says whether stored rewards are current)."""
    canaries = list(Canary.objects.filter(project_id=project_id).order_by("line"))
    digest = hashlib.sha256(json.dumps([[c.prompt, c.responses] for c in canaries]).encode()).hexdigest()
    return canaries, digest


def canary_scores_enqueue(*, model_version_id: int) -> None:
    """Queues canary scoring once the surrounding transaction commits (call it where a version appears)."""
    from ..tasks import canary_scores_compute as task

    if Canary.objects.filter(project__model_versions=model_version_id).exists():
        transaction.on_commit(lambda: task.delay(model_version_id))


def _score_version(model: ModelVersion, canaries: list[Canary], digest: str) -> CanaryScore:
    current = CanaryScore.objects.filter(model_version=model, canary_set=digest).first()
    if current is not None:
        return current
    from ..scoring.cache import loaded_model

    prompts = [c.prompt for c in canaries for _ in c.responses]
    responses = [text for c in canaries for text in c.responses]
    rewards = loaded_model(model_version=model).score(prompts, responses)[:, 0]
    score, _ = CanaryScore.objects.update_or_create(
        model_version=model, defaults={"rewards": [float(r) for r in rewards], "canary_set": digest})
    return score


def reference_model_for(*, model: ModelVersion) -> ModelVersion | None:
    """What a version is compared with: the active model; for the active one itself, the version it
    replaced (a candidate promoted automatically right after registration is still checked)."""
    if model.status != Status.ACTIVE:
        return ModelVersion.objects.filter(project_id=model.project_id, status=Status.ACTIVE).first()
    event = (ModelEvent.objects.filter(model_version=model, action=ModelEvent.Action.PROMOTE)
             .select_related("previous_active").order_by("-at", "-id").first())
    return event.previous_active if event else None


def canary_scores_compute(*, model_version_id: int) -> dict | None:
    """Scores the version and its reference model on the current canary set (skipping whatever is already
    scored on it), then evaluates the canary-shift alert. Safe to run twice. Returns the shift."""
    model = ModelVersion.objects.filter(pk=model_version_id).first()
    if model is None:
        return None
    canaries, digest = canary_set_of(project_id=model.project_id)
    if not canaries:
        return None
    _score_version(model, canaries, digest)
    reference = reference_model_for(model=model)
    if reference is not None:
        _score_version(reference, canaries, digest)
    from .alerts import alert_canary_check

    shift = canary_shift_of(model=model)
    alert_canary_check(model=model, shift=shift)
    return shift


def shift_statistics(candidate, reference) -> dict:
    """KS statistic (scipy.stats.ks_2samp, two-sided) with its p-value, and the mean shift
    (mean(candidate) − mean(reference)) / std(reference) (sample std, ddof=1); None when the reference
    rewards have no spread."""
    from scipy.stats import ks_2samp

    a, b = np.asarray(candidate, dtype=np.float64), np.asarray(reference, dtype=np.float64)
    ks = ks_2samp(a, b)
    std = float(b.std(ddof=1)) if len(b) > 1 else 0.0
    return {"ks": float(ks.statistic), "p_value": float(ks.pvalue), "candidate_mean": float(a.mean()),
            "reference_mean": float(b.mean()), "reference_std": std,
            "mean_shift_sigma": float((a.mean() - b.mean()) / std) if std > 0 else None, "n": len(a)}


def canary_shift_of(*, model: ModelVersion) -> dict | None:
    """The version's shift against its reference model on the current canary set, or None with no set.
    ``status`` says what is missing: "no_reference" (no other model to compare with), "pending" (not
    scored yet on this set), "ok"."""
    canaries, digest = canary_set_of(project_id=model.project_id)
    if not canaries:
        return None
    reference = reference_model_for(model=model)
    out = {"canaries": len(canaries), "canary_set": digest, "thresholds": canary_thresholds(),
           "reference": {"id": reference.pk, "version": reference.version} if reference else None}
    if reference is None:
        return {**out, "status": "no_reference"}
    scores = {s.model_version_id: s.rewards for s in CanaryScore.objects.filter(
        model_version__in=[model, reference], canary_set=digest)}
    if model.pk not in scores or reference.pk not in scores:
        return {**out, "status": "pending"}
    stats = shift_statistics(scores[model.pk], scores[reference.pk])
    limits = out["thresholds"]
    beyond = stats["ks"] > limits["ks"] or (stats["mean_shift_sigma"] is not None
                                             and abs(stats["mean_shift_sigma"]) > limits["mean_shift_sigma"])
    return {**out, "status": "ok", **stats, "beyond_threshold": beyond}


def canary_thresholds() -> dict:
    return {"ks": float(getattr(settings, "VERDICT_ALERT_CANARY_KS", 0.3)),
            "mean_shift_sigma": float(getattr(settings, "VERDICT_ALERT_CANARY_MEAN_SHIFT_SIGMA", 1.0))}
