"""Training jobs on the engines: a LoRA job registers an adapter that merges into a model that writes;
cancel ends the training processes; the engine options are checked before a job is queued."""

from pathlib import Path

import pytest
from django.test import Client

from core.errors import DomainError
from registry.models import ModelVersion
from tests.trainer_bridge.test_jobs_training import training_processes
from tests.workers import gpu_worker, wait_for
from trainer_bridge.jobs.lifecycle import job_cancel, job_run
from trainer_bridge.models import JobStatus, MergeJob, TrainingJob
from trainer_bridge.services.generation import generation_job_start
from trainer_bridge.services.training import training_job_start


def test_a_lora_sft_job_registers_an_adapter_whose_merged_model_generates(
    snapshot, base_model, admin, model_root
):
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="sft",
        user=admin,
        config={"max_steps": 3, "batch_size": 4, "lora_r": 4, "log_every": 1, "eval_every": 3, "lr": 1e-3},
    )
    job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == JobStatus.DONE, job.log
    adapter = job.output_model
    assert (adapter.kind, adapter.adapter_of, adapter.parent) == ("adapter", base_model, base_model)
    files = {p.name for p in Path(adapter.path).iterdir()}
    assert {"adapter_config.json", "adapter_model.safetensors"} <= files and "model.safetensors" not in files
    assert adapter.origin.snapshot == snapshot  # lineage as for a full fine-tune

    # an adapter does not run alone: generation refuses it and says what to do
    with pytest.raises(DomainError, match="is a LoRA adapter of tiny-base: merge it"):
        generation_job_start(project=snapshot.project, model_version=adapter, user=admin, k=2)

    client = Client()
    client.force_login(admin)
    answer = client.post(f"/api/models/{adapter.pk}/merge/", {"output_name": "tiny-sft-merged"})
    assert answer.status_code == 201, answer.content
    merge = MergeJob.objects.get(pk=answer.json()["id"])
    job_run(job_id=merge.pk)
    merge.refresh_from_db()
    assert merge.status == JobStatus.DONE, merge.log
    merged = merge.output_model
    assert (merged.name, merged.kind, merged.parent, merged.adapter_of) == (
        "tiny-sft-merged",
        "sft",
        adapter,
        None,
    )
    assert Path(merged.path, "model.safetensors").is_file()

    from trainer_bridge.ml.generate import generate_candidates

    answers = generate_candidates(
        merged.path, [[{"role": "user", "content": "Say hello."}]], k=2, max_new_tokens=8, seed=1
    )
    assert len(answers) == 1 and len(answers[0]) == 2 and all(isinstance(a, str) for a in answers[0])
    # a merge of a base model is refused
    again = client.post(f"/api/models/{base_model.pk}/merge/", {})
    assert again.status_code == 400 and "is not a LoRA adapter" in again.content.decode()


@pytest.mark.parametrize(
    ("config", "field", "says"),
    [
        ({"batch_size": 6, "processes": 4}, "batch_size", "does not split over 4 processes"),
        ({"qlora": True}, "qlora", "QLoRA needs bitsandbytes and a GPU"),
        ({"deepspeed": "deploy/deepspeed/zero3.json"}, "deepspeed", "DeepSpeed is not installed here"),
        ({"fsdp": True, "lora_r": 8}, "fsdp", "FSDP shards a full fine-tune"),
        ({"fsdp": "maybe"}, "fsdp", "fsdp must be true or false"),
    ],
)
def test_engine_options_no_worker_can_run_are_refused_before_queueing(
    snapshot, base_model, admin, model_root, config, field, says
):
    with pytest.raises(DomainError, match=says) as refused:
        training_job_start(snapshot=snapshot, base_model=base_model, kind="sft", user=admin, config=config)
    assert refused.value.field == field
    assert not TrainingJob.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_cancel_ends_the_training_process_group(snapshot, base_model, admin, celery_worker, model_root):
    gpu_worker(celery_worker, model_root)
    job = training_job_start(
        snapshot=snapshot,
        base_model=base_model,
        kind="sft",
        user=admin,
        config={
            "max_steps": 5000,
            "batch_size": 2,
            "log_every": 1,
            "eval_every": 5000,
            "checkpoint_every": 5000,
        },
    )
    job = wait_for(job, lambda j: j.progress_done >= 3)
    assert training_processes(job), job.log
    job_cancel(job=job, user=admin)
    job = wait_for(job, lambda j: j.status == JobStatus.CANCELLED, timeout=60)
    assert job.status == JobStatus.CANCELLED, job.log
    assert "the training processes were ended" in job.log
    assert not training_processes(job)
    assert job.progress_done < 5000 and not ModelVersion.objects.filter(made_by_job=job).exists()
