"""Every URL the project serves, opened by every kind of person, answers the reviewed status.

The list of URLs comes from the URL configuration itself: a URL added without an entry in
EXPECTED fails `test_every_url_has_a_reviewed_expectation`, so no endpoint ships unchecked.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from tests.factories import seed_rankings
from tests.robustness.world import ROLES, World, client_as

EXEMPT_ROUTES = {"admin/": "Django's admin site: staff only, guarded and tested by Django itself"}
EXEMPT = {
    "login": "the login page is public by design; its rate limit is tested in tests/test_login.py",
    "logout": "logging out is POST-only and harmless for anyone",
}

RANK = {"labeler": 1, "reviewer": 2, "admin": 3}


@dataclass(frozen=True)
class Rule:
    """Who may GET a URL and what they get; who may POST to it (an empty body) and what they get.

    Levels: "public" (anyone), "user" (anyone logged in), "staff" (site admins only),
    "labeler" / "reviewer" / "admin" (that role or a higher one in the project; site staff are
    admins), "owner" (only the labeler holding the assignment), "owner_or_reviewer".
    Denied: anonymous people are sent to the login page (pages) or get 403 (API); non-members get
    404; members below the role get 403; people other than an assignment's owner get 404.
    `special` pins a status that departs from those rules, with the reason beside it.
    """

    get_who: str
    get: int
    post_who: str
    post: int
    special: dict[tuple[str, str], int] = field(default_factory=dict)


ANYONE_ELSES_ASSIGNMENT_API = {("non_member", "POST"): 403, ("reviewer", "POST"): 403, ("admin", "POST"): 403}

# Reviewed: each line says who may use the URL. 405 = the method is not served (POST-only or GET-only);
# 409 on an export download = the export has not finished yet.
EXPECTED: dict[str, Rule] = {
    "api-schema": Rule("public", 200, "public", 405),  # the schema describes endpoints, holds no data
    "api-docs": Rule("public", 200, "public", 405),
    "api-token": Rule("public", 405, "public", 400),
    "api-tokens": Rule("user", 200, "user", 405),  # the caller's own tokens
    # DELETE only; who may revoke which token is tested in tests/test_api_tokens.py
    "api-token-revoke": Rule("user", 405, "user", 405),
    "accounts:tokens": Rule("user", 200, "user", 400),  # each user's own page; an empty form has no name
    # the world holds no token, so the id names none whoever asks (owners and staff: test_api_tokens.py)
    "accounts:token-revoke": Rule("user", 405, "user", 404),
    "api-projects": Rule("user", 200, "staff", 400),
    "api-project": Rule("labeler", 200, "user", 405),
    "api-members": Rule("admin", 200, "user", 405),
    "api-chat-settings": Rule("admin", 200, "user", 405),
    "api-guideline": Rule("labeler", 200, "user", 405),
    "api-guideline-publish": Rule("user", 405, "admin", 400),
    "api-guideline-acknowledge": Rule("user", 405, "labeler", 400),
    "api-import-prompts": Rule("user", 405, "admin", 400),
    "api-import-candidates": Rule("user", 405, "admin", 400),
    # site staff never acknowledged the guideline, so they get no task
    "api-next": Rule("user", 405, "labeler", 200, {("admin", "POST"): 409}),
    "api-annotations": Rule("labeler", 200, "user", 405),
    "api-assignment": Rule("owner_or_reviewer", 200, "user", 405),
    # the body is checked before the assignment: an empty one is refused whoever sends it
    "api-submit": Rule("user", 405, "user", 400),
    "api-skip": Rule("user", 405, "user", 400),
    # listing the searches is the assignment's owner's (or a reviewer's); running one needs a query first
    "api-search": Rule("owner_or_reviewer", 200, "user", 400),
    # the world's assignment is a ranking task, which reads no documents: 404 to its owner too (a search
    # task's owner reads them: tests/labeling/test_search_api.py)
    "api-search-document": Rule("owner_or_reviewer", 404, "user", 405),
    "api-review": Rule("user", 405, "user", 400),
    # chats: the world's assignment is a ranking task, so its owner is refused with the kind (400), and
    # the service answers 403 "this assignment belongs to another labeler" to everyone else
    "api-chat": Rule("owner_or_reviewer", 200, "user", 405),
    "api-chat-reply": Rule("user", 405, "owner", 400, ANYONE_ELSES_ASSIGNMENT_API),
    "api-chat-search": Rule("user", 405, "owner", 400, ANYONE_ELSES_ASSIGNMENT_API),
    "api-chat-alternatives": Rule("user", 405, "owner", 400, ANYONE_ELSES_ASSIGNMENT_API),
    "api-chat-ranking": Rule("user", 405, "owner", 400, ANYONE_ELSES_ASSIGNMENT_API),
    # the service answers 403 "this assignment belongs to another labeler"
    "api-release": Rule("user", 405, "owner", 204, ANYONE_ELSES_ASSIGNMENT_API),
    "api-renew": Rule("user", 405, "owner", 200, ANYONE_ELSES_ASSIGNMENT_API),
    "api-snapshots": Rule("reviewer", 200, "reviewer", 400),
    "api-snapshot": Rule("reviewer", 200, "user", 405),
    "api-export-start": Rule("user", 405, "reviewer", 400),
    "api-practice-export-start": Rule("user", 405, "reviewer", 400),
    "api-export": Rule("reviewer", 200, "user", 405),
    "api-export-download": Rule("reviewer", 409, "user", 405),
    "trainer_bridge:exports": Rule("reviewer", 200, "user", 405),
    "trainer_bridge:snapshot-create": Rule("user", 405, "reviewer", 302),
    "trainer_bridge:export-start": Rule("user", 405, "reviewer", 302),
    "trainer_bridge:export-status": Rule("reviewer", 200, "user", 405),
    "trainer_bridge:export-download": Rule("reviewer", 409, "user", 405),
    "jobs:models": Rule("reviewer", 200, "user", 405),
    "jobs:model": Rule("reviewer", 200, "user", 405),
    "jobs:model-labels": Rule("reviewer", 200, "user", 405),
    "jobs:jobs": Rule("reviewer", 200, "user", 405),
    "jobs:generation-start": Rule("user", 405, "admin", 302),
    "jobs:best-of-n-start": Rule("user", 405, "admin", 302),  # an empty form: an error shown on the Jobs tab
    "jobs:training-start": Rule("user", 405, "admin", 302),
    "jobs:job": Rule("reviewer", 200, "user", 405),
    "jobs:job-live": Rule("reviewer", 200, "user", 405),
    "jobs:job-cancel": Rule("user", 405, "admin", 302),
    # a queued job cannot be retried: the page says so and goes back
    "jobs:job-retry": Rule("user", 405, "admin", 302),
    "jobs:retrain": Rule("reviewer", 200, "user", 405),
    "jobs:retrain-create": Rule("user", 405, "admin", 302),
    "jobs:retrain-action": Rule("user", 405, "admin", 302),
    "jobs:api-models": Rule("reviewer", 200, "admin", 400),
    # a shared base model belongs to no project: whoever is a reviewer nowhere gets 403
    "jobs:api-model": Rule("reviewer", 200, "user", 405, {("non_member", "GET"): 403}),
    # POST-only. The world's model is a shared base model, no adapter: whoever may see it is told so (400);
    # merging a project's adapter is for its admins (tests/trainer_bridge/test_training_engine_jobs.py)
    "jobs:api-model-merge": Rule("user", 405, "reviewer", 400, {("non_member", "POST"): 403}),
    # the empty body names no template: an admin's 400
    "jobs:api-model-chat-template": Rule("user", 405, "admin", 400, {("non_member", "POST"): 403}),
    "jobs:api-generation-jobs": Rule("reviewer", 200, "admin", 400),
    "jobs:api-best-of-n-jobs": Rule("reviewer", 200, "admin", 400),
    "jobs:api-generation-job": Rule("reviewer", 200, "user", 405),
    "jobs:api-generation-job-cancel": Rule("user", 405, "admin", 202),
    "jobs:api-training-jobs": Rule("reviewer", 200, "admin", 400),
    "jobs:api-training-job": Rule("reviewer", 200, "user", 405),
    "jobs:api-training-job-cancel": Rule("user", 405, "admin", 202),
    "jobs:api-jobs": Rule("reviewer", 200, "user", 405),
    "jobs:api-job": Rule("reviewer", 200, "user", 405),
    "jobs:api-job-cancel": Rule("user", 405, "admin", 202),
    "jobs:api-job-retry": Rule("user", 405, "admin", 409),  # the world's jobs are queued, not failed
    "jobs:api-retrain-policies": Rule("reviewer", 200, "admin", 400),
    "jobs:api-retrain-policy": Rule("reviewer", 200, "user", 405),
    "jobs:api-retrain-policy-check": Rule("user", 405, "admin", 200),
    # model servers: an empty form or body is refused (redirect with the reason, 400); the world's server
    # is an operator's that does not answer, so a check records it unhealthy and a stop unregisters it
    "jobs:server-start": Rule("user", 405, "admin", 302),
    "jobs:server-register": Rule("user", 405, "admin", 302),
    "jobs:server-action": Rule("user", 405, "admin", 302),
    "jobs:api-model-servers": Rule("reviewer", 200, "admin", 400),
    "jobs:api-model-server-register": Rule("user", 405, "admin", 400),
    "jobs:api-model-server": Rule("reviewer", 200, "user", 405),
    "jobs:api-model-server-check": Rule("user", 405, "admin", 200),
    "jobs:api-model-server-stop": Rule("user", 405, "admin", 202),
    # the leaderboard and the votes are for reviewers (labelers vote blind); starting evaluations and
    # scoring jobs is for admins (an empty form goes back with the reason; an empty body is a 400)
    "jobs:evaluation": Rule("reviewer", 200, "user", 405),
    "jobs:evaluation-start": Rule("user", 405, "admin", 302),
    "jobs:scoring-start": Rule("user", 405, "admin", 302),
    "jobs:evaluation-votes": Rule("reviewer", 200, "user", 405),
    "jobs:evaluation-pairs": Rule("reviewer", 200, "user", 405),
    "jobs:api-leaderboard": Rule("reviewer", 200, "user", 405),
    "jobs:api-evaluation-start": Rule("user", 405, "admin", 400),
    "jobs:api-scoring-jobs": Rule("user", 405, "admin", 400),
    "jobs:api-evaluation-votes": Rule("reviewer", 200, "user", 405),
    "jobs:api-evaluation-pairs": Rule("reviewer", 200, "user", 405),
    "guidelines:page": Rule("labeler", 200, "labeler", 200),
    "guidelines:version": Rule("labeler", 200, "labeler", 200),
    "guidelines:diff": Rule("labeler", 200, "labeler", 200),
    "guidelines:diff-pick": Rule("labeler", 302, "user", 405),  # a GET form, sent on to guidelines:diff
    "guidelines:edit": Rule("admin", 200, "admin", 200),
    "guidelines:preview": Rule("user", 405, "admin", 200),
    "guidelines:acknowledge": Rule("user", 405, "labeler", 400),
    "curation:overview": Rule("admin", 200, "user", 405),
    "curation:settings": Rule("user", 405, "admin", 400),
    "curation:run": Rule("user", 405, "admin", 302),
    "curation:duplicates": Rule("admin", 200, "user", 405),
    "curation:cluster-keep": Rule("user", 405, "admin", 400),
    "curation:flags": Rule("admin", 200, "user", 405),
    "curation:eval-sets": Rule("admin", 200, "admin", 400),
    "curation:eval-set-delete": Rule("user", 405, "admin", 302),
    "labeling:home": Rule("user", 200, "user", 200),
    "labeling:next": Rule("labeler", 200, "labeler", 302),
    "labeling:assignment": Rule("owner", 200, "owner", 200),
    "labeling:rank": Rule("user", 405, "owner", 400),
    # an empty draft is a board with nothing placed yet: saved for the owner
    "labeling:rank-draft": Rule("user", 405, "owner", 200),
    "labeling:rank-change": Rule("user", 405, "owner", 400),
    "labeling:write": Rule("user", 405, "owner", 400),
    # chats: the world's assignment is a ranking task (its owner gets 400, naming the kind); turn 0 is none
    "labeling:chat-draft": Rule("user", 405, "owner", 400),
    "labeling:chat-submit": Rule("user", 405, "owner", 400),
    "labeling:chat-reply": Rule("user", 405, "owner", 400),
    "labeling:chat-search": Rule("user", 405, "owner", 400),
    "labeling:chat-alternatives": Rule("user", 405, "owner", 400),
    "labeling:chat-rank": Rule("owner", 404, "owner", 404),
    "labeling:chat-rank-draft": Rule("user", 405, "owner", 404),
    # a vote needs a choice; the world's assignment is a ranking task, so its owner's draft of a vote is
    # refused too (an evaluation task's owner saves one: tests/web/test_vote_on_a_comparison.py)
    "labeling:evaluate": Rule("user", 405, "owner", 400),
    "labeling:evaluate-draft": Rule("user", 405, "owner", 400),
    "labeling:draft": Rule("user", 405, "owner", 400),
    # the form is checked before the assignment: an empty query is refused whoever sends it
    "labeling:search": Rule("user", 405, "user", 400),
    "labeling:preview": Rule("user", 405, "owner", 200),
    # a ranking task reads no documents (a search task's owner does: tests/web/test_search_conversation.py)
    "labeling:search-document": Rule("owner", 404, "user", 405),
    "labeling:skip": Rule("user", 405, "owner", 400),
    "labeling:release": Rule("user", 405, "owner", 302),
    "labeling:renew": Rule("user", 405, "owner", 200),
    "labeling:review-queue": Rule("reviewer", 200, "user", 405),
    "labeling:task-review": Rule("reviewer", 200, "user", 405),
    "labeling:review": Rule("user", 405, "reviewer", 302),
    "labeling:review-next": Rule("reviewer", 302, "user", 405),  # on to the next task, or the queue
    "labeling:review-accept-next": Rule("user", 405, "reviewer", 302),
    "labeling:project-new": Rule("staff", 200, "staff", 200),
    "labeling:project-settings": Rule("admin", 200, "admin", 200),
    "labeling:member-set": Rule("user", 405, "admin", 302),
    "labeling:chat-settings": Rule("user", 405, "admin", 302),  # an empty form goes back with the reason
    "labeling:member-remove": Rule("user", 405, "admin", 302),
    "labeling:import": Rule("admin", 200, "admin", 200),
    "labeling:corpus": Rule("admin", 200, "admin", 200),
    "labeling:corpus-delete": Rule("user", 405, "admin", 302),
    "labeling:dashboard": Rule("admin", 200, "admin", 200),
    "quality:agreement": Rule("reviewer", 200, "reviewer", 200),
    "quality:labelers": Rule("reviewer", 200, "admin", 200),
    "jobs:probes": Rule("reviewer", 200, "admin", 400),
    "jobs:probe-set": Rule("reviewer", 200, "admin", 200),
    "jobs:practice-sets": Rule("reviewer", 200, "admin", 400),
    "jobs:practice-set": Rule("reviewer", 200, "admin", 200),
    "jobs:practice-export": Rule("user", 405, "reviewer", 302),
    # an admin's empty GRPO form names no model to start from: back to the practice set's page
    "jobs:grpo-start": Rule("user", 405, "admin", 302),
    "jobs:api-grpo-jobs": Rule("reviewer", 200, "admin", 400),
    # --- model drafts ---
    # reviewers read the figures and settings; an admin's empty form lacks the sampling settings (400), and
    # an empty start is refused with the reason (no model version chosen: back to the page, 302)
    "jobs:model-drafts": Rule("reviewer", 200, "admin", 400),
    "jobs:drafting-start": Rule("user", 405, "admin", 302),
    # PUT changes the settings (admins): tests/curation/test_model_draft_figures.py
    "jobs:api-reply-draft-settings": Rule("reviewer", 200, "user", 405),
    "jobs:api-drafting-jobs": Rule("reviewer", 200, "admin", 400),  # an empty start: no model version chosen
    # --- active task selection ---
    # reviewers read the queue order and scoring; an admin's empty form lacks the order (400), and an empty
    # scoring start is refused with the reason (no reward model chosen: back to the page, 302)
    "jobs:active-selection": Rule("reviewer", 200, "admin", 400),
    "jobs:queue-scoring-start": Rule("user", 405, "admin", 302),
    # PUT changes the settings (admins): tests/web/test_active_selection.py
    "jobs:api-active-selection": Rule("reviewer", 200, "user", 405),
    "jobs:api-queue-scoring-jobs": Rule("reviewer", 200, "admin", 400),  # no reward model chosen
}


@dataclass(frozen=True)
class Endpoint:
    name: str
    route: str
    kwargs: dict[str, str]  # keyword -> converter name ("int", "str")

    @property
    def is_api(self) -> bool:
        return self.route.startswith("api/")


def _walk(resolver: URLResolver, route: str = "", namespace: str = "") -> Iterator[Endpoint]:
    for entry in resolver.url_patterns:
        converters = {
            k: type(c).__name__.removesuffix("Converter").lower()
            for k, c in getattr(entry.pattern, "converters", {}).items()
        }
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            for endpoint in _walk(entry, route + str(entry.pattern), inner):
                yield Endpoint(endpoint.name, endpoint.route, converters | endpoint.kwargs)
        elif isinstance(entry, URLPattern):
            name = f"{namespace}{entry.name}" if entry.name else f"<unnamed {route}{entry.pattern}>"
            yield Endpoint(name, route + str(entry.pattern), converters)


def _exempt(endpoint: Endpoint) -> bool:
    return endpoint.name in EXEMPT or any(endpoint.route.startswith(r) for r in EXEMPT_ROUTES)


ENDPOINTS = [e for e in _walk(get_resolver()) if not _exempt(e)]
JOB_KINDS = ["generation", "training"]


def concrete_urls(endpoint: Endpoint, world: World) -> dict[str, str]:
    """One URL per valid value of the endpoint's string parts, its ids those of real objects."""
    kinds = JOB_KINDS if "kind" in endpoint.kwargs else [None]
    urls = {}
    for kind in kinds:
        kwargs: dict[str, object] = {}
        for key in endpoint.kwargs:
            if key == "kind":
                kwargs[key] = kind
            elif key == "job_id":
                job = kind or next((k for k in ("export", *JOB_KINDS) if k in endpoint.name), "generation")
                kwargs[key] = world.job_ids[job]
            elif key == "set_id":
                kwargs[key] = world.set_ids["probe" if "probe" in endpoint.name else "practice"]
            elif key == "token_id":
                kwargs[key] = 0  # names no token
            elif key == "turn_id":
                kwargs[key] = 0  # names no chat turn (the world's assignment is a ranking task)
            else:
                kwargs[key] = world.ids[key]
        urls[kind or ""] = reverse(endpoint.name, kwargs=kwargs)
    return urls


def denied_status(endpoint: Endpoint, who: str, role: str) -> int | None:
    """The status a role gets for lacking permission, or None when it holds it."""
    if who == "public":
        return None
    if role == "anonymous":
        return 403 if endpoint.is_api else 302
    if who == "user":
        return None
    if who == "staff":
        return None if role == "admin" else 403
    if role == "non_member":
        return 404
    if who == "owner":  # the world's labeler holds the assignment
        return None if role == "labeler" else 404
    if who == "owner_or_reviewer":
        return None
    return 403 if RANK[role] < RANK[who] else None


def expected_statuses(endpoint: Endpoint, rule: Rule) -> dict[tuple[str, str], int]:
    statuses = {}
    for method, who, granted in (("GET", rule.get_who, rule.get), ("POST", rule.post_who, rule.post)):
        for role in ROLES:
            denied = denied_status(endpoint, who, role)
            statuses[(role, method)] = granted if denied is None else denied
    return statuses | rule.special


def observed(endpoint: Endpoint, url: str, world: World) -> dict[tuple[str, str], int]:
    """Every role's GET, then every role's empty POST (so one role's POST never hides another's GET)."""
    statuses: dict[tuple[str, str], int] = {}
    for method in ("GET", "POST"):
        for role in ROLES:
            client = client_as(world.people[role])
            response = client.get(url) if method == "GET" else client.post(url)
            if response.status_code == 302 and role == "anonymous":
                assert response["Location"].startswith("/login/?next="), (url, response["Location"])
            statuses[(role, method)] = response.status_code
    return statuses


def test_every_url_has_a_reviewed_expectation():
    names = {e.name for e in ENDPOINTS}
    assert not names - EXPECTED.keys(), (
        f"URLs without a reviewed rule in EXPECTED: {sorted(names - EXPECTED.keys())}"
    )
    assert not EXPECTED.keys() - names, (
        f"rules for URLs that no longer exist: {sorted(EXPECTED.keys() - names)}"
    )


@pytest.mark.parametrize("endpoint", ENDPOINTS, ids=lambda e: e.name)
def test_every_role_gets_the_reviewed_status(world, endpoint):
    if endpoint.name not in EXPECTED:
        pytest.fail(f"{endpoint.name} ({endpoint.route}) has no reviewed rule in EXPECTED")
    want = expected_statuses(endpoint, EXPECTED[endpoint.name])
    for url in concrete_urls(endpoint, world).values():
        got = observed(endpoint, url, world)
        assert not {k: v for k, v in got.items() if v >= 500}, f"server errors on {url}: {got}"
        wrong = {
            f"{role} {method}": (got[role, method], want[role, method])
            for role, method in want
            if got[role, method] != want[role, method]
        }
        assert not wrong, f"{url}: (got, expected) {wrong}"


# --- removed members and self-review, over the same URL list ------------------------------------------

SCOPED_KWARGS = {
    "project_id", "assignment_id", "task_id", "snapshot_id", "job_id", "set_id", "policy_id", "cluster_id",
    "eval_set_id", "corpus_id", "model_id", "user_id", "number", "old", "new", "server_id",
}  # fmt: skip
SCOPED = [e for e in ENDPOINTS if SCOPED_KWARGS & e.kwargs.keys()]


def test_a_removed_member_reaches_nothing_of_the_project_on_any_url(world):
    """Remy labeled, held a lease and had a token; once removed, every project URL, their own former
    assignment's included, answers as to a stranger, by session and by token."""
    from rest_framework.test import APIClient

    from accounts.services import api_token_issue
    from guidelines.services import guideline_acknowledge
    from labeling.models import Assignment, Role
    from labeling.services.projects import membership_remove, membership_set
    from labeling.services.queue import claim_next_task

    remy = world.people["non_member"].__class__.objects.create_user(username="remy", password="pw-remy")
    membership_set(project=world.project, user=remy, role=Role.LABELER)
    guideline_acknowledge(user=remy, version=world.project.guideline.versions.get(number=2))
    held = claim_next_task(project=world.project, labeler=remy)
    _, key = api_token_issue(user=remy, name="script")
    assert membership_remove(project=world.project, user=remy) == 1
    assert Assignment.objects.get(pk=held.pk).state != Assignment.State.ACTIVE  # the slot is back in the pool

    web, api = client_as(remy), APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    leaks = {}
    for endpoint in SCOPED:
        for url in concrete_urls(endpoint, world).values():
            own = (
                url.replace(f"/{world.ids['assignment_id']}/", f"/{held.pk}/")
                if "assignment_id" in (endpoint.kwargs)
                else url
            )
            client = api if endpoint.is_api else web
            for method in ("get", "post"):
                status = getattr(client, method)(own).status_code
                # 400: an empty body is refused before anything is looked up, whoever sends it
                allowed = {403, 404, 405} | ({400} if method == "post" else set())
                if status not in allowed:
                    leaks[f"{method.upper()} {own}"] = status
    assert not leaks, leaks


REVIEW_ENDPOINTS = [
    e for e in ENDPOINTS if {"review", "reviews"} & set(e.route.split("/")) and "assignment_id" in e.kwargs
]


@pytest.mark.parametrize("allowed", [False, True], ids=["default", "one-person-team"])
def test_a_reviewer_reviews_their_own_work_on_no_url_unless_the_project_allows_it(world, allowed):
    from rest_framework.test import APIClient

    from labeling.models import Review
    from labeling.services.annotations import ranking_submit
    from labeling.services.queue import claim_next_task

    assert {e.name for e in REVIEW_ENDPOINTS} == {"labeling:review", "api-review"}
    rhea, project = world.people["reviewer"], world.project
    seed_rankings(project, 3 + len(REVIEW_ENDPOINTS))  # the world has p0..p2; these are p3, p4
    project.allow_self_review = allowed
    project.save(update_fields=["allow_self_review"])
    own = []
    for _ in REVIEW_ENDPOINTS:
        assignment = claim_next_task(project=project, labeler=rhea)
        ranking_submit(assignment_id=assignment.pk, labeler=rhea, tiers=[assignment.task.candidate_ids])
        own.append(assignment.pk)
    api = APIClient()
    api.force_authenticate(rhea)
    for endpoint, assignment_id in zip(REVIEW_ENDPOINTS, own, strict=True):
        url = reverse(endpoint.name, kwargs={"assignment_id": assignment_id})
        client = api if endpoint.is_api else client_as(rhea)
        response = client.post(url, {"verdict": "accept"})
        assert response.status_code == ((201 if endpoint.is_api else 302) if allowed else 403), url
    assert Review.objects.filter(assignment_id__in=own).count() == (len(own) if allowed else 0)
