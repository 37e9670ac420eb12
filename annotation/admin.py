"""Django admin for the annotation models (browsing and fixing rows; the work itself goes through services)."""
from django.contrib import admin
from django.db.models import F

from .models import (Adjudication, Assignment, AuditEvent, Batch, Criterion, ImportJob, Judgement, Membership,
                     PiiFinding, PreferencePair, Project, Prompt, Response, Rubric, Task, TaskSlot, Webhook,
                     WebhookDelivery)
from .pii.services import project_set_pii_policy
from .services.projects import membership_changed_record


def _membership_before(pk) -> dict | None:
    return Membership.objects.filter(pk=pk).values("role", "user", "project").first() if pk else None


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ["name", "mode", "overlap", "lease_seconds", "gold_rate", "allow_ties", "created_at"]
    list_filter = ["mode", "allow_ties", "rationale_required"]
    search_fields = ["name", "description"]
    inlines = [MembershipInline]

    def save_model(self, request, obj, form, change):
        """A PII policy change goes through the policy service (audited, applied to stored text); the Django
        admin is for site staff, so saving here confirms an irreversible mask-import."""
        before = Project.objects.filter(pk=obj.pk).values_list("pii_policy", flat=True).first() if change else None
        wanted = obj.pii_policy
        if change and before != wanted:
            obj.pii_policy = before
        super().save_model(request, obj, form, change)
        if change and before != wanted:
            project_set_pii_policy(project=obj, policy=wanted, user=request.user, confirm=True, via="admin")

    def save_formset(self, request, form, formset, change):
        """Role changes made in the members inline go to the audit trail like any other."""
        if formset.model is not Membership:
            return super().save_formset(request, form, formset, change)
        before = {id(f.instance): _membership_before(f.instance.pk) for f in formset.forms}
        super().save_formset(request, form, formset, change)
        for obj in formset.new_objects:
            membership_changed_record(membership=obj, before=None, by=request.user)
        for obj, _ in formset.changed_objects:
            membership_changed_record(membership=obj, before=before.get(id(obj)), by=request.user)
        for obj in formset.deleted_objects:
            membership_changed_record(membership=obj, before=before.get(id(obj)), by=request.user)

    def get_readonly_fields(self, request, obj=None):
        # Tasks and judgements are shaped by the mode; changing it under them would mislabel them.
        if obj is not None and obj.tasks.exists():
            return ["mode"]
        return []

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "rubric":
            project_id = request.resolver_match.kwargs.get("object_id") if request.resolver_match else None
            kwargs["queryset"] = Rubric.objects.filter(project_id=project_id).select_related("project")
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "project", "role", "created_at"]
    list_filter = ["role", "project"]
    search_fields = ["user__username", "project__name"]
    autocomplete_fields = ["user", "project"]

    def save_model(self, request, obj, form, change):
        before = _membership_before(obj.pk) if change else None
        super().save_model(request, obj, form, change)
        membership_changed_record(membership=obj, before=before, by=request.user)

    def delete_model(self, request, obj):
        before = _membership_before(obj.pk)
        super().delete_model(request, obj)
        membership_changed_record(membership=obj, before=before, by=request.user)

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class UsedRubricReadOnly:
    """A rubric version that judgements use is never edited in place: make a new version instead."""

    def _used(self, obj) -> bool:
        rubric = obj if isinstance(obj, Rubric) else getattr(obj, "rubric", None)
        return rubric is not None and rubric.pk is not None and rubric.is_used

    def has_change_permission(self, request, obj=None):
        return not self._used(obj) and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None):
        return not self._used(obj) and super().has_delete_permission(request, obj)

    def has_add_permission(self, request, obj=None):
        if isinstance(self, admin.TabularInline):
            return not self._used(obj) and super().has_add_permission(request, obj)
        return super().has_add_permission(request)


class CriterionInline(UsedRubricReadOnly, admin.TabularInline):
    model = Criterion
    extra = 0


@admin.register(Rubric)
class RubricAdmin(UsedRubricReadOnly, admin.ModelAdmin):
    list_display = ["name", "project", "version", "created_at"]
    list_filter = ["project"]
    inlines = [CriterionInline]


@admin.register(Criterion)
class CriterionAdmin(UsedRubricReadOnly, admin.ModelAdmin):
    list_display = ["key", "label", "rubric", "position"]
    list_filter = ["rubric__project"]
    search_fields = ["key", "label"]


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ["name", "project", "source", "created_by", "created_at", "paused"]
    list_filter = ["project", "paused"]
    search_fields = ["name", "source"]
    date_hierarchy = "created_at"


@admin.register(ImportJob)
class ImportJobAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "kind", "filename", "status", "progress", "batch", "created_by", "created_at"]
    list_filter = ["status", "kind", "project"]

    # Jobs are created by uploads (the import page, the API) and run by workers, never here.
    def has_add_permission(self, request):
        return False


@admin.register(Prompt)
class PromptAdmin(admin.ModelAdmin):
    list_display = ["id", "short_text", "project", "external_id", "created_at"]
    list_filter = ["project"]
    search_fields = ["text", "external_id", "content_hash"]
    readonly_fields = ["content_hash"]

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:100]


@admin.register(Response)
class ResponseAdmin(admin.ModelAdmin):
    list_display = ["id", "short_text", "source_model", "prompt_id", "created_at"]
    list_filter = ["source_model", "prompt__project"]
    search_fields = ["text", "source_model", "content_hash"]
    raw_id_fields = ["prompt"]
    readonly_fields = ["content_hash"]

    @admin.display(description="text")
    def short_text(self, obj):
        return obj.text[:100]


class TaskSlotInline(admin.TabularInline):
    model = TaskSlot
    extra = 0
    raw_id_fields = ["response"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "status", "priority", "completed_judgements", "target_judgements", "is_gold",
                    "batch", "external_id", "created_at"]
    list_filter = ["project", "status", "is_gold", "batch"]
    search_fields = ["external_id", "prompt__text", "content_hash"]
    raw_id_fields = ["prompt", "batch"]
    list_select_related = ["project", "batch"]
    inlines = [TaskSlotInline]
    actions = ["retire", "reopen"]

    @admin.action(description="Retire selected tasks (no longer served)")
    def retire(self, request, queryset):
        queryset.update(status=Task.Status.RETIRED)

    @admin.action(description="Reopen selected tasks that still need judgements")
    def reopen(self, request, queryset):
        # A task with all its judgements would sit open and never be served again; it stays complete.
        room = queryset.filter(completed_judgements__lt=F("target_judgements"))
        reopened = room.update(status=Task.Status.OPEN)
        full = queryset.count() - reopened
        self.message_user(request, f"Reopened {reopened} task(s)." + (
            f" {full} already have all their judgements; raise their target to reopen them." if full else ""))


@admin.register(Assignment)
class AssignmentAdmin(admin.ModelAdmin):
    list_display = ["id", "task_id", "annotator", "project", "status", "created_at", "expires_at", "finished_at"]
    list_filter = ["project", "status"]
    search_fields = ["annotator__username", "skip_reason"]
    raw_id_fields = ["task", "annotator"]
    list_select_related = ["annotator", "project"]


@admin.register(Judgement)
class JudgementAdmin(admin.ModelAdmin):
    list_display = ["id", "task_id", "annotator", "strength", "both_bad", "is_surplus", "gold_correct",
                    "duration_ms", "created_at"]
    list_filter = ["task__project", "is_surplus", "both_bad", "gold_correct"]
    search_fields = ["annotator__username", "rationale"]
    raw_id_fields = ["task", "assignment", "annotator", "rubric"]
    list_select_related = ["annotator"]
    date_hierarchy = "created_at"


@admin.register(PreferencePair)
class PreferencePairAdmin(admin.ModelAdmin):
    list_display = ["id", "project", "source", "criterion", "margin", "is_tie", "annotator", "created_at"]
    list_filter = ["project", "source", "criterion", "is_tie"]
    search_fields = ["prompt__text", "dedupe_key"]
    raw_id_fields = ["prompt", "chosen", "rejected", "judgement", "annotator", "batch"]
    list_select_related = ["project", "annotator"]
    date_hierarchy = "created_at"


@admin.register(Adjudication)
class AdjudicationAdmin(admin.ModelAdmin):
    """Read-only here: verdicts are recorded on the project's task page or the API (one service)."""

    list_display = ["task", "decided_by", "updated_at"]
    search_fields = ["task__id", "note"]
    readonly_fields = ["task", "ranking", "note", "decided_by", "created_at", "updated_at"]

    def has_add_permission(self, request):
        return False


class ReadOnlyAdmin(admin.ModelAdmin):
    """Records written by the app alone: browsable, never added, changed or deleted here."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    list_display = ["at", "username", "action", "project_name", "target_type", "target_id"]
    list_filter = ["action"]
    search_fields = ["username", "project_name", "action", "target_id"]
    date_hierarchy = "at"


@admin.register(PiiFinding)
class PiiFindingAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "project", "kind", "hidden_value", "source", "line", "field", "masked"]
    list_filter = ["kind", "masked"]


@admin.register(Webhook)
class WebhookAdmin(admin.ModelAdmin):
    list_display = ["project", "url", "active", "created_at"]
    list_filter = ["active"]
    readonly_fields = ["secret"]


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "webhook", "event", "attempt", "status", "response_code", "will_retry"]
    list_filter = ["status", "event"]
