"""Which pairs a snapshot takes: SnapshotFilters (stored with the snapshot as JSON) built and validated
from user input by filters_build. The query itself is annotation.selectors.pairs.pairs_filter, the
same one the pairs API lists with."""
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.contrib.auth import get_user_model
from django.db.models import Q

from annotation.models import Batch, Criterion, PreferencePair, Project
from annotation.parsing import ascii_int
from annotation.selectors.pairs import OVERALL, OVERALL_NAME, criterion_from_input


class SnapshotError(ValueError):
    """Bad snapshot input (unknown criterion, batch of another project, ...); the message says which."""


class UnknownCriterion(SnapshotError):
    """A criterion no rubric version of the project has (like an invalid choice: the command exits 2)."""


@dataclass(frozen=True)
class SnapshotFilters:
    criteria: tuple[str, ...] = (OVERALL,)  # empty tuple: every criterion (users ask with "*")
    sources: tuple[str, ...] = ()  # empty: human and imported
    since: date | None = None  # inclusive, by the date the pair was recorded
    until: date | None = None  # inclusive
    batch_ids: tuple[int, ...] = ()
    min_agreement: float | None = None  # share of votes on the majority side of a comparison
    exclude_gold: bool = False
    exclude_annotator_ids: tuple[int, ...] = ()

    def as_json(self) -> dict:
        return {
            "criteria": sorted(self.criteria), "sources": sorted(self.sources),
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "batch_ids": sorted(self.batch_ids), "min_agreement": self.min_agreement,
            "exclude_gold": self.exclude_gold, "exclude_annotator_ids": sorted(self.exclude_annotator_ids),
        }


def filters_build(*, project: Project, criteria: Iterable[str] | None = None, sources: Iterable[str] = (),
                  since: date | None = None, until: date | None = None, batch_ids: Iterable[int] = (),
                  min_agreement: float | None = None, exclude_gold: bool = False,
                  exclude_annotators: Iterable[int | str] = ()) -> SnapshotFilters:
    """Validated filters from user input; annotators may be given by id or username."""
    crit = tuple(sorted({criterion_from_input(c) for c in criteria or [OVERALL_NAME]}))
    if "*" in crit:
        crit = ()
    keys = set(Criterion.objects.filter(rubric__project=project).values_list("key", flat=True))
    if unknown := [c for c in crit if c != OVERALL and c not in keys]:
        raise UnknownCriterion(
            f"Unknown criterion {unknown[0]!r} in project “{project.name}”; known: "
            f"{', '.join([OVERALL_NAME, *sorted(keys)])}, or * for every criterion.")
    bad_sources = set(sources) - set(PreferencePair.Source.values)
    if bad_sources:
        raise SnapshotError(f"Unknown source {sorted(bad_sources)[0]!r}; use human or imported.")
    if since and until and since > until:
        raise SnapshotError("The date range is empty: --since is after --until.")
    batch_ids = tuple(sorted({int(b) for b in batch_ids}))
    found = set(Batch.objects.filter(project=project, pk__in=batch_ids).values_list("pk", flat=True))
    if missing := [b for b in batch_ids if b not in found]:
        raise SnapshotError(f"No batch {missing[0]} in project “{project.name}”.")
    if min_agreement is not None and not 0 <= min_agreement <= 1:
        raise SnapshotError("Minimum agreement must be between 0 and 1.")
    return SnapshotFilters(
        criteria=crit, sources=tuple(sorted(set(sources))), since=since, until=until, batch_ids=batch_ids,
        min_agreement=min_agreement, exclude_gold=exclude_gold,
        exclude_annotator_ids=_annotator_ids(project=project, refs=exclude_annotators),
    )


def filters_summary(filters: dict, *, labels: dict[str, str] | None = None) -> list[str]:
    """Stored filters (SnapshotFilters.as_json) as short phrases for people; only what narrows the selection."""
    labels = labels or {}
    criteria = filters.get("criteria", [OVERALL])
    parts = [f"criteria: {', '.join(labels.get(c, c) if c else 'overall' for c in criteria) if criteria else 'all'}"]
    if filters.get("sources"):
        parts.append(f"sources: {', '.join(filters['sources'])}")
    if filters.get("since") or filters.get("until"):
        parts.append(f"dates: {filters.get('since') or '…'} to {filters.get('until') or '…'}")
    if filters.get("batch_ids"):
        parts.append(f"batches: {', '.join(map(str, filters['batch_ids']))}")
    if filters.get("min_agreement") is not None:
        parts.append(f"agreement ≥ {filters['min_agreement']:g}")
    if filters.get("exclude_gold"):
        parts.append("gold tasks left out")
    if ids := filters.get("exclude_annotator_ids"):
        parts.append(f"{len(ids)} annotator(s) left out")
    return parts


def criterion_labels(*, project: Project) -> dict[str, str]:
    """Criterion key -> label, the newest rubric version's label winning."""
    rows = Criterion.objects.filter(rubric__project=project).order_by("rubric__version").values_list("key", "label")
    return dict(rows)


def _annotator_ids(*, project: Project, refs: Iterable[int | str]) -> tuple[int, ...]:
    users = get_user_model().objects.filter(memberships__project=project)
    ids = set()
    for ref in refs:
        ref = str(ref).strip()
        number = ascii_int(ref)
        match = users.filter(Q(username=ref) | Q(pk=number) if number is not None else Q(username=ref)).first()
        if match is None:
            raise SnapshotError(f"No annotator {ref!r} in project “{project.name}”.")
        ids.add(match.pk)
    return tuple(sorted(ids))
