"""Label Studio interop: its labeling configs, pushing a Coach project's tasks, pulling annotations back.

Ranking tasks become a `List` of the candidates with a `Ranker` (its result is
`{"ranker": {"rank": ["<candidate id>", ...]}}`, best first); demonstration and refusal tasks become the
conversation with a `TextArea` for the reply. Every Label Studio task carries `coach_task_id` in its
data, so pulling needs no state of its own: a pull (from the server or from a Label Studio JSON export
file) records each annotation as the labeler's submission through the labeling services, and a
second pull of the same annotations changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from core.errors import DomainError
from labeling.access import project_role
from labeling.models import Assignment, Candidate, Demonstration, Project, Ranking, Task, TaskKind
from labeling.services.annotations import demonstration_store, ranking_submit

if TYPE_CHECKING:
    from label_studio_sdk.client import LabelStudio

PROMPT, ANSWERS, RANKER, REPLY = "prompt", "answers", "rank", "reply"
PUSHABLE_KINDS = (TaskKind.RANKING, TaskKind.DEMONSTRATION, TaskKind.REFUSAL)

RANKING_CONFIG = f"""<View>
  <Header value="Rank the answers, best first"/>
  <Paragraphs name="{PROMPT}" value="${PROMPT}" layout="dialogue" nameKey="role" textKey="content"/>
  <List name="{ANSWERS}" value="${ANSWERS}" title="Answers"/>
  <Ranker name="{RANKER}" toName="{ANSWERS}"/>
</View>"""

DEMONSTRATION_CONFIG = f"""<View>
  <Header value="Write the reply the assistant should give"/>
  <Paragraphs name="{PROMPT}" value="${PROMPT}" layout="dialogue" nameKey="role" textKey="content"/>
  <TextArea name="{REPLY}" toName="{PROMPT}" rows="8" editable="true" maxSubmissions="1" required="true"/>
</View>"""


class LabelStudioError(DomainError):
    code = "label_studio"


def label_config(kind: str) -> str:
    """The Label Studio config for a task kind, checked by the SDK's LabelInterface."""
    from label_studio_sdk.label_interface import LabelInterface

    if kind == TaskKind.RANKING:
        config = RANKING_CONFIG
    elif kind in (TaskKind.DEMONSTRATION, TaskKind.REFUSAL):
        config = DEMONSTRATION_CONFIG
    else:
        raise LabelStudioError(
            f"{kind} tasks have no Label Studio config (tool calls do not fit a TextArea)", field="kind"
        )
    LabelInterface(config).validate()
    return config


def ls_task(task: Task, candidates: dict[int, str]) -> dict[str, Any]:
    """One Coach task as a Label Studio task."""
    prompt = [{"role": m["role"], "content": m.get("content") or ""} for m in task.prompt.messages]
    data: dict[str, Any] = {"coach_task_id": task.pk, "coach_prompt": task.prompt.external_id, PROMPT: prompt}
    if task.kind == TaskKind.RANKING:
        data[ANSWERS] = [
            {"id": str(cid), "title": f"Answer {i + 1}", "body": candidates[cid]}
            for i, cid in enumerate(task.candidate_ids)
        ]
    return {"data": data}


# --- push ----------------------------------------------------------------------------------------


@dataclass
class PushResult:
    ls_project_id: int
    title: str
    created: bool
    imported: int
    already_there: int


def default_title(project: Project, kind: str) -> str:
    return f"Coach · {project.name} · {kind}"


def ls_push(
    *,
    client: LabelStudio,
    project: Project,
    kind: str,
    title: str | None = None,
    include_done: bool = False,
    batch_size: int = 500,
    on_progress: Callable[[int, int], None] | None = None,
) -> PushResult:
    """Create (or update) the Label Studio project of a Coach project's `kind` tasks and import new ones."""
    config = label_config(kind)
    title = title or default_title(project, kind)
    found = ls_project_id_for(client=client, title=title)
    if found is not None:
        ls_project_id, created = found, False
        if client.projects.get(ls_project_id).label_config != config:
            client.projects.update(ls_project_id, label_config=config)
    else:
        description = f"Tasks of the Coach project {project.name!r}, kind {kind}."
        made = client.projects.create(title=title, label_config=config, description=description)
        if made.id is None:
            raise LabelStudioError("Label Studio made the project but gave it no id", field="url")
        ls_project_id, created = made.id, True

    listed: Iterable[Any] = client.tasks.list(project=ls_project_id, page_size=1000)
    pushed = {(task.data or {}).get("coach_task_id") for task in listed}
    tasks = Task.objects.filter(project=project, kind=kind).select_related("prompt").order_by("id")
    if not include_done:
        tasks = tasks.filter(status=Task.Status.OPEN)
    considered = list(tasks)
    wanted = [task for task in considered if task.pk not in pushed]
    imported = 0
    for start in range(0, len(wanted), batch_size):
        batch = wanted[start : start + batch_size]
        ids = [cid for task in batch for cid in task.candidate_ids]
        texts = dict(Candidate.objects.filter(pk__in=ids).values_list("id", "text"))
        rows: list[Any] = [ls_task(task, texts) for task in batch]  # the SDK takes plain task dicts
        client.projects.import_tasks(ls_project_id, request=rows)
        imported += len(batch)
        if on_progress:
            on_progress(imported, len(wanted))
    return PushResult(ls_project_id, title, created, imported, len(considered) - len(wanted))


def ls_project_id_for(*, client: LabelStudio, title: str) -> int | None:
    """The id of the Label Studio project with exactly this title, if there is one."""
    projects: Iterable[Any] = client.projects.list(title=title)
    found = [p.id for p in projects if p.title == title and p.id is not None]
    if len(found) > 1:
        raise LabelStudioError(f"several Label Studio projects are titled {title!r}", field="title")
    return found[0] if found else None


# --- pull ----------------------------------------------------------------------------------------


@dataclass
class PullResult:
    created: int = 0
    unchanged: int = 0
    skipped: list[str] = field(default_factory=list)  # one reason per annotation left out


def ls_fetch_export(
    *, client: LabelStudio, ls_project_id: int
) -> tuple[list[dict[str, Any]], dict[str, str]]:
    """A Label Studio project's JSON export, and its users' emails by id (exports name users by id)."""
    body = b"".join(client.projects.exports.download_sync(ls_project_id, export_type="JSON"))
    emails = {str(user.id): user.email for user in client.users.list() if user.email}
    return json.loads(body), emails


def read_export_file(path: str) -> list[dict[str, Any]]:
    try:
        with open(path, encoding="utf-8") as f:
            tasks = json.load(f)
    except (OSError, ValueError) as exc:
        raise LabelStudioError(f"cannot read the Label Studio export {path}: {exc}", field="file") from None
    if not isinstance(tasks, list):
        raise LabelStudioError("a Label Studio JSON export is a list of tasks", field="file")
    return tasks


@transaction.atomic
def ls_pull(
    *,
    project: Project,
    tasks: Iterable[dict[str, Any]],
    emails: dict[str, str] | None = None,
    user_map: dict[str, str] | None = None,
) -> PullResult:
    """Record Label Studio annotations as Coach submissions; annotations already recorded are skipped.

    Annotators are matched to Coach users by `user_map` (Label Studio user id or email -> username), else
    by email, else by a username equal to the email or its local part; they must be project members.
    Any annotator who matches no one stops the pull before anything is written.
    """
    tasks = list(tasks)
    resolve = _UserResolver(project, emails or {}, user_map or {})
    annotations = [
        (task, a) for task in tasks for a in task.get("annotations") or [] if not a.get("was_cancelled")
    ]
    if unknown := sorted(
        {
            resolve.describe(a.get("completed_by"))
            for _, a in annotations
            if resolve(a.get("completed_by")) is None
        }
    ):
        raise LabelStudioError(
            f"Label Studio annotators {unknown} match no member of {project.name!r}: "
            "map them with --user-map LS_ID_OR_EMAIL=USERNAME",
            field="user_map",
            extra={"unmapped": unknown},
        )
    result = PullResult()
    for task_data, annotation in annotations:
        where = f"Label Studio task {task_data.get('id')}, annotation {annotation.get('id')}"
        coach_id = (task_data.get("data") or {}).get("coach_task_id")
        found = Task.objects.filter(pk=coach_id, project=project) if isinstance(coach_id, int) else None
        task = found.select_related("prompt").first() if found is not None else None
        if task is None:
            result.skipped.append(f"{where}: no task {coach_id!r} in {project.name!r}")
            continue
        labeler = resolve(annotation.get("completed_by"))
        try:
            content = _content(task, annotation.get("result") or [])
            with transaction.atomic():
                created = _record(task, labeler, content, float(annotation.get("lead_time") or 0))
        except DomainError as exc:
            result.skipped.append(f"{where}: {exc.detail}")
            continue
        if created is None:
            result.skipped.append(f"{where}: {labeler.get_username()} already did task {task.pk} differently")
        elif created:
            result.created += 1
        else:
            result.unchanged += 1
    return result


class _UserResolver:
    def __init__(self, project: Project, emails: dict[str, str], user_map: dict[str, str]) -> None:
        self.project, self.emails, self.user_map = project, emails, user_map
        self.cache: dict[str, Any] = {}

    def _who(self, completed_by: Any) -> tuple[str, str]:
        if isinstance(completed_by, dict):  # some exports expand the user
            return str(completed_by.get("id")), completed_by.get("email") or ""
        return str(completed_by), self.emails.get(str(completed_by), "")

    def describe(self, completed_by: Any) -> str:
        ls_id, email = self._who(completed_by)
        return f"{ls_id} ({email})" if email else ls_id

    def __call__(self, completed_by: Any) -> Any:
        ls_id, email = self._who(completed_by)
        key = f"{ls_id}|{email}"
        if key not in self.cache:
            self.cache[key] = self._find(ls_id, email)
        return self.cache[key]

    def _find(self, ls_id: str, email: str) -> Any:
        users = get_user_model().objects
        username = self.user_map.get(ls_id) or self.user_map.get(email)
        if username:
            user = users.filter(username=username).first()
        elif email:
            local = email.split("@")[0]
            user = (
                users.filter(email__iexact=email).order_by("id").first()
                or users.filter(Q(username=email) | Q(username=local)).order_by("id").first()
            )
        else:
            user = None
        if user is None or project_role(user=user, project=self.project) is None:
            return None
        return user


def _content(task: Task, result: list[dict[str, Any]]) -> dict[str, Any]:
    """A Label Studio result as the submission it stands for: tiers, or the reply's messages."""
    if task.kind == TaskKind.RANKING:
        for item in result:
            ranked = (item.get("value") or {}).get("ranker", {}).get(item.get("from_name") or RANKER)
            if item.get("type") == "ranker" and ranked is not None:
                try:
                    return {"tiers": [[int(cid)] for cid in ranked]}
                except (TypeError, ValueError):
                    raise LabelStudioError(f"ranker ids {ranked} are not candidate ids") from None
        raise LabelStudioError("no ranker result")
    for item in result:
        if item.get("type") == "textarea":
            text = "\n".join((item.get("value") or {}).get("text") or []).strip()
            if text:
                return {"messages": [{"role": "assistant", "content": text}]}
    raise LabelStudioError("no textarea text")


def _record(task: Task, labeler: Any, content: dict[str, Any], seconds: float) -> bool | None:
    """Submit as the labeler; True when recorded, False when the same is recorded, None when it differs."""
    assignment = Assignment.objects.select_for_update().filter(task=task, labeler=labeler).first()
    if assignment is not None and assignment.state == Assignment.State.SUBMITTED:
        return False if _same_as_recorded(task, assignment, content) else None
    # A lease opened for the import, as claiming would (claimed_count counts live leases and submissions).
    # TODO(labeling): a labeling service that opens an assignment on a given task would own this write.
    expires = timezone.now() + timedelta(minutes=5)
    if assignment is None:
        assignment = Assignment.objects.create(
            task=task, labeler=labeler, leased_at=timezone.now(), lease_expires_at=expires
        )
        Task.objects.filter(pk=task.pk).update(claimed_count=F("claimed_count") + 1)
    else:
        if assignment.state != Assignment.State.ACTIVE:
            Task.objects.filter(pk=task.pk).update(claimed_count=F("claimed_count") + 1)
        assignment.state, assignment.lease_expires_at = Assignment.State.ACTIVE, expires
        assignment.save(update_fields=["state", "lease_expires_at"])
    if task.kind == TaskKind.RANKING:
        ranking_submit(assignment_id=assignment.pk, labeler=labeler, tiers=content["tiers"], seconds=seconds)
    else:
        demonstration_store(
            assignment=assignment, messages=content["messages"], tools=None, seconds=seconds, pasted_chars=0
        )
    return True


def _same_as_recorded(task: Task, assignment: Assignment, content: dict[str, Any]) -> bool:
    if task.kind == TaskKind.RANKING:
        original = (
            Ranking.objects.filter(assignment=assignment, revision=1).values_list("tiers", flat=True).first()
        )
        return original == content["tiers"]
    original = (
        Demonstration.objects.filter(assignment=assignment, revision=1)
        .values_list("messages", flat=True)
        .first()
    )
    return original is not None and original[len(task.prompt.messages) :] == content["messages"]


def ls_client(*, url: str | None, api_key: str | None) -> LabelStudio:
    """An SDK client; url and key default to LABEL_STUDIO_URL and LABEL_STUDIO_API_KEY."""
    import os

    from label_studio_sdk.client import LabelStudio

    url = url or os.environ.get("LABEL_STUDIO_URL")
    api_key = api_key or os.environ.get("LABEL_STUDIO_API_KEY")
    if not url or not api_key:
        raise LabelStudioError(
            "give the Label Studio URL and API key (or set LABEL_STUDIO_URL, LABEL_STUDIO_API_KEY)"
        )
    return LabelStudio(base_url=url.rstrip("/"), api_key=api_key, timeout=120)
