from typing import Any

from core.commands import DomainCommand, user_named
from labeling.access import project_named
from registry.selectors import model_named
from trainer_bridge.engines import ENGINES
from trainer_bridge.management.commands._jobs import add_run_arguments, follow
from trainer_bridge.services.generation import WHICH, generation_job_start


class Command(DomainCommand):
    help = "Start a generation job: K sampled candidates for each of a project's prompts, from a model."

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument("--model", required=True, help="model version id or name")
        parser.add_argument("--k", type=int, help="candidates per prompt (default: the project's K)")
        parser.add_argument(
            "--which", choices=WHICH, default="waiting", help="waiting: prompts with no task yet"
        )
        parser.add_argument("--source", default="", help="only prompts imported from this source")
        parser.add_argument("--limit", type=int, help="at most this many prompts")
        parser.add_argument("--max-new-tokens", type=int, default=256)
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--top-p", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument(
            "--engine",
            choices=ENGINES,
            default="auto",
            help="auto: the model's server if one answers, else Coach's loop; vllm: a vLLM server, started "
            "for the job if none answers; transformers: Coach's loop",
        )
        parser.add_argument("--user", help="username recorded as the job's author")
        add_run_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        job = generation_job_start(
            project=project_named(options["project"]),
            model_version=model_named(options["model"]),
            user=None,
            k=options["k"],
            which=options["which"],
            source=options["source"],
            limit=options["limit"],
            max_new_tokens=options["max_new_tokens"],
            temperature=options["temperature"],
            top_p=options["top_p"],
            seed=options["seed"],
            batch_size=options["batch_size"],
            engine=options["engine"],
        )
        if user := user_named(options["user"]):
            type(job).objects.filter(pk=job.pk).update(created_by=user)
        follow(job, options=options, stdout=self.stdout)
