"""The Train form of the runs page: a snapshot and the few settings people change, with app defaults."""
from django import forms

from ..models import DatasetSnapshot


class TrainForm(forms.Form):
    snapshot = forms.ModelChoiceField(queryset=DatasetSnapshot.objects.none(), empty_label=None)
    epochs = forms.FloatField(initial=1.0, min_value=0.01, widget=forms.NumberInput(attrs={"step": "0.5"}))
    lr = forms.FloatField(initial=5e-5, min_value=1e-8, label="Learning rate",
                          widget=forms.NumberInput(attrs={"step": "any"}))
    max_steps = forms.IntegerField(required=False, min_value=1, help_text="Empty: as many as the epochs take.")
    seed = forms.IntegerField(initial=0)

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
