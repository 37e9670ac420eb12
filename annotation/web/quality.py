"""Quality pages for project admins and ML engineers: agreement, the annotator table (sortable, CSV)
and the source-model leaderboard. Thin: parse the scope, call one selector, render. The dashboard
with its charts is `rewardtrain.web.quality` (the SVG charts live in rewardtrain)."""
import csv

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import render

from annotation.models import Batch, Criterion
from annotation.parsing import ascii_int
from annotation.permissions import DATA_ROLES, project_role_required
from annotation.quality.agreement import agreement_compute
from annotation.quality.annotators import FLAGS, annotator_stats_list, model_agreement_status
from annotation.quality.leaderboard import leaderboard_compute
from annotation.quality.units import COMPUTING, numbers_as_of, scope_check

# column key -> heading; every column of the table sorts, numbers with None last
ANNOTATOR_COLUMNS = {
    "username": "Annotator", "judgements": "Judgements", "median_seconds": "Median s", "skip_rate": "Skip rate",
    "tie_rate": "Tie rate", "gold_accuracy": "Gold accuracy", "agreement_with_majority": "Agrees with majority",
    "agreement_with_model": "Agrees with model", "agreement_with_adjudication": "Agrees with verdicts",
    "reliability": "Reliability (Dawid–Skene)", "position_bias": "First shown chosen", "position_bias_p": "Bias p", "flags": "Flags",
}


def _scope(request, project, *, batches: bool = True) -> tuple[str, int | None]:
    """The criterion and batch asked for in the query string; a bad one falls back to overall with a message."""
    criterion = request.GET.get("criterion", "")
    batch_id = ascii_int(request.GET.get("batch", "")) if batches and request.GET.get("batch") else None
    try:
        return scope_check(project=project, criterion=criterion, batch_id=batch_id), batch_id
    except ValueError as exc:
        messages.error(request, str(exc))
        return "", None


def _choices(project) -> dict:
    return {"criteria": sorted(set(Criterion.objects.filter(rubric__project=project).values_list("key", flat=True))),
            "batches": Batch.objects.filter(project=project).only("id", "name")[:500]}


@project_role_required(*DATA_ROLES)
def quality_agreement(request, project_id):
    project = request.project
    criterion, batch_id = _scope(request, project)
    agreement = agreement_compute(project=project, criterion=criterion, batch_id=batch_id, wait=False)
    return render(request, "annotation/quality/agreement.html", {
        "project": project, "criterion": criterion, "batch_id": batch_id, **_choices(project),
        "agreement": agreement, "computing": agreement is COMPUTING,
        "as_of": numbers_as_of(project=project, name="agreement", params=(criterion, batch_id))})


def _sorted(rows: list[dict], key: str, descending: bool) -> list[dict]:
    if key == "flags":
        return sorted(rows, key=lambda r: len(r["flags"]), reverse=descending)
    present = sorted((r for r in rows if r[key] is not None), key=lambda r: r[key], reverse=descending)
    return present + [r for r in rows if r[key] is None]


@project_role_required(*DATA_ROLES)
def quality_annotators(request, project_id):
    """The annotator table, sorted by ?sort=<column> (prefix "-" for descending), or as CSV with ?format=csv."""
    project = request.project
    rows = annotator_stats_list(project=project, wait=False)
    computing = rows is COMPUTING
    if request.GET.get("format") == "csv":
        if computing:
            response = HttpResponse("The annotator table is still being computed by a worker; try again in a minute.",
                                    content_type="text/plain; charset=utf-8", status=503)
            response["Retry-After"] = "30"
            return response
        return _annotators_csv(project, rows)
    rows = [] if computing else rows
    sort = request.GET.get("sort", "username")
    key = sort.removeprefix("-")
    if key not in ANNOTATOR_COLUMNS:
        key, sort = "username", "username"
    return render(request, "annotation/quality/annotators.html", {
        "project": project, "rows": _sorted(rows, key, sort.startswith("-")), "sort": sort, "flags": FLAGS,
        "computing": computing, "model": model_agreement_status(project=project),
        "as_of": numbers_as_of(project=project, name="annotators"),
        "columns": [(k, label, f"-{k}" if sort == k else k) for k, label in ANNOTATOR_COLUMNS.items()]})


CSV_FIELDS = ["username", "judgements", "median_seconds", "skips", "skip_rate", "tie_rate", "gold_answers",
              "gold_accuracy", "gold_ci_low", "gold_ci_high", "agreement_with_majority", "majority_units",
              "agreement_with_model", "model_pairs", "agreement_with_adjudication", "adjudicated_judgements",
              "reliability", "position_bias", "position_bias_n", "position_bias_p", "flags"]


def _cell(value) -> str:
    """Spreadsheets run cells that start with = + - @ as formulas: a username could be one."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _annotators_csv(project, rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="annotators-project-{project.pk}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_FIELDS)
    for r in rows:
        low, high = r["gold_ci"] or (None, None)
        values = {**r, "gold_ci_low": low, "gold_ci_high": high, "flags": " ".join(r["flags"])}
        writer.writerow([values[f] if isinstance(values[f], (int, float)) and not isinstance(values[f], bool)
                         else _cell(values[f]) for f in CSV_FIELDS])
    return response


@project_role_required(*DATA_ROLES)
def leaderboard(request, project_id):
    project = request.project
    criterion, _ = _scope(request, project, batches=False)
    board = leaderboard_compute(project=project, criterion=criterion, wait=False)
    computing = board is COMPUTING
    return render(request, "annotation/quality/leaderboard.html", {
        "project": project, "criterion": criterion, **_choices(project), "board": board, "computing": computing,
        "names": [] if computing else [m["model"] for m in board["models"]],
        "as_of": numbers_as_of(project=project, name="leaderboard", params=(criterion,))})
