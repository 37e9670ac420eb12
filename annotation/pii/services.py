"""The project PII policy (Project.pii_policy) applied where text enters and leaves Verdict.

- imports (services/imports, services/tasks): `import_scrubber` runs on every parsed JSON row
  *before* its content hashes are computed: under mask-import the strings are replaced by
  placeholders (so duplicates still collapse and the raw value is never stored); under flag and
  mask-export they are only scanned. Every finding becomes a PiiFinding row with the value partly
  hidden, and the import result counts findings per kind.
- snapshots (rewardtrain/snapshots): `snapshot_row_scrub` masks a snapshot row's texts under
  mask-export, so every artifact and export format derived from it is masked too; counts per kind go
  into the snapshot's stats under every policy but off.
- the annotator workspace: `text_for_annotator` masks whatever the policy.
"""
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field

import phonenumbers
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.db.models import Count

from annotation.models import Batch, PiiFinding, Project
from annotation.services.audit import audit_record

from .detectors import DEFAULT_PHONE_REGIONS, KINDS, PLACEHOLDERS, find, mask, partly_hidden

Policy = Project.PiiPolicy
# mask-import too: text stored before the switch is masked by a job (annotation/pii/apply.py), and an
# export cut meanwhile must not hold what that job has not reached yet.
MASKED_WHEN_EXPORTED = (Policy.MASK_EXPORT, Policy.MASK_IMPORT)
# Keys of an imported row that name things rather than hold text: never rewritten.
_KEEP_KEYS = {"id", "model", "role"}


def _region() -> tuple[str, ...]:
    """VERDICT_PII_PHONE_REGIONS, checked: an unknown region code is an error that names it."""
    regions = tuple(getattr(settings, "VERDICT_PII_PHONE_REGIONS", ()) or ())
    unknown = [r for r in regions if r not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ImproperlyConfigured(f"VERDICT_PII_PHONE_REGIONS holds unknown region code(s) {', '.join(unknown)}; "
                                   "use ISO 3166 two-letter codes such as US,GB,DE.")
    return regions or DEFAULT_PHONE_REGIONS


def pii_mask(text: str) -> tuple[str, Counter]:
    return mask(text, phone_region=_region())


def text_for_annotator(text: str) -> str:
    """What an annotator is shown: placeholders instead of PII, under every policy."""
    return pii_mask(text)[0] if text else text


def counts_out(counts: Counter) -> dict[str, int]:
    """Counts per kind as stored and shown: every kind, in a fixed order, zeros included."""
    return {kind: int(counts.get(kind, 0)) for kind in KINDS}


@dataclass
class ImportScrubber:
    """Scans (and under mask-import masks) the strings of each imported row; collects the findings."""

    project: Project
    source: str
    counts: Counter = field(default_factory=Counter)
    pending: list[PiiFinding] = field(default_factory=list)

    @property
    def active(self) -> bool:
        return self.project.pii_policy != Policy.OFF

    @property
    def masking(self) -> bool:
        return self.project.pii_policy == Policy.MASK_IMPORT

    def row(self, obj, *, line: int | None = None):
        """The row to parse (masked under mask-import); findings are kept until `flush`."""
        if not self.active:
            return obj
        return self._walk(obj, "", line)

    def _walk(self, value, path: str, line):
        if isinstance(value, str):
            return self._text(value, path, line)
        if isinstance(value, dict):
            return {k: (v if k in _KEEP_KEYS else self._walk(v, f"{path}.{k}" if path else str(k), line))
                    for k, v in value.items()}
        if isinstance(value, list):
            return [self._walk(v, f"{path}[{i}]", line) for i, v in enumerate(value)]
        return value

    def _text(self, text: str, path: str, line) -> str:
        findings = find(text, phone_region=_region())
        if not findings:
            return text
        for f in findings:
            self.counts[f.kind] += 1
            self.pending.append(PiiFinding(project=self.project, source=self.source[:500], line=line,
                                           field=path[:200], kind=f.kind, masked=self.masking,
                                           hidden_value=partly_hidden(f.value, f.kind)[:200]))
        if not self.masking:
            return text
        return pii_mask(text)[0]

    def flush(self, batch: Batch | None) -> None:
        """Stores the findings (inside the import's transaction: a failed import keeps none)."""
        for finding in self.pending:
            finding.batch = batch
        PiiFinding.objects.bulk_create(self.pending, batch_size=1000)
        self.pending = []


def import_scrubber(*, project: Project, source: str) -> ImportScrubber:
    return ImportScrubber(project=project, source=source)


class PiiPolicyError(ValueError):
    """The policy change is refused (unknown policy, or an irreversible one not confirmed); nothing changed."""


@transaction.atomic
def project_set_pii_policy(*, project: Project, policy: str, user=None, confirm: bool = False,
                           via: str = "") -> Project:
    """Sets the policy and applies it to what is already stored (annotation/pii/apply.py: a job scans
    texts that were never scanned and, for mask-import, masks every stored text in place). Switching to
    mask-import on a project with stored text is irreversible: PiiPolicyError unless `confirm`.
    Setting the same policy again re-queues the last job if it failed."""
    from .apply import pii_apply_enqueue, pii_apply_latest, pii_apply_plan, pii_stored_texts

    if policy not in Policy.values:
        raise PiiPolicyError(f"Unknown PII policy {policy!r}; choose one of {', '.join(Policy.values)}.")
    locked = Project.objects.select_for_update().get(pk=project.pk)
    before = locked.pii_policy
    if before != policy:
        if policy == Policy.MASK_IMPORT and not confirm and (stored := pii_stored_texts(project=locked)):
            raise PiiPolicyError(
                f"Mask on import rewrites the {stored} text(s) already stored in this project with placeholders "
                "([EMAIL], [PHONE], …): the raw values are gone for good. Confirm to go ahead "
                "(tick the confirmation on the page, \"confirm\": true in the API, --yes with the command).")
        plan = pii_apply_plan(project=locked, before=before, after=policy)
        locked.pii_policy = policy
        locked.save(update_fields=["pii_policy"])
        detail = {"from": before, "to": policy, **({"via": via} if via else {})}
        if plan:
            job = pii_apply_enqueue(project=locked, plan=plan, policy=policy, user=user)
            detail["apply_job"] = job.pk
        audit_record(action="pii_policy.changed", user=user, project=locked, target=locked, detail=detail)
    else:
        last = pii_apply_latest(project=locked)
        if last is not None and last.status == last.Status.FAILED and last.policy == policy:
            pii_apply_enqueue(project=locked, plan={"record": last.record, "mask": last.mask,
                                                    "record_since": last.record_since}, policy=policy, user=user)
    project.pii_policy = policy
    return project


def pii_findings(*, project: Project, kind: str | None = None):
    """The project's findings, newest first (the admin page); never the raw values."""
    rows = PiiFinding.objects.filter(project=project).select_related("batch")
    return rows.filter(kind=kind) if kind else rows


def pii_finding_counts(*, project: Project, field: str | None = None) -> dict[str, int]:
    """Findings per kind (every kind, zeros included); `field="rationale"` counts annotators' rationales only."""
    rows = PiiFinding.objects.filter(project=project)
    if field:
        rows = rows.filter(field=field)
    counts = dict(rows.order_by().values_list("kind").annotate(n=Count("id")))
    return counts_out(Counter(counts))


# --- annotators' rationales ------------------------------------------------------------------------

def rationale_scrub(*, project: Project, rationale: str) -> tuple[str, list[PiiFinding]]:
    """The rationale to store (masked under mask-import) and its findings, unsaved (the judgement's id
    goes into their source once it exists; see rationale_findings_save). Nothing under the off policy."""
    if project.pii_policy == Policy.OFF or not rationale:
        return rationale, []
    findings = [PiiFinding(project=project, field="rationale", kind=f.kind, masked=project.pii_policy == Policy.MASK_IMPORT,
                           hidden_value=partly_hidden(f.value, f.kind)[:200])
                for f in find(rationale, phone_region=_region())]
    if findings and project.pii_policy == Policy.MASK_IMPORT:
        return pii_mask(rationale)[0], findings
    return rationale, findings


def rationale_findings_save(*, judgement_id: int, findings: list[PiiFinding]) -> None:
    for f in findings:
        f.source = f"judgement {judgement_id}"
    PiiFinding.objects.bulk_create(findings)


# --- snapshots --------------------------------------------------------------------------------

@dataclass
class SnapshotScrubber:
    """Masks (mask-export) or counts (flag, mask-import: the placeholders stored) a snapshot's texts.

    A prompt or response text repeats across the rows of its comparisons; each distinct text is
    scanned once (a small cache keyed by id) and counted once per row it appears in."""

    policy: str
    # mask-import with its rewrite of stored text not done yet (annotation/pii/apply.py): mask here too
    stored_unmasked: bool = False
    counts: Counter = field(default_factory=Counter)
    _cache: dict = field(default_factory=dict)

    def _scan(self, key, text: str) -> tuple[str, Counter]:
        hit = self._cache.get(key)
        if hit is None or hit[0] != text:
            if self.policy == Policy.MASK_IMPORT and not self.stored_unmasked:
                masked, counts = text, Counter()  # everything stored is masked already: count placeholders
            else:
                masked, counts = pii_mask(text)
            if self.policy == Policy.MASK_IMPORT:  # the placeholders stored count as what they replaced
                counts.update({k: text.count(p) for k, p in PLACEHOLDERS.items() if p in text})
            hit = (text, masked, counts)
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[key] = hit
        return hit[1], hit[2]

    def row(self, row: dict) -> dict:
        if self.policy == Policy.OFF:
            return row
        out = dict(row)
        for name, key in (("prompt", ("p", row["prompt_id"])), ("chosen", ("r", row["chosen_id"])),
                          ("rejected", ("r", row["rejected_id"]))):
            masked, counts = self._scan(key, row[name] or "")
            self.counts.update(counts)
            if self.policy in MASKED_WHEN_EXPORTED:
                out[name] = masked
        if row.get("prompt_messages"):
            messages = []
            for i, m in enumerate(row["prompt_messages"]):
                masked, _ = self._scan(("m", row["prompt_id"], i), m["content"])
                messages.append({**m, "content": masked if self.policy in MASKED_WHEN_EXPORTED else m["content"]})
            out["prompt_messages"] = messages
        return out

    def rows(self, rows) -> Iterator[dict]:
        for row in rows:
            yield self.row(row)

    def stats(self) -> dict:
        return {"policy": self.policy, "masked": self.policy in (Policy.MASK_EXPORT, Policy.MASK_IMPORT),
                "counts": counts_out(self.counts)}


def snapshot_scrubber(*, project: Project) -> SnapshotScrubber:
    # the policy as stored now, not as the caller's (possibly older) project object says
    policy = Project.objects.values_list("pii_policy", flat=True).get(pk=project.pk)
    unmasked = False
    if policy == Policy.MASK_IMPORT:
        from .apply import pii_apply_latest

        job = pii_apply_latest(project=project)
        unmasked = job is not None and job.mask and job.status != job.Status.DONE
    return SnapshotScrubber(policy=policy, stored_unmasked=unmasked)


def export_masks(*, project: Project, snapshot_stats: dict | None) -> bool:
    """Whether an export of a stored snapshot must be masked as it streams: the project masks exports now
    but the snapshot was cut unmasked (before the policy changed)."""
    return project.pii_policy in MASKED_WHEN_EXPORTED and not ((snapshot_stats or {}).get("pii") or {}).get("masked")


# --- API reads of stored text (tasks, pairs) ------------------------------------------------------

_TEXT_KEYS = {"text", "content", "rationale"}


def reads_masked_for(*, project: Project, user) -> bool:
    """Under mask-export only project admins read the raw text; the tasks and pairs APIs mask it for
    everyone else (ML engineers export through them too)."""
    from annotation.permissions import MANAGE_ROLES, has_role

    return project.pii_policy == Policy.MASK_EXPORT and not has_role(user=user, project=project, roles=MANAGE_ROLES)


def masked_out(data):
    """Serialized API output with the strings under "text" and "content" keys masked."""
    if isinstance(data, dict):
        return {k: (pii_mask(v)[0] if k in _TEXT_KEYS and isinstance(v, str) else masked_out(v))
                for k, v in data.items()}
    if isinstance(data, list):
        return [masked_out(v) for v in data]
    return data
