"""The Scoring page: upload a file to score, curate or compare (A/B), follow the job live (htmx polls a
fragment), read its summary and plots, download the result. Project admins and ML engineers."""
from django.contrib import messages
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from annotation.permissions import DATA_ROLES, project_role_required

from ..models import ModelVersion, ScoringJob
from ..scoring.jobs import (scoring_job_create, scoring_job_of, scoring_job_result_name, scoring_job_result_open,
                            scoring_jobs_recent)
from ..scoring.services import ScoringError
from . import charts
from .forms import ScoringJobForm


def _page(request, form, status=200):
    jobs = scoring_jobs_recent(project=request.project)
    active = ModelVersion.objects.filter(project=request.project, status=ModelVersion.Status.ACTIVE).first()
    return render(request, "rewardtrain/scoring/jobs.html", {
        "project": request.project, "jobs": jobs, "form": form, "active": active,
        "live": any(job.status not in ScoringJob.FINISHED for job in jobs)}, status=status)


@project_role_required(*DATA_ROLES)
def scoring_jobs(request, project_id):
    return _page(request, ScoringJobForm(project=request.project))


@require_POST
@project_role_required(*DATA_ROLES)
def scoring_job_new(request, project_id):
    form = ScoringJobForm(request.POST, request.FILES, project=request.project)
    if not form.is_valid():
        return _page(request, form, status=400)
    data = form.cleaned_data
    try:
        job = scoring_job_create(project=request.project, kind=data["kind"], files=[data["file"], data.get("file_b")],
                                 params=form.params(), model_id=data["model"].pk if data.get("model") else None,
                                 user=request.user)
    except ScoringError as exc:
        form.add_error(None, str(exc))
        return _page(request, form, status=400)
    messages.success(request, f"Scoring job {job.pk} queued.")
    return redirect("scoring-job", project_id=request.project.pk, job_id=job.pk)


scoring_job_new.max_body_setting = "VERDICT_UPLOAD_MAX_BYTES"  # config.security.BodyLimitMiddleware


def _charts(job: ScoringJob) -> list:
    s = job.summary
    if job.status != ScoringJob.Status.SUCCEEDED or not s:
        return []
    if job.kind == ScoringJob.Kind.SCORE:
        return [charts.histogram_chart(series=[{"name": "responses", "counts": s["histogram"]["counts"]}],
                                       edges=s["histogram"]["edges"], title="Rewards", x_label="reward (raw)")]
    if job.kind == ScoringJob.Kind.CURATE:
        h = s["histogram"]
        return [charts.histogram_chart(series=[{"name": "all", "counts": h["all"]}, {"name": "kept", "counts": h["kept"]}],
                                       edges=h["edges"], title="Rewards: all responses and the kept ones",
                                       x_label="reward (raw)")]
    h = s["histogram"]
    return [charts.histogram_chart(series=[{"name": "prompts", "counts": h["counts"]}], edges=h["edges"],
                                   title="Per-prompt reward difference, B − A (right of 0: B wins)",
                                   x_label="reward B − reward A", y_label="prompts"),
            charts.win_rate_chart(rate=s["win_rate_b"], low=s["ci95"][0], high=s["ci95"][1],
                                  title="B's win rate over A, with its bootstrap 95 % interval")]


@project_role_required(*DATA_ROLES)
def scoring_job(request, project_id, job_id):
    job = scoring_job_of(project=request.project, job_id=job_id)
    context = {"project": request.project, "job": job, "charts": _charts(job),
               "finished": job.status in ScoringJob.FINISHED}
    template = "rewardtrain/scoring/_job_live.html" if request.htmx else "rewardtrain/scoring/job.html"
    return render(request, template, context)


@project_role_required(*DATA_ROLES)
def scoring_job_download(request, project_id, job_id):
    job = scoring_job_of(project=request.project, job_id=job_id)
    if not job.result:
        raise Http404("This job has no result yet.")
    return FileResponse(scoring_job_result_open(job=job, user=request.user), as_attachment=True,
                        filename=scoring_job_result_name(job=job), content_type="application/jsonl")
