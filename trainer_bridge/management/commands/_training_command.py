"""train_sft and train_rm: the same command with the settings of each kind."""

from typing import Any

from core.commands import DomainCommand, user_named
from curation.selectors import snapshot_get
from registry.selectors import model_named
from trainer_bridge.management.commands._jobs import add_run_arguments, follow
from trainer_bridge.services.training import training_job_start


class TrainingCommand(DomainCommand):
    kind = ""

    def add_arguments(self, parser) -> None:
        parser.add_argument("--snapshot", required=True, help="snapshot id (or its name, when unique)")
        parser.add_argument("--model", required=True, help="model version to start from (id or name)")
        parser.add_argument("--output-name", default="", help="name of the model it registers")
        parser.add_argument("--max-steps", type=int)
        parser.add_argument("--epochs", type=int)
        parser.add_argument("--lr", type=float)
        parser.add_argument("--warmup-steps", type=int)
        parser.add_argument("--max-len", type=int)
        parser.add_argument("--eval-every", type=int)
        parser.add_argument("--checkpoint-every", type=int)
        parser.add_argument("--log-every", type=int)
        parser.add_argument("--seed", type=int)
        engine = parser.add_argument_group("how it runs")
        engine.add_argument("--processes", type=int, help="torchrun processes (GPUs, or CPU processes)")
        engine.add_argument("--gradient-accumulation-steps", type=int)
        engine.add_argument("--gradient-checkpointing", action="store_true", default=None)
        engine.add_argument("--lora-r", type=int, help="LoRA rank: trains an adapter instead of every weight")
        engine.add_argument("--lora-alpha", type=int)
        engine.add_argument(
            "--qlora", action="store_true", default=None, help="4-bit base (GPU, bitsandbytes)"
        )
        engine.add_argument("--fsdp", action="store_true", default=None, help="shard a full fine-tune (FSDP)")
        engine.add_argument("--deepspeed", help="a DeepSpeed config file (deploy/deepspeed/zero3.json)")
        parser.add_argument("--user", help="username recorded as the job's author")
        add_run_arguments(parser)

    def config(self, options: dict[str, Any]) -> dict[str, Any]:
        names = ["max_steps", "epochs", "lr", "warmup_steps", "max_len", "eval_every", "checkpoint_every"]
        engine = [
            "processes", "gradient_accumulation_steps", "gradient_checkpointing", "lora_r", "lora_alpha",
            "qlora", "fsdp", "deepspeed",
        ]  # fmt: skip
        wanted = [*names, "log_every", "seed", *engine]
        return {name: options[name] for name in wanted if options[name] is not None}

    def data_options(self, options: dict[str, Any]) -> dict[str, Any]:
        return {}

    def handle(self, *args: Any, **options: Any) -> None:
        job = training_job_start(
            snapshot=snapshot_get(snapshot_id=options["snapshot"]),
            base_model=model_named(options["model"]),
            kind=self.kind,
            user=None,
            config=self.config(options),
            data_options=self.data_options(options),
            output_name=options["output_name"],
        )
        if user := user_named(options["user"]):
            type(job).objects.filter(pk=job.pk).update(created_by=user)
        follow(job, options=options, stdout=self.stdout)
