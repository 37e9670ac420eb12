"""Preference pairs: the one filter that both the pairs API list and snapshot selection use."""
from collections.abc import Iterable
from datetime import date

from django.db.models import Q, QuerySet

from annotation.models import PreferencePair, Project

OVERALL = ""  # the criterion value of the overall preference, as stored
OVERALL_NAME = "overall"  # ... and as users write it (filters, forms, snapshot stats)


def criterion_from_input(value: str) -> str:
    """A criterion as users write it ("overall", "", or a key) as stored."""
    value = value.strip()
    return OVERALL if value.lower() in {OVERALL, OVERALL_NAME} else value


def pairs_filter(*, project: Project, criteria: Iterable[str] = (), sources: Iterable[str] = (),
                 since: date | None = None, until: date | None = None, batch_ids: Iterable[int] = (),
                 judgement_id: int | None = None, is_tie: bool | None = None, exclude_gold: bool = False,
                 exclude_annotator_ids: Iterable[int] = ()) -> QuerySet[PreferencePair]:
    """The project's pairs narrowed by every filter given; empty collections and None mean "any".

    A batch matches imported pairs of that batch and human pairs whose task is in it; dates are the
    day the pair was recorded, both ends inclusive."""
    qs = PreferencePair.objects.filter(project=project)
    if criteria := tuple(criteria):
        qs = qs.filter(criterion__in=criteria)
    if sources := tuple(sources):
        qs = qs.filter(source__in=sources)
    if since:
        qs = qs.filter(created_at__date__gte=since)
    if until:
        qs = qs.filter(created_at__date__lte=until)
    if batch_ids := tuple(batch_ids):
        qs = qs.filter(Q(batch_id__in=batch_ids) | Q(judgement__task__batch_id__in=batch_ids))
    if judgement_id is not None:
        qs = qs.filter(judgement_id=judgement_id)
    if is_tie is not None:
        qs = qs.filter(is_tie=is_tie)
    if exclude_gold:
        qs = qs.exclude(judgement__task__is_gold=True)
    if exclude_annotator_ids := tuple(exclude_annotator_ids):
        qs = qs.exclude(annotator_id__in=exclude_annotator_ids).exclude(
            judgement__annotator_id__in=exclude_annotator_ids)
    return qs
