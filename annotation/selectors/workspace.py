"""Reads for the annotator workspace and API: a lease as the annotator sees it, diffs, progress."""
from datetime import datetime, time

from django.db.models import Count, IntegerField, Q, Sum
from django.db.models.functions import Least
from django.http import Http404
from django.utils import timezone

from annotation.models import Assignment, Criterion, Judgement, Project, Response, Task
from annotation.pii.services import text_for_annotator
from annotation.rendering import compare, markdown_to_safe_html

LETTERS = "ABCDEFGHI"
DIFF_MIN_SIMILARITY = 0.6


def assignment_for_annotator(*, user, assignment_id) -> Assignment:
    """The lease if it is this user's; 404 otherwise, so other people's lease ids do not leak."""
    try:
        return Assignment.objects.select_related("project").get(pk=assignment_id, annotator=user)
    except (Assignment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such assignment.")


def criteria_for(*, project: Project) -> list[Criterion]:
    """The criteria of the project's rubric, read once per project object (a request asks several
    times: the answer form, the current task, the prefetched one)."""
    known = getattr(project, "_criteria", None)
    if known is None or known[0] != project.rubric_id:
        criteria = list(Criterion.objects.filter(rubric_id=project.rubric_id)) if project.rubric_id else []
        known = project._criteria = (project.rubric_id, criteria)
    return known[1]


def task_view(*, assignment: Assignment, render: bool = False) -> dict:
    """The task of a lease with its responses in the stored display order (one query). PII is masked
    (placeholders such as [EMAIL]) whatever the project's policy: annotators never need the values."""
    by_id = {r.pk: r for r in Response.objects.filter(pk__in=assignment.display_order).select_related("prompt")
             .only("id", "text", "prompt__id", "prompt__text", "prompt__messages")}
    responses = [{"id": rid, "label": LETTERS[i], "text": text_for_annotator(by_id[rid].text)}
                 for i, rid in enumerate(assignment.display_order)]
    prompt = by_id[assignment.display_order[0]].prompt  # a task's responses all answer its prompt
    messages = prompt.messages if isinstance(prompt.messages, list) and prompt.messages else None
    if messages:
        messages = [{**m, "content": text_for_annotator(str(m.get("content", "")))} if isinstance(m, dict) else m
                    for m in messages]
    view = {"task_id": assignment.task_id, "prompt": {"text": text_for_annotator(prompt.text), "messages": messages},
            "responses": responses}
    if render:
        for response in responses:
            response["html"] = markdown_to_safe_html(response["text"])
        view["prompt"]["turns"] = [
            {"role": str(m.get("role", "")), "html": markdown_to_safe_html(str(m.get("content", "")))}
            for m in messages or [] if isinstance(m, dict)
        ]
        view["prompt"]["html"] = markdown_to_safe_html(view["prompt"]["text"])
    return view


def responses_diff(*, responses: list[dict]) -> dict:
    """Word-level diffs of every response against the first one shown, where they are near-identical.

    Responses that are not (similarity below DIFF_MIN_SIMILARITY) are shown as plain text: a diff of
    two different answers marks everything and costs the most to compute."""
    base = responses[0]["text"]
    reference = "<em>Reference: the others are compared with this one.</em>"
    diffs = [{"label": responses[0]["label"], "ratio": 1.0, "html": reference}]
    for response in responses[1:]:
        ratio, marked = compare(base, response["text"], min_similarity=DIFF_MIN_SIMILARITY)
        # Not near-identical: shown rendered, as in the normal view (raw Markdown would read as noise).
        diffs.append({"label": response["label"], "ratio": ratio, "similar": marked is not None,
                      "html": marked[1] if marked else markdown_to_safe_html(response["text"]),
                      "rendered": marked is None})
        if len(responses) == 2:  # a pair: the first side shows its own marks
            diffs[0]["html"] = marked[0] if marked else markdown_to_safe_html(base)
            diffs[0]["rendered"] = marked is None
    return {"similar": any(d.get("similar") for d in diffs), "diffs": diffs}


def annotator_progress(*, project: Project, user) -> dict:
    """Done today (in the site's time zone), an estimate of what is left for this user, and the project's completion."""
    start = timezone.make_aware(datetime.combine(timezone.localdate(), time.min))
    done_today = Judgement.objects.filter(annotator=user, created_at__gte=start, task__project=project).count()
    live = Q(status__in=[Task.Status.OPEN, Task.Status.COMPLETE])
    counts = Task.objects.filter(project=project).aggregate(
        open=Count("id", filter=Q(status=Task.Status.OPEN)),
        complete=Count("id", filter=Q(status=Task.Status.COMPLETE)),
        # judgements count toward the target as they come, not only once a task has all of them (overlap > 1)
        wanted=Sum("target_judgements", filter=live),
        given=Sum(Least("completed_judgements", "target_judgements", output_field=IntegerField()), filter=live))
    mine_open = Judgement.objects.filter(annotator=user, task__project=project,
                                         task__status=Task.Status.OPEN).count()
    mine_open += (Assignment.objects.filter(annotator=user, project=project, status=Assignment.Status.SKIPPED,
                                            task__status=Task.Status.OPEN).values("task_id").distinct().count())
    remaining = max(counts["open"] - mine_open, 0)
    wanted, given = counts["wanted"] or 0, counts["given"] or 0
    return {"done_today": done_today, "remaining": remaining,
            "percent": 100 * given // wanted if wanted else 100}  # floored: 100 % only when all are in
