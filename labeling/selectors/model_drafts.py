"""Model drafts as a labeler's page, the API and other task kinds read them: a draft belongs to a prompt
and a model version, and a project's settings say which version's drafts its writing tasks start from."""

from django.db.models import Exists, OuterRef, QuerySet

from labeling.models import Project, Prompt, ReplyDraft, ReplyDraftSettings, Task, TaskKind

# The task kinds whose reply starts from a model draft (a chat's: its first answer, to the opening). Search
# tasks are left out: their answer is built from searches the labeler runs and cites, which a draft
# written without the tool cannot hold.
DRAFTED_KINDS = (TaskKind.DEMONSTRATION, TaskKind.REFUSAL, TaskKind.CHAT)


def reply_draft_settings_get(*, project: Project) -> ReplyDraftSettings:
    """The project's settings; an unsaved default (off) when none were ever saved."""
    found = ReplyDraftSettings.objects.filter(project=project).select_related("model_version").first()
    return found or ReplyDraftSettings(project=project)


def reply_draft_for(*, prompt_id: int, model_version_id: int) -> ReplyDraft | None:
    """The draft a model version wrote for a prompt, if its drafting job has reached it."""
    return ReplyDraft.objects.filter(prompt_id=prompt_id, model_version_id=model_version_id).first()


def project_model_draft(*, project_id: int, prompt_id: int) -> ReplyDraft | None:
    """The draft a reply to this prompt starts from in this project: none while the project's drafts are
    off, or while its model version has not drafted the prompt yet. One query."""
    return (
        ReplyDraft.objects.filter(
            prompt_id=prompt_id,
            model_version__isnull=False,
            model_version_id=ReplyDraftSettings.objects.filter(project_id=project_id, enabled=True).values(
                "model_version_id"
            )[:1],
        )
        .select_related("model_version")
        .first()
    )


def task_model_draft(*, task: Task) -> ReplyDraft | None:
    """The model draft a writing task's reply starts from, if any. A refusal task from a probe starts from
    the probe's suggested honest reply instead: the probe found that this model answers it wrongly."""
    if task.kind not in DRAFTED_KINDS or task.prompt.metadata.get("suggested_reply"):
        return None
    return project_model_draft(project_id=task.project_id, prompt_id=task.prompt_id)


def prompts_awaiting_drafts(*, project: Project, model_version_id: int) -> QuerySet[Prompt]:
    """Prompts of the project's open writing tasks that this model version has not drafted yet."""
    drafted = ReplyDraft.objects.filter(prompt_id=OuterRef("pk"), model_version_id=model_version_id)
    open_tasks = Task.objects.filter(
        prompt_id=OuterRef("pk"), kind__in=DRAFTED_KINDS, status=Task.Status.OPEN
    )
    return (
        Prompt.objects.filter(project=project)
        .filter(Exists(open_tasks))
        .exclude(Exists(drafted))
        .exclude(metadata__has_key="suggested_reply")
        .order_by("pk")
    )


def drafted_open_tasks(*, project: Project, model_version_id: int) -> tuple[int, int]:
    """(open writing tasks whose prompt has this version's draft, open writing tasks in all)."""
    tasks = Task.objects.filter(project=project, kind__in=DRAFTED_KINDS, status=Task.Status.OPEN).exclude(
        prompt__metadata__has_key="suggested_reply"
    )
    drafted = ReplyDraft.objects.filter(prompt_id=OuterRef("prompt_id"), model_version_id=model_version_id)
    return tasks.filter(Exists(drafted)).count(), tasks.count()
