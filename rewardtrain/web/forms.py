"""The ML pages' forms: the snapshot filters (handed to the snapshot service) and the Train form."""
from django import forms
from django.contrib.auth import get_user_model

from annotation.models import Batch, Membership, PreferencePair, Project
from annotation.selectors.pairs import OVERALL_NAME
from rewardtrain.active.services import MAX_CANDIDATES_LIMIT, ROUND_MAX_SIZE, default_max_candidates
from rewardtrain.ml.acquisition import STRATEGIES
from rewardtrain.models import DatasetSnapshot
from rewardtrain.snapshots.filters import criterion_labels
from rewardtrain.training.config import CEILINGS
from rewardtrain.training.policy import POLICY_MAX


class SnapshotForm(forms.Form):
    criteria = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                         help_text="None ticked: the overall preference only.")
    sources = forms.MultipleChoiceField(required=False, widget=forms.CheckboxSelectMultiple,
                                        choices=PreferencePair.Source.choices,
                                        help_text="None ticked: both.")
    since = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    until = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    batches = forms.ModelMultipleChoiceField(queryset=Batch.objects.none(), required=False)
    min_agreement = forms.FloatField(required=False, min_value=0, max_value=1, label="Minimum agreement",
                                     widget=forms.NumberInput(attrs={"step": "0.05"}))
    exclude_gold = forms.BooleanField(required=False, label="Exclude gold tasks")
    exclude_annotators = forms.ModelMultipleChoiceField(queryset=get_user_model().objects.none(), required=False)
    aggregation = forms.ChoiceField(choices=DatasetSnapshot.Aggregation.choices, initial=DatasetSnapshot.Aggregation.EVERY)
    seed = forms.IntegerField(initial=0, min_value=-(2**31), max_value=2**31 - 1, label="Split seed")
    val_fraction = forms.FloatField(initial=0.1, min_value=0, max_value=0.99, label="Validation fraction",
                                    widget=forms.NumberInput(attrs={"step": "0.05"}))

    def __init__(self, *args, project: Project, **kwargs):
        super().__init__(*args, **kwargs)
        labels = criterion_labels(project=project)
        self.fields["criteria"].choices = [(OVERALL_NAME, "Overall preference"),
                                           *((k, f"{labels[k]} ({k})") for k in sorted(labels)),
                                           ("*", "Every criterion")]
        self.fields["batches"].queryset = Batch.objects.filter(project=project)
        self.fields["exclude_annotators"].queryset = get_user_model().objects.filter(
            memberships__project=project, memberships__role=Membership.Role.ANNOTATOR).distinct().order_by("username")


class TrainForm(forms.Form):
    snapshot = forms.ModelChoiceField(queryset=DatasetSnapshot.objects.none(), empty_label=None,
                                      help_text="Trains on its training split, validates on its validation split.")
    epochs = forms.FloatField(initial=1.0, min_value=0.01, max_value=CEILINGS["epochs"], widget=forms.NumberInput(attrs={"step": "any"}),
                              help_text="Passes over the training split; fractions allowed.")
    lr = forms.FloatField(initial=5e-5, min_value=1e-8, max_value=CEILINGS["lr"], label="Learning rate",
                          widget=forms.NumberInput(attrs={"step": "any"}), help_text="Peak learning rate, e.g. 5e-5.")
    max_steps = forms.IntegerField(required=False, min_value=1, max_value=CEILINGS["max_steps"], help_text="Empty: as many as the epochs take.")
    seed = forms.IntegerField(initial=0, min_value=0, max_value=2**32 - 1,
                              help_text="The same seed and snapshot give the same data order.")

    def __init__(self, *args, project, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["snapshot"].queryset = DatasetSnapshot.objects.filter(project=project, val_rows__gt=0)
        self.fields["snapshot"].label_from_instance = (
            lambda s: f"v{s.version} · {s.train_rows} train / {s.val_rows} val rows")

    def config(self) -> dict:
        d = self.cleaned_data
        config = {"epochs": d["epochs"], "lr": d["lr"], "seed": d["seed"]}
        if d["max_steps"]:
            config["max_steps"] = d["max_steps"]
        return config


class TrainingPolicyForm(forms.Form):
    """The retrain loop's settings (ML engineers); the policy service checks the values again."""

    retrain_every = forms.IntegerField(min_value=0, max_value=POLICY_MAX["retrain_every"], initial=0, label="Retrain after new judgements",
                                       help_text="0: off. A snapshot is cut and a run started when this many new "
                                                 "human judgements have come in since the last automatic run.")
    auto_promote = forms.BooleanField(required=False, label="Promote automatically when better")
    auto_promote_manual = forms.BooleanField(required=False, label="…also runs started by hand")
    promote_confidence = forms.FloatField(min_value=0.51, max_value=0.999, initial=0.95, label="Confidence",
                                          widget=forms.NumberInput(attrs={"step": "0.01"}))
    config = forms.JSONField(required=False, initial=dict, label="Config overrides (JSON)",
                             widget=forms.Textarea(attrs={"rows": 2}))
    acquire_after_promote = forms.BooleanField(required=False, label="Acquisition round after each promotion",
                                               help_text="Opens pool tasks chosen by the new model.")
    acquire_every_hours = forms.IntegerField(min_value=0, max_value=POLICY_MAX["acquire_every_hours"], initial=0,
                                             required=False,
                                             label="Acquisition round every N hours",
                                             help_text="0: off. Runs while the pool has tasks.")
    acquire_strategy = forms.ChoiceField(choices=[(s, s) for s in STRATEGIES], initial="dopt", required=False,
                                         label="Acquisition strategy")
    acquire_size = forms.IntegerField(min_value=1, max_value=POLICY_MAX["acquire_size"], initial=50, required=False,
                                      label="Tasks per automatic round")

    def clean(self):
        data = super().clean()
        for name in ("acquire_every_hours", "acquire_strategy", "acquire_size"):
            if data.get(name) in (None, ""):  # left empty: the policy keeps its value
                data.pop(name, None)
        return data

    def clean_config(self):
        return self.cleaned_data["config"] or {}


class AcquisitionForm(forms.Form):
    """Start an acquisition round; the service checks the values again."""

    strategy = forms.ChoiceField(choices=[(s, s) for s in STRATEGIES], initial="dopt",
                                 help_text="random: the control · uncertainty: closest calls (|Δr| smallest) · "
                                           "disagreement: bootstrap heads disagree · dopt: most information "
                                           "for the reward head (D-optimal)")
    size = forms.IntegerField(min_value=1, max_value=ROUND_MAX_SIZE, initial=50, label="Tasks to open")
    epsilon = forms.FloatField(min_value=0, max_value=1, initial=0.1, label="Random share (ε)",
                               widget=forms.NumberInput(attrs={"step": "0.05"}),
                               help_text="Share of the picks drawn uniformly, so the labels stay unbiased.")
    diversity = forms.FloatField(min_value=0, max_value=1, initial=0.3,
                                 widget=forms.NumberInput(attrs={"step": "0.05"}),
                                 help_text="How strongly picks similar to earlier picks are damped; 0 = off.")
    max_candidates = forms.IntegerField(min_value=0, max_value=MAX_CANDIDATES_LIMIT, required=False,
                                        label="Candidates scored at most",
                                        help_text="A larger pool is sampled uniformly at random; 0 = the whole "
                                                  "pool; empty = the server's default.")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["max_candidates"].initial = default_max_candidates()


class ScoringJobForm(forms.Form):
    """The Scoring page's upload: the service checks the files and the curation rule."""

    kind = forms.ChoiceField(choices=[("score", "Score every response"), ("curate", "Curate: keep the best"),
                                      ("ab", "Policy A/B: compare two files")], initial="score")
    file = forms.FileField(label="JSONL file (policy A for A/B)",
                           help_text='One row per line: {"prompt": …, "response": …} or {"prompt": …, "responses": [...]}; '
                                     ".jsonl or .jsonl.gz.")
    file_b = forms.FileField(required=False, label="Policy B file (A/B only)",
                             help_text="Responses of policy B to the same prompts; B's win rate over A is reported.")
    mode = forms.ChoiceField(required=False, label="Curation rule", initial="top_k",
                             choices=[("top_k", "Top k per prompt"), ("threshold", "Reward at or above a threshold"),
                                      ("top_percent", "Top p % of all responses")])
    k = forms.IntegerField(required=False, min_value=1, initial=1, label="k (top k per prompt)")
    threshold = forms.FloatField(required=False, label="Threshold (raw reward)")
    percent = forms.FloatField(required=False, min_value=0, max_value=100, initial=10, label="p (top p %)")
    model = forms.ModelChoiceField(queryset=None, required=False, empty_label="The active model",
                                   label="Model version")

    def __init__(self, *args, project: Project, **kwargs):
        from rewardtrain.models import ModelVersion

        super().__init__(*args, **kwargs)
        self.fields["model"].queryset = ModelVersion.objects.filter(project=project).order_by("-version")
        self.fields["model"].label_from_instance = lambda m: f"v{m.version} ({m.get_status_display().lower()})"

    def params(self) -> dict:
        from ..scoring.jobs import curation_rule_of

        return curation_rule_of(self.cleaned_data)


class CanaryImportForm(forms.Form):
    """The Monitoring page's canary upload: the service checks every line."""

    file = forms.FileField(label="Canary set (JSONL)",
                           help_text='One row per line: {"prompt": …, "response": …} or {"prompt": …, "responses": [...]}; '
                                     ".jsonl or .jsonl.gz. Replaces the current set.")
