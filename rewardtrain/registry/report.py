"""The validation report of a new model: its numbers, baselines and the active model's, on the same rows.

Keys (all on the snapshot's validation split): ``n`` pairs scored, ``strict_pairs``,
``tie_pairs``, ``accuracy`` (score ties count as wrong), ``accuracy_by_criterion``,
``accuracy_by_strength``, ``ece`` with its ``reliability`` table (of sigmoid(delta / T) with the
model's ``temperature``, fitted on this split; ``ece_uncalibrated`` without it), ``loss``,
``length_correlation`` (reward vs. response length), ``reward_histogram`` (chosen / rejected
counts over shared edges), ``baselines.longer_wins``, ``agreement_ceiling`` (null without
overlapping judgements), ``plots`` (storage names of the PNGs) and ``active_model``: the
active version's same numbers and a paired bootstrap of the accuracy difference (null when the
project has no active model).
"""
import json
import os
import tempfile

from django.core.files import File
from django.core.files.storage import default_storage

from rewardtrain.ml import report as maths

from ..models import ModelVersion
from ..training.storage import storage_download_dir

def _rows(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def _model_numbers(folder: str, *, rows: list[dict], val_path: str, diagram: str | None = None,
                   histogram: str | None = None) -> tuple[dict, object]:
    from rewardtrain.ml import RewardModel, evaluate_model

    model = RewardModel(folder)
    metrics = evaluate_model(model, val_path, diagram=diagram)
    prompts = [row["prompt"] for row in rows]
    chosen = model.score(prompts, [row["chosen"] for row in rows])[:, 0]
    rejected = model.score(prompts, [row["rejected"] for row in rows])[:, 0]
    ties = [bool(row.get("tie")) for row in rows]
    correct = maths.pair_correct(chosen, rejected, ties)
    histograms = maths.reward_histograms(chosen, rejected)
    if histogram:
        maths.histogram_plot(histograms, histogram)
    numbers = {
        "n": metrics["pairs"], "strict_pairs": int(len(correct)), "tie_pairs": metrics["tie_pairs"],
        "accuracy": metrics["accuracy"], "accuracy_by_criterion": metrics["accuracy_by_criterion"],
        "accuracy_by_strength": metrics["accuracy_by_strength"], "ece": metrics["ece"],
        # ece uses the folder's temperature, fitted on this same validation split at training time.
        "ece_uncalibrated": metrics["ece_uncalibrated"], "temperature": metrics["temperature"],
        "reliability": metrics["reliability"], "loss": metrics["loss"],
        "length_correlation": metrics["length_correlation"], "reward_mean": metrics["reward_mean"],
        "reward_std": metrics["reward_std"], "reward_histogram": histograms,
    }
    return numbers, correct


def _store(local: str, name: str) -> str:
    with open(local, "rb") as handle:
        return default_storage.save(name, File(handle))


def validation_report_build(*, project_id: int, model_dir: str, val_path: str, plots_prefix: str,
                            exclude_model_id: int | None = None) -> dict:
    """Scores the new model (and the active one) on the validation rows; stores the PNGs."""
    rows = _rows(val_path)
    if not rows:
        raise ValueError("no validation rows")
    ties = [bool(row.get("tie")) for row in rows]
    with tempfile.TemporaryDirectory(prefix="verdict-report-") as tmp:
        diagram, histogram = os.path.join(tmp, "reliability.png"), os.path.join(tmp, "reward_histogram.png")
        numbers, correct = _model_numbers(model_dir, rows=rows, val_path=val_path, diagram=diagram,
                                          histogram=histogram)
        plots = {"reliability": _store(diagram, f"{plots_prefix}/reliability.png"),
                 "reward_histogram": _store(histogram, f"{plots_prefix}/reward_histogram.png")}
        active = (ModelVersion.objects.filter(project_id=project_id, status=ModelVersion.Status.ACTIVE)
                  .exclude(pk=exclude_model_id).first())
        active_numbers = None
        if active is not None:
            folder = os.path.join(tmp, "active")
            storage_download_dir(prefix=active.artifact_dir, local=folder)
            theirs, their_correct = _model_numbers(folder, rows=rows, val_path=val_path)
            active_numbers = {"id": active.pk, "version": active.version, **theirs,
                              "comparison": maths.paired_bootstrap(correct, their_correct)}
    report = {
        **numbers,
        "baselines": {"longer_wins": maths.longer_wins([len(r["chosen"]) for r in rows],
                                                       [len(r["rejected"]) for r in rows], ties)},
        "agreement_ceiling": maths.agreement_ceiling([r.get("agreement") for r in rows],
                                                     [r.get("votes") for r in rows]),
        "plots": plots,
        "active_model": active_numbers,
    }
    return maths.finite_or_none(report)
