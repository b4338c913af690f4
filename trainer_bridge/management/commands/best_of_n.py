from typing import Any

from core.commands import DomainCommand, user_named
from labeling.access import project_named
from registry.selectors import model_named
from trainer_bridge.engines import ENGINES
from trainer_bridge.management.commands._jobs import add_run_arguments, follow
from trainer_bridge.services.best_of_n import best_of_n_start
from trainer_bridge.services.generation import WHICH


class Command(DomainCommand):
    help = (
        "Start a best-of-N job: N answers per prompt from a model, scored by a reward model; the best answer "
        "of each prompt becomes an SFT row of a new frozen snapshot."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--project", required=True, help="project id or name")
        parser.add_argument("--model", required=True, help="model version that writes the answers")
        parser.add_argument("--reward-model", required=True, help="reward model version that scores them")
        parser.add_argument("--n", type=int, default=4, help="answers per prompt")
        parser.add_argument("--which", choices=WHICH, default="all", help="waiting: prompts with no task yet")
        parser.add_argument("--source", default="", help="only prompts imported from this source")
        parser.add_argument("--limit", type=int, help="at most this many prompts")
        parser.add_argument("--snapshot-name", default="", help="name of the snapshot it freezes")
        parser.add_argument("--validation-fraction", type=float, default=0.1)
        parser.add_argument("--max-new-tokens", type=int, default=256)
        parser.add_argument("--temperature", type=float, default=1.0)
        parser.add_argument("--top-p", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=0)
        parser.add_argument("--batch-size", type=int, default=8)
        parser.add_argument("--engine", choices=ENGINES, default="auto", help="as for generate")
        parser.add_argument("--user", help="username recorded as the job's author")
        add_run_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        job = best_of_n_start(
            project=project_named(options["project"]),
            model_version=model_named(options["model"]),
            reward_model=model_named(options["reward_model"]),
            user=None,
            n=options["n"],
            which=options["which"],
            source=options["source"],
            limit=options["limit"],
            snapshot_name=options["snapshot_name"],
            validation_fraction=options["validation_fraction"],
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
