import time
from typing import Any

from django.core.management.base import CommandError

from core.commands import DomainCommand, author_named, user_named
from core.errors import NotFound
from labeling.access import project_named
from registry.models import ModelServer
from registry.selectors import model_named, servers_for
from trainer_bridge.services.servers import (
    STARTED_ENGINES,
    model_server_check,
    model_server_register,
    model_server_start,
    model_server_stop,
)


def _server(ref: int) -> ModelServer:
    server = ModelServer.objects.select_related("model_version", "project").filter(pk=ref).first()
    if server is None:
        raise NotFound(f"there is no model server #{ref}")
    return server


def _line(server: ModelServer) -> str:
    where = server.url or "(no address yet)"
    return f"#{server.pk} {server.engine} {server.model_version.name} {server.status} {where} {server.detail}"


class Command(DomainCommand):
    help = "Model servers: list them, start one (a serving job keeps it running), register one, check, stop."

    def add_arguments(self, parser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        listing = actions.add_parser("list", help="the servers of a project's models")
        listing.add_argument("--project", required=True, help="project id or name")
        start = actions.add_parser("start", help="start a server for a model version")
        start.add_argument("--project", required=True, help="project id or name")
        start.add_argument("--model", required=True, help="model version id or name")
        start.add_argument("--engine", choices=[str(e) for e in STARTED_ENGINES], default="vllm")
        start.add_argument("--tensor-parallel-size", type=int, help="GPUs per server (vLLM)")
        start.add_argument("--gpu-memory-utilization", type=float, help="share of GPU memory it keeps (vLLM)")
        start.add_argument("--max-model-len", type=int, help="longest sequence (vLLM)")
        start.add_argument("--user", help="username recorded as who started it")
        start.add_argument("--wait", action="store_true", help="wait until it answers (or fails)")
        register = actions.add_parser("register", help="record a server someone runs, by its address")
        register.add_argument("--project", required=True, help="project id or name")
        register.add_argument("--model", required=True, help="model version id or name")
        register.add_argument("--url", required=True, help="base URL, e.g. http://gpu-3:8000/v1")
        register.add_argument("--served-model-name", default="", help="default: the model version's name")
        register.add_argument("--engine", choices=ModelServer.Engine.values, default="openai")
        register.add_argument("--api-key-env", default="", help="environment variable holding the API key")
        register.add_argument("--user", help="a staff username recorded as who registered it")
        for name in ("check", "stop"):
            action = actions.add_parser(name, help=f"{name} a server")
            action.add_argument("server", type=int, help="server id")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        if action == "list":
            for server in servers_for(project_id=project_named(options["project"]).pk):
                self.stdout.write(_line(server))
        elif action == "start":
            tuning = {
                name: options[name]
                for name in ("tensor_parallel_size", "gpu_memory_utilization", "max_model_len")
                if options[name] is not None
            }
            server = model_server_start(
                project=project_named(options["project"]),
                model_version=model_named(options["model"]),
                user=None,
                engine=options["engine"],
                options=tuning,
            )
            if user := user_named(options["user"]):
                ModelServer.objects.filter(pk=server.pk).update(created_by=user)
            self.stdout.write(f"starting server #{server.pk} (serving job #{server.job.pk})")
            if options["wait"]:
                while (server := _server(server.pk)).status == ModelServer.Status.STARTING:
                    time.sleep(1.0)
                self.stdout.write(_line(server))
                if server.status != ModelServer.Status.HEALTHY:
                    raise CommandError(f"server #{server.pk} is {server.status}: {server.detail}")
        elif action == "register":
            server = model_server_register(
                project=project_named(options["project"]),
                model_version=model_named(options["model"]),
                url=options["url"],
                served_model_name=options["served_model_name"],
                engine=options["engine"],
                api_key_env=options["api_key_env"],
                user=author_named(options["user"]),
            )
            self.stdout.write(_line(model_server_check(server=server)))
        elif action == "check":
            self.stdout.write(_line(model_server_check(server=_server(options["server"]))))
        else:
            self.stdout.write(_line(model_server_stop(server=_server(options["server"]), user=None)))
