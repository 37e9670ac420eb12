import os

from django.core.files.storage import default_storage
from django.core.management.base import BaseCommand, CommandError

from annotation.management.base import project_or_error
from rewardtrain.models import ScoringJob
from rewardtrain.scoring.jobs import scoring_job_create, scoring_job_execute, scoring_job_result_name
from rewardtrain.scoring.services import ScoringError


def _rule(text: str) -> dict:
    mode, _, value = text.partition("=")
    name = {"top_k": "k", "threshold": "threshold", "top_percent": "percent"}.get(mode)
    if name is None or not value:
        raise CommandError(f"--curate: expected top_k=K, threshold=T or top_percent=P, got {text!r}")
    return {"mode": mode, name: value}


class Command(BaseCommand):
    help = ("Scores a JSONL file of {prompt, response} or {prompt, responses} rows with the project's active reward "
            "model (or --model), in this process with a progress bar: the same job as the Scoring page and "
            "POST /api/v1/projects/{id}/scoring-jobs/, listed there too. --curate keeps the best rows; "
            "--baseline compares FILE (policy B) with a baseline file (policy A).")

    def add_arguments(self, parser):
        parser.add_argument("project", help="project name or id")
        parser.add_argument("file", help="JSONL or JSONL.gz")
        parser.add_argument("--out", help="result file (default: FILE with .scored/.curated/.ab.jsonl)")
        parser.add_argument("--model", type=int, metavar="ID", help="model version id (default: the active one)")
        group = parser.add_mutually_exclusive_group()
        group.add_argument("--curate", metavar="RULE", help="top_k=K (per prompt), threshold=T or top_percent=P")
        group.add_argument("--baseline", metavar="A_FILE", help="policy A's responses to the same prompts")

    def handle(self, *args, project, file, **o):
        project_obj = project_or_error(project)
        kind = ScoringJob.Kind.CURATE if o["curate"] else ScoringJob.Kind.AB if o["baseline"] else ScoringJob.Kind.SCORE
        paths = [o["baseline"], file] if o["baseline"] else [file]
        handles = []
        try:
            for path in paths:
                try:
                    handles.append(open(path, "rb"))
                except (FileNotFoundError, IsADirectoryError):
                    raise CommandError(f"{path}: no such file")
            job = scoring_job_create(project=project_obj, kind=kind, files=handles, model_id=o["model"],
                                     params=_rule(o["curate"]) if o["curate"] else None, enqueue=False)
        except ScoringError as exc:
            raise CommandError(str(exc))
        finally:
            for handle in handles:
                handle.close()
        total = sum(f["responses"] for f in job.params["files"])
        self.stdout.write(f"Scoring job {job.pk}: {kind} with model version {job.model_version.version}, "
                          f"{total} responses.")
        from tqdm import tqdm

        with tqdm(total=total, unit="resp", file=self.stderr._out) as bar:
            scoring_job_execute(job_id=job.pk, progress=lambda share: bar.update(round(share * total) - bar.n))
        job.refresh_from_db()
        if job.status != ScoringJob.Status.SUCCEEDED:
            raise CommandError(f"Scoring job {job.pk} failed: {job.error}")
        out = o["out"] or os.path.join(os.path.dirname(file), scoring_job_result_name(job=job))
        with default_storage.open(job.result, "rb") as src, open(out, "wb") as dst:
            for chunk in iter(lambda: src.read(1 << 20), b""):
                dst.write(chunk)
        self._summary(job)
        self.stdout.write(self.style.SUCCESS(f"Wrote {out}"))

    def _summary(self, job: ScoringJob) -> None:
        s = job.summary
        if job.kind == ScoringJob.Kind.SCORE:
            r = s["reward"]
            self.stdout.write(f"{s['rows']} rows, {s['responses']} responses; reward mean {r['mean']:.3f}, "
                              f"std {r['std']:.3f}, range [{r['min']:.3f}, {r['max']:.3f}]")
        elif job.kind == ScoringJob.Kind.CURATE:
            self.stdout.write(f"kept {s['kept']} of {s['responses']} responses ({s['dropped']} dropped) "
                              f"over {s['prompts']} prompts")
        else:
            low, high = s["ci95"]
            self.stdout.write(f"B wins {100 * s['win_rate_b']:.1f}% of {s['prompts_compared']} prompts "
                              f"(95% CI {100 * low:.1f}-{100 * high:.1f}%; {s['wins_b']} wins, {s['ties']} ties, "
                              f"{s['wins_a']} losses); {s['only_in_a']} prompts only in A, {s['only_in_b']} only in B")
