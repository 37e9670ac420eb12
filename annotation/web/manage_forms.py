"""Forms of the project admin's pages. They only turn posted text into typed values; the rules
(ranges, a unique name, max overlap >= overlap, ...) are services.projects.project_settings_clean's,
shared with the API, and its SettingsInvalid lands on the field it names."""
from django import forms
from django.urls import reverse_lazy

from annotation.models import Membership, Project

# service field -> form field, where the page shows a setting differently (a percent, lines of text)
FORM_FIELD = {"gold_rate": "gold_rate_percent", "dispute_threshold": "dispute_threshold_percent"}


class ProjectSettingsForm(forms.Form):
    name = forms.CharField(max_length=200)
    description = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}))
    mode = forms.ChoiceField(choices=Project.Mode.choices, help_text="Fixed once the project has tasks.")
    instructions = forms.CharField(required=False, widget=forms.Textarea(attrs={
        "rows": 10, "hx-post": reverse_lazy("markdown-preview"), "hx-trigger": "input changed delay:400ms",
        "hx-target": "#instructions-preview"}),
                                   help_text="Markdown, shown to annotators beside every task.")
    overlap = forms.IntegerField(label="Overlap (judgements wanted per task)",
                                 help_text="Applies to tasks imported from now on.")
    lease_seconds = forms.IntegerField(label="Lease (seconds an annotator holds a task)")
    gold_rate_percent = forms.FloatField(label="Gold rate (%)", help_text="Share of requests for work that get a "
                                                                          "gold task first.")
    allow_ties = forms.BooleanField(required=False, label="Allow ties")
    allow_both_bad = forms.BooleanField(required=False, label="Offer “both bad”")
    rationale_required = forms.BooleanField(required=False, label="Require a rationale")
    strength_scale = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}),
                                     label="Strength scale", help_text="One label per line, weakest first; "
                                                                       "empty for no strength question.")
    adaptive_overlap = forms.BooleanField(required=False, label="Adaptive overlap: ask more annotators on "
                                                                "disputed tasks")
    max_overlap = forms.IntegerField(label="Maximum overlap", help_text="Adaptive overlap never goes past it.")
    dispute_threshold_percent = forms.FloatField(
        label="Dispute threshold (%)", help_text="A task is disputed when more than this share of its judgements "
                                                 "differ from its most common answer (25: a 2–1 split is disputed).")

    @classmethod
    def initial_for(cls, project: Project | None) -> dict:
        project = project or Project(max_overlap=5)
        return {"name": project.name, "description": project.description, "mode": project.mode,
                "instructions": project.instructions, "overlap": project.overlap,
                "lease_seconds": project.lease_seconds, "gold_rate_percent": project.gold_rate_percent,
                "allow_ties": project.allow_ties, "allow_both_bad": project.allow_both_bad,
                "rationale_required": project.rationale_required,
                "strength_scale": "\n".join(project.strength_scale or []),
                "adaptive_overlap": project.adaptive_overlap, "max_overlap": project.max_overlap,
                "dispute_threshold_percent": f"{round(project.dispute_threshold * 100, 6):g}"}

    def changes(self) -> dict:
        """The cleaned form as service input (call after is_valid())."""
        d = dict(self.cleaned_data)
        d["gold_rate"] = d.pop("gold_rate_percent") / 100
        d["dispute_threshold"] = d.pop("dispute_threshold_percent") / 100
        d["strength_scale"] = [line.strip() for line in d["strength_scale"].splitlines() if line.strip()]
        return d

    def add_service_error(self, exc) -> None:
        field = FORM_FIELD.get(exc.field, exc.field)
        message = exc.message
        if exc.field in FORM_FIELD:  # the service speaks in fractions, the page in percent
            message = "must be a percent from 0 to 100" + (" (not included)." if exc.field == "dispute_threshold"
                                                           else ".")
        self.add_error(field if field in self.fields else None, message)


class MemberAddForm(forms.Form):
    username = forms.CharField(max_length=150)
    role = forms.ChoiceField(choices=Membership.Role.choices)
    create_user = forms.BooleanField(required=False, label="Create this user (a one-time password is shown once)")


def criteria_from_post(data) -> list[dict]:
    """The rubric form's rows (key-N, label-N, description-N) as criteria; rows without a key are dropped."""
    rows = []
    indexes = sorted({int(k.split("-", 1)[1]) for k in data if k.startswith("key-") and k[4:].isdigit()})
    for i in indexes:
        key = data.get(f"key-{i}", "").strip()
        if key:
            rows.append({"key": key, "label": data.get(f"label-{i}", "").strip() or key.replace("_", " ").title(),
                         "description": data.get(f"description-{i}", "").strip()})
    return rows
