import pytest
from django.core.management import CommandError, call_command

from labeling.models import Candidate
from registry.models import ModelVersion
from tests.factories import import_waiting_prompts
from trainer_bridge.models import GenerationJob, JobStatus, TrainingJob


def test_generate_inline_samples_k_candidates_per_waiting_prompt(
    make_project, base_model, model_root, capsys
):
    project = make_project(name="sums", kinds=["ranking"], k=2)
    prompt_ids = import_waiting_prompts(project, 3)

    call_command("generate", "--project", "sums", "--model", "tiny-base", "--max-new-tokens", "4", "--inline")

    job = GenerationJob.objects.get()
    assert job.status == JobStatus.DONE and job.prompt_ids == prompt_ids
    assert Candidate.objects.filter(prompt_id__in=prompt_ids).count() == 6
    assert job.log.splitlines()[-1] in capsys.readouterr().out  # the job's log is followed


def test_generate_names_what_is_missing(make_project, base_model):
    make_project(name="sums", kinds=["ranking"], k=2)
    with pytest.raises(CommandError, match="there is no model 'gpt-x'"):
        call_command("generate", "--project", "sums", "--model", "gpt-x", "--inline")
    with pytest.raises(CommandError, match="there is no project 'nope'"):
        call_command("generate", "--project", "nope", "--model", "tiny-base", "--inline")
    assert not GenerationJob.objects.exists()


@pytest.mark.parametrize(("command", "kind"), [("train_sft", "sft"), ("train_rm", "rm")])
def test_training_commands_run_a_job_and_register_its_model(snapshot, base_model, model_root, command, kind):
    call_command(
        command, "--snapshot", str(snapshot.pk), "--model", "tiny-base", "--max-steps", "2",
        "--output-name", f"{kind}-from-cli", "--inline",
    )  # fmt: skip

    job = TrainingJob.objects.get()
    assert (job.kind, job.status, job.progress_done) == (kind, JobStatus.DONE, 2)
    model = ModelVersion.objects.get(name=f"{kind}-from-cli")
    assert (model.kind, model.parent, model.origin.snapshot) == (kind, base_model, snapshot)


def test_a_training_command_refuses_an_unknown_snapshot(base_model):
    with pytest.raises(CommandError, match="there is no snapshot '404'"):
        call_command("train_rm", "--snapshot", "404", "--model", "tiny-base", "--inline")
    assert not TrainingJob.objects.exists()
