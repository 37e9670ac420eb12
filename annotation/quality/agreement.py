"""Inter-annotator agreement of a project, batch or rubric criterion, with bootstrap 95 % intervals.

Only units that two or more annotators labelled say anything about agreement; the others are left
out of every number (so Fleiss' κ asks that all *those* units have the same number of labels).
"""
from annotation.models import Project

from . import metrics
from .units import cached, computed, judgement_rows, units_build



def agreement_of_units(units) -> dict:
    """The numbers, and their bootstrap intervals, for already built units."""
    multi = [i for i, labels in enumerate(units.labels) if len(labels) >= 2]
    keys = [units.keys[i] for i in multi]
    choices = [[choice for _, choice, _, _ in units.labels[i]] for i in multi]
    values = [[value for _, _, value, _ in units.labels[i]] for i in multi]
    nominal = metrics.value_counts(choices, metrics.CHOICES)
    domain = sorted({v for vs in values for v in vs})
    interval = metrics.value_counts(values, domain)
    result = {"n_tasks": len({k[0] for k in keys}), "n_units": len(multi), "n_labels": int(nominal.sum()),
              "label_counts": dict(zip(metrics.CHOICES, (int(n) for n in nominal.sum(axis=0))))
              if len(multi) else dict.fromkeys(metrics.CHOICES, 0),
              "percent_agreement": metrics.percent_agreement(nominal),
              "krippendorff_alpha": metrics.alpha(nominal, metrics.CHOICES, "nominal"),
              "krippendorff_alpha_interval": metrics.alpha(interval, domain, "interval"),
              "fleiss_kappa": metrics.fleiss_kappa(nominal)}
    blocks = metrics.task_blocks([k[0] for k in keys])
    on_choice, on_strength = metrics.agreement_bootstrap(blocks, [
        metrics.Agreement(nominal, metrics.CHOICES, "nominal"), metrics.Agreement(interval, domain, "interval")])
    intervals = {"percent_agreement": on_choice.get("percent_agreement"), "krippendorff_alpha": on_choice.get("alpha"),
                 "krippendorff_alpha_interval": on_strength.get("alpha"), "fleiss_kappa": on_choice.get("fleiss_kappa")}
    result["ci"] = {name: None if result[name] is None else intervals[name] for name in intervals}
    return result


def agreement_compute(*, project: Project, criterion: str = "", batch_id: int | None = None, wait: bool = True):
    """{"n_tasks", "n_units", "percent_agreement", "krippendorff_alpha" (nominal on A/B/tie/both bad),
    "krippendorff_alpha_interval" (on the signed strength), "fleiss_kappa", "ci": {name: [low, high]}},
    cached until the project's judgements change; `units.COMPUTING` without `wait` (see `units.cached`)."""
    return cached(project=project, name="agreement", params=(criterion, batch_id), wait=wait)


@computed("agreement")
def _compute(project: Project, criterion: str, batch_id: int | None) -> dict:
    units = units_build(rows=judgement_rows(project=project, criterion=criterion, batch_id=batch_id))
    return {"criterion": criterion, "batch": batch_id, **agreement_of_units(units)}

