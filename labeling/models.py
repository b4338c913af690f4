from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.indexes import GinIndex
from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Greatest, Least

from guidelines.models import Guideline, GuidelineVersion

User = settings.AUTH_USER_MODEL


class TaskKind(models.TextChoices):
    DEMONSTRATION = "demonstration"
    RANKING = "ranking"
    REFUSAL = "refusal"
    SEARCH = "search"
    EVALUATION = "evaluation"
    CHAT = "chat"


class Role(models.TextChoices):
    LABELER = "labeler"
    REVIEWER = "reviewer"
    ADMIN = "admin"


class QueueOrder(models.TextChoices):
    ARRIVAL = "arrival", "arrival order"
    UNCERTAINTY = "uncertainty", "reward-model uncertainty (most uncertain first)"


class Project(models.Model):
    name = models.CharField(max_length=200, unique=True)
    description = models.TextField(blank=True, default="")
    task_kinds = ArrayField(models.CharField(max_length=20, choices=TaskKind.choices))
    k = models.PositiveSmallIntegerField(
        default=4, validators=[MinValueValidator(2), MaxValueValidator(9)], help_text="candidates per ranking"
    )
    overlap = models.PositiveSmallIntegerField(default=1, validators=[MinValueValidator(1)])
    lease_seconds = models.PositiveIntegerField(default=1800, validators=[MinValueValidator(30)])
    # The share of each labeler's tasks that are gold (tasks with a reference answer, curation decides
    # which); the queue hands a labeler a gold task whenever their own share falls below it.
    gold_rate = models.FloatField(default=0.0, validators=[MinValueValidator(0.0), MaxValueValidator(1.0)])
    # A reviewer may not accept or edit their own work, unless a one-person team switches this on.
    allow_self_review = models.BooleanField(default=False)
    # Active task selection: the queue hands out the ranking tasks its reward model is least sure about first
    # (Task.uncertainty, written by a scoring job), instead of in arrival order.
    queue_order = models.CharField(max_length=12, choices=QueueOrder.choices, default=QueueOrder.ARRIVAL)
    # The reward model whose scores order the queue; each retrain of the project's reward model replaces it.
    queue_reward_model = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    guideline = models.OneToOneField(Guideline, on_delete=models.PROTECT, related_name="project")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(k__gte=2, k__lte=9), name="project_k_2_to_9"),
            models.CheckConstraint(condition=Q(overlap__gte=1), name="project_overlap_positive"),
            models.CheckConstraint(condition=Q(gold_rate__gte=0, gold_rate__lte=1), name="project_gold_rate"),
        ]

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.LABELER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "user"], name="one_membership")]


class Prompt(models.Model):
    """A conversation to be answered, in HF chat `messages` form."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="prompts")
    messages = models.JSONField()
    source = models.CharField(max_length=200, blank=True, default="")
    external_id = models.CharField(max_length=200, blank=True, default="")
    content_hash = models.CharField(max_length=64)
    metadata = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "content_hash"], name="prompt_unique_content"),
            models.UniqueConstraint(
                fields=["project", "external_id"],
                condition=~Q(external_id=""),
                name="prompt_unique_external_id",
            ),
        ]

    def __str__(self) -> str:
        return self.external_id or f"prompt {self.pk}"


class Candidate(models.Model):
    """One model answer to a prompt; retried generation hits the unique key instead of duplicating."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="candidates")
    text = models.TextField()
    # The version that wrote it, when Coach generated it; imported answers name their model only.
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="candidates", null=True, blank=True
    )
    model_name = models.CharField(max_length=200)  # shown to reviewers; part of the unique key
    sampling_params = models.JSONField(default=dict, blank=True)
    sample_index = models.PositiveIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "model_name", "sample_index"], name="candidate_unique_sample"
            )
        ]


class Task(models.Model):
    class Status(models.TextChoices):
        OPEN = "open"
        DONE = "done"
        CLOSED = "closed"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="tasks")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="tasks")
    kind = models.CharField(max_length=20, choices=TaskKind.choices)
    # Ranking tasks: the candidates in the order labelers see them (shuffled once, against position bias).
    candidate_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    required_count = models.PositiveSmallIntegerField()
    # Live leases plus submissions, kept on the row so the claim query re-checks it under the lock.
    claimed_count = models.PositiveSmallIntegerField(default=0)
    completed_count = models.PositiveSmallIntegerField(default=0)
    is_gold = models.BooleanField(default=False)
    # How unsure the project's queue reward model is about this ranking (labeling.active): 1.0 a coin flip on
    # every answer pair, near 0 sure of all. Null until a scoring job has scored the task's answers.
    uncertainty = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "kind", "candidate_ids"], name="task_unique_per_prompt"
            ),
        ]
        indexes = [
            models.Index(
                fields=["project", "-is_gold", "id"], condition=Q(status="open"), name="task_open_queue"
            ),
            # The queue in uncertainty order: each pick is still one index range, most uncertain first,
            # tasks not scored yet after the scored ones in arrival order.
            models.Index(
                F("project"),
                F("is_gold").desc(),
                F("uncertainty").desc(nulls_last=True),
                F("id"),
                condition=Q(status="open"),
                name="task_open_by_uncertainty",
            ),
        ]


class TaskRewardScores(models.Model):
    """The scores the project's queue reward model gave a ranking task's answers (in the task's candidate
    order), for reviewers to read beside the labelers' rankings; a later scoring replaces them."""

    task = models.OneToOneField(Task, on_delete=models.CASCADE, related_name="reward_scores")
    reward_model = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    scores = ArrayField(models.FloatField())
    scored_at = models.DateTimeField(auto_now=True)


class Assignment(models.Model):
    """One labeler's lease on one task, and then the record of what they did with it."""

    class State(models.TextChoices):
        ACTIVE = "active"
        SUBMITTED = "submitted"
        SKIPPED = "skipped"
        RELEASED = "released"
        EXPIRED = "expired"

    task = models.ForeignKey(Task, on_delete=models.CASCADE, related_name="assignments")
    labeler = models.ForeignKey(User, on_delete=models.CASCADE, related_name="assignments")
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    leased_at = models.DateTimeField()
    lease_expires_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)
    skip_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["task", "labeler"], name="assignment_once_per_labeler")
        ]
        indexes = [
            models.Index(
                fields=["lease_expires_at"], condition=Q(state="active"), name="assignment_live_leases"
            ),
            models.Index(fields=["labeler", "state"], name="assignment_by_labeler"),
        ]


class Annotation(models.Model):
    """Common part of every revision of a labeler's work; revisions never overwrite each other."""

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="+")
    task = models.ForeignKey(Task, on_delete=models.PROTECT, related_name="+")
    author = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    guideline_version = models.ForeignKey(
        GuidelineVersion, on_delete=models.PROTECT, related_name="+", null=True
    )
    revision = models.PositiveIntegerField(default=1)
    previous = models.OneToOneField(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="next"
    )
    is_current = models.BooleanField(default=True)
    seconds = models.FloatField(default=0.0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True


class Demonstration(Annotation):
    """The ideal continuation written for a conversation (also refusals and search-tool conversations)."""

    messages = models.JSONField()
    tools = models.JSONField(default=list, blank=True)
    pasted_chars = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "revision"], name="demonstration_revision"),
            models.UniqueConstraint(
                fields=["assignment"], condition=Q(is_current=True), name="demonstration_one_current"
            ),
        ]
        indexes = [models.Index(fields=["task"], condition=Q(is_current=True), name="demonstration_current")]


class Ranking(Annotation):
    """Candidates ordered best to worst as tiers of candidate ids; a tier of several is a tie."""

    tiers = models.JSONField()
    all_bad = models.BooleanField(default=False)
    # A chat task holds a ranking per model-written turn: they are keyed by assignment and turn.
    chat_turn = models.ForeignKey(
        "ChatTurn", on_delete=models.PROTECT, null=True, blank=True, related_name="rankings"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["assignment", "revision"],
                condition=Q(chat_turn__isnull=True),
                name="ranking_revision",
            ),
            models.UniqueConstraint(
                fields=["assignment"],
                condition=Q(is_current=True, chat_turn__isnull=True),
                name="ranking_one_current",
            ),
            models.UniqueConstraint(
                fields=["assignment", "chat_turn", "revision"],
                condition=Q(chat_turn__isnull=False),
                name="ranking_chat_turn_revision",
            ),
            models.UniqueConstraint(
                fields=["assignment", "chat_turn"],
                condition=Q(is_current=True, chat_turn__isnull=False),
                name="ranking_chat_turn_one_current",
            ),
        ]
        indexes = [models.Index(fields=["task"], condition=Q(is_current=True), name="ranking_current")]


RATING_FLAGS = [
    "fails_to_follow_instruction",
    "hallucination",
    "inappropriate_for_customer_assistant",
    "sexual_content",
    "violent_content",
    "harmful_advice",
    "expresses_opinion",
    "expresses_moral_judgement",
    "satisfies_constraints",
]


class CandidateRating(models.Model):
    """Per-answer labels given with a ranking revision (InstructGPT's metadata)."""

    ranking = models.ForeignKey(Ranking, on_delete=models.PROTECT, related_name="ratings")
    candidate = models.ForeignKey(Candidate, on_delete=models.PROTECT, related_name="ratings")
    overall = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(7)]
    )
    fails_to_follow_instruction = models.BooleanField(default=False)
    hallucination = models.BooleanField(default=False)
    inappropriate_for_customer_assistant = models.BooleanField(default=False)
    sexual_content = models.BooleanField(default=False)
    violent_content = models.BooleanField(default=False)
    harmful_advice = models.BooleanField(default=False)
    expresses_opinion = models.BooleanField(default=False)
    expresses_moral_judgement = models.BooleanField(default=False)
    satisfies_constraints = models.BooleanField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["ranking", "candidate"], name="one_rating_per_candidate"),
            models.CheckConstraint(
                condition=Q(overall__isnull=True) | Q(overall__gte=1, overall__lte=7), name="rating_1_to_7"
            ),
        ]


class VoteChoice(models.TextChoices):
    """A blind A/B vote: the answer shown on the left is better, the one on the right, or neither."""

    LEFT = "left"
    RIGHT = "right"
    TIE = "tie"


class EvaluationPair(models.Model):
    """A planned blind comparison of two model versions' answers to one prompt, and the task that shows it.

    Which version's answer is shown on the left is drawn once, from a seed, when the pair is planned and
    kept here, so that position bias can be measured. The task is made once both versions have answered.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="evaluation_pairs")
    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="evaluation_pairs")
    left_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    right_version = models.ForeignKey("registry.ModelVersion", on_delete=models.PROTECT, related_name="+")
    task = models.OneToOneField(
        Task, on_delete=models.SET_NULL, null=True, blank=True, related_name="evaluation_pair"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=~Q(left_version=F("right_version")), name="evaluation_pair_two_versions"
            ),
            # one comparison of two versions per prompt, whichever side each is on
            models.UniqueConstraint(
                F("prompt"),
                Least("left_version", "right_version"),
                Greatest("left_version", "right_version"),
                name="evaluation_pair_once",
            ),
        ]
        indexes = [
            models.Index(fields=["prompt"], condition=Q(task__isnull=True), name="evaluation_pair_waiting")
        ]


class EvaluationVote(Annotation):
    """A labeler's blind choice between the two answers of an evaluation task, with an optional reason."""

    choice = models.CharField(max_length=5, choices=VoteChoice.choices)
    reason = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["assignment", "revision"], name="vote_revision"),
            models.UniqueConstraint(
                fields=["assignment"], condition=Q(is_current=True), name="vote_one_current"
            ),
        ]
        indexes = [models.Index(fields=["task"], condition=Q(is_current=True), name="vote_current")]


class Review(models.Model):
    class Verdict(models.TextChoices):
        ACCEPT = "accept"
        REJECT = "reject"
        EDIT = "edit"

    assignment = models.ForeignKey(Assignment, on_delete=models.PROTECT, related_name="reviews")
    reviewer = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    verdict = models.CharField(max_length=10, choices=Verdict.choices)
    reason = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)


# --- web: drafts and the search backend -----------------------------------------------------------


class DemonstrationDraft(models.Model):
    """A labeler's unfinished reply, saved as they type so that a reload loses nothing."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="draft")
    content = models.TextField(blank=True, default="")
    # Search-tool tasks: every search run, as [{"query", "results": [{"id", "title", "url", "headline"}]}].
    searches = models.JSONField(default=list, blank=True)
    # The results the assistant saw, as [[search index, document id], ...] in citation order.
    picks = models.JSONField(default=list, blank=True)
    seconds = models.FloatField(default=0.0)
    pasted_chars = models.PositiveIntegerField(default=0)
    # The model draft the reply started from (set when the page first showed one), so that a reload
    # knows the text was the model's before it was the labeler's.
    model_draft = models.ForeignKey(
        "ReplyDraft", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)


class RankingDraft(models.Model):
    """A labeler's unfinished ranking, saved as they place and rate answers so that a reload loses nothing."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="ranking_draft")
    # The board as it stands: {candidate id: tier number}, for the answers placed so far.
    placement = models.JSONField(default=dict, blank=True)
    # As a submission's ratings: [{"candidate", "overall"?, flag: true, ...}].
    ratings = models.JSONField(default=list, blank=True)
    all_bad = models.BooleanField(default=False)
    seconds = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)


class EvaluationDraft(models.Model):
    """A vote in progress (the choice so far, the reason being written), saved so a reload loses nothing."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="evaluation_draft")
    choice = models.CharField(max_length=5, choices=VoteChoice.choices, blank=True, default="")
    reason = models.TextField(blank=True, default="")
    seconds = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)


class SearchCorpus(models.Model):
    """A document collection an admin uploaded for a project's search-tool conversations."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="corpora")
    name = models.CharField(max_length=200)
    uploaded_by = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    document_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "name"], name="corpus_unique_name")]

    def __str__(self) -> str:
        return self.name


class SearchDocument(models.Model):
    corpus = models.ForeignKey(SearchCorpus, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(max_length=500)
    url = models.CharField(max_length=2000, blank=True, default="")
    text = models.TextField()
    # Kept by Postgres itself: title words weigh more than body words.
    search = models.GeneratedField(
        expression=SearchVector("title", weight="A", config="english")
        + SearchVector("text", weight="B", config="english"),
        output_field=SearchVectorField(),
        db_persist=True,
    )

    class Meta:
        indexes = [GinIndex(fields=["search"], name="search_document_vector")]


# --- model drafts: replies pre-filled by a model version, and what labelers made of them ---------------


class ReplyDraftSettings(models.Model):
    """Whether a project's writing tasks start from a model draft, and which model version writes it."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="reply_draft_settings")
    enabled = models.BooleanField(default=False)
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    max_new_tokens = models.PositiveIntegerField(default=512)
    temperature = models.FloatField(default=0.7)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(enabled=False) | Q(model_version__isnull=False),
                name="reply_drafts_need_a_model_version",
            )
        ]


class ReplyDraft(models.Model):
    """A model version's reply to a prompt, written ahead by a drafting job: one per prompt and version,
    so a resumed job never stores a second one."""

    prompt = models.ForeignKey(Prompt, on_delete=models.CASCADE, related_name="reply_drafts")
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="reply_drafts"
    )
    text = models.TextField()
    sampling_params = models.JSONField(default=dict, blank=True)  # with the seed and the job that wrote it
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["prompt", "model_version"], name="reply_draft_per_prompt_and_model"
            )
        ]


class ReplyDraftEdit(models.Model):
    """What a labeler made of a model draft: their submitted reply (its first revision) against the draft,
    as edit distances in characters and in words."""

    demonstration = models.OneToOneField(Demonstration, on_delete=models.PROTECT, related_name="draft_edit")
    reply_draft = models.ForeignKey(ReplyDraft, on_delete=models.PROTECT, related_name="edits")
    labeler = models.ForeignKey(User, on_delete=models.PROTECT, related_name="+")
    final_text = models.TextField()
    char_distance = models.PositiveIntegerField()
    word_distance = models.PositiveIntegerField()
    # word_distance over the longer of the two texts' word counts: 0 kept as is, 1 rewritten
    word_share = models.FloatField()
    unchanged = models.BooleanField()
    created_at = models.DateTimeField(auto_now_add=True)


# --- chat tasks: conversations written by a labeler, alone or with a served model version -------------------


class ChatSettings(models.Model):
    """Which model version a project's chat tasks talk to, how it samples, and K, the alternatives ranked
    at a turn. Calls are bounded in time and rate-limited per labeler."""

    project = models.OneToOneField(Project, on_delete=models.CASCADE, related_name="chat_settings")
    model_version = models.ForeignKey(
        "registry.ModelVersion", on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    k = models.PositiveSmallIntegerField(
        default=4,
        validators=[MinValueValidator(2), MaxValueValidator(9)],
        help_text="replies ranked at a turn",
    )
    max_new_tokens = models.PositiveIntegerField(
        default=256, validators=[MinValueValidator(1), MaxValueValidator(4096)]
    )
    temperature = models.FloatField(default=0.8, validators=[MinValueValidator(0.0), MaxValueValidator(2.0)])
    seconds_limit = models.PositiveIntegerField(
        default=60, validators=[MinValueValidator(1), MaxValueValidator(600)], help_text="per model call"
    )
    calls_per_minute = models.PositiveIntegerField(
        default=20, validators=[MinValueValidator(1), MaxValueValidator(1000)], help_text="per labeler"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(k__gte=2, k__lte=9), name="chat_k_2_to_9"),
        ]


class ChatDraft(models.Model):
    """A conversation being written, saved as the labeler works so that a reload finds all of it.

    `messages` are in HF chat form; a model-written assistant message also names its `chat_turn`."""

    assignment = models.OneToOneField(Assignment, on_delete=models.CASCADE, related_name="chat_draft")
    messages = models.JSONField(default=list, blank=True)
    # The searches Coach ran for the assistant: [{"id", "query", "content"}]; a tool's result in the
    # conversation must be one of them, unchanged.
    searches = models.JSONField(default=list, blank=True)
    seconds = models.FloatField(default=0.0)
    updated_at = models.DateTimeField(auto_now=True)


class ChatTurn(models.Model):
    """A model-written assistant turn of a chat task: the conversation prefix it answers (a prompt of its
    own, marked with its conversation and turn so that it never collides with an imported prompt), the
    candidates sampled for it (the streamed reply first, then the alternatives), the one the labeler kept
    and what they made of it."""

    assignment = models.ForeignKey(Assignment, on_delete=models.CASCADE, related_name="chat_turns")
    turn = models.PositiveIntegerField(help_text="the index of the assistant message in the conversation")
    prompt = models.OneToOneField(Prompt, on_delete=models.PROTECT, related_name="chat_turn")
    candidate_ids = ArrayField(models.BigIntegerField(), default=list, blank=True)
    chosen = models.ForeignKey(Candidate, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    final_text = models.TextField(blank=True, default="")
    # Where the turn stands in the submitted conversation (None: the labeler took another path).
    final_index = models.PositiveIntegerField(null=True, blank=True)
    # The ranking of its replies as it stands before it is kept, as a RankingDraft holds it:
    # {"placement", "ratings", "all_bad", "seconds", "saved_at"}; cleared once the ranking is stored.
    ranking_draft = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["assignment", "turn"], name="chat_turn_by_assignment")]


class ChatCall(models.Model):
    """One call a labeler made to the model (a reply or alternatives): the per-labeler rate limit counts
    them, in Postgres, so every web process sees the same count."""

    labeler = models.ForeignKey(User, on_delete=models.CASCADE, related_name="+")
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
