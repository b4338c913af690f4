"""GRPO on a practice set from the command line: the verifiers are the rewards; registers the policy."""

from typing import Any

from django.core.management.base import CommandError, CommandParser

from core.commands import DomainCommand, user_named
from curation.models import PracticeSet
from registry.selectors import model_named
from trainer_bridge.management.commands._jobs import add_run_arguments, follow
from trainer_bridge.services.grpo import grpo_job_start

SETTINGS = (
    "max_steps",
    "lr",
    "beta",
    "num_generations",
    "problems_per_step",
    "max_completion_length",
    "temperature",
    "eval_every",
    "patience",
    "checkpoint_every",
    "reward_model_weight",
    "seed",
)


class Command(DomainCommand):
    help = "Start GRPO on a practice set (verifiers as rewards, maybe a reward model); registers the policy."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--practice-set", required=True, type=int, help="practice set id")
        parser.add_argument("--model", required=True, help="model version to start from (id or name)")
        parser.add_argument(
            "--reward-model", help="a reward-model version whose score is added to the reward"
        )
        parser.add_argument("--output-name", default="", help="name of the policy it registers")
        parser.add_argument("--max-steps", type=int)
        parser.add_argument("--lr", type=float)
        parser.add_argument("--beta", type=float, help="KL penalty to the reference model (above 0)")
        parser.add_argument("--num-generations", type=int, help="solutions sampled per problem")
        parser.add_argument("--problems-per-step", type=int)
        parser.add_argument("--max-completion-length", type=int, help="tokens per sampled solution")
        parser.add_argument("--temperature", type=float)
        parser.add_argument("--eval-every", type=int, help="steps between held-out pass-rate checks")
        parser.add_argument(
            "--patience", type=int, help="checks without a new best before stopping (0: never)"
        )
        parser.add_argument("--checkpoint-every", type=int)
        parser.add_argument("--reward-model-weight", type=float)
        parser.add_argument("--seed", type=int)
        parser.add_argument("--user", help="username recorded as the job's author")
        add_run_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        practice_set = PracticeSet.objects.filter(pk=options["practice_set"]).first()
        if practice_set is None:
            raise CommandError(f"--practice-set: no practice set {options['practice_set']}")
        job = grpo_job_start(
            practice_set=practice_set,
            base_model=model_named(options["model"]),
            reward_model=model_named(options["reward_model"]) if options["reward_model"] else None,
            user=None,
            config={name: options[name] for name in SETTINGS if options[name] is not None},
            output_name=options["output_name"],
        )
        if user := user_named(options["user"]):
            type(job).objects.filter(pk=job.pk).update(created_by=user)
        follow(job, options=options, stdout=self.stdout)
