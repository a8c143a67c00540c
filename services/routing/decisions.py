"""Routing decisions as pure functions: an appeal (and what happened to it so far) and the
registry in, a decision that names its rule, the rule's version and the reason out.

Owns: the rules below and their order. Does not own: storage, Kafka, clocks (callers pass
`now`), or the registry's data.

First decision for a registered appeal — the first rule that applies wins:
1. `urgent-anonymous-internal-affairs` — an anonymous report of a crime or a threat to
   security (intake marks it `urgent`) goes at once to the internal affairs body of the
   region (its police department), or to the Ministry of Internal Affairs when the place is
   unknown; whatever its category, because the police register every crime report and pass
   it on by jurisdiction themselves.
2. `contest-to-supervising-body` — a repeat complaint against a body's answer (intake set
   `contests`) goes to that body's supervising body (its parent in the registry), which
   decides whether it is substantiated; with no such body in the registry any more, the
   rules below route it like any appeal.
3. The category routing works with: the appeal's own, unless it is `other` or no body but
   the national catch-all takes it at that place; then the text (subject and body) is
   classified and, when the confidence reaches the policy threshold, its category is used.
4. Addressed appeals (e-Otinish `addressed_to`):
   `addressed-body-competent` — the addressed body is competent for the category and place:
   it gets the appeal, even if a more specific body exists (the applicant's choice stands).
   `addressed-body-not-competent-forwarded` — otherwise the most specific competent body gets
   it, `forwarded=true`, with the Art. 65 forwarding deadline.
   `addressed-body-unclassified` — category `other` and the text says too little: the
   addressed body gets it (the applicant chose it, and a body that is not competent must
   forward it within 3 working days itself) — a choice, not a guess.
5. `text-classified-competent-body` — routed on the category read from the text.
   `most-specific-competent-body` — routed on the appeal's category.
   `national-fallback` — a category only the catch-all takes there, text inconclusive.
6. Triage (`appeals.triage.v1`) — `other` with an inconclusive text and no addressee: a human
   decides from the candidate bodies; routing never guesses.

After a body answers "not our competence" (`agency.redirected`):
   `redirect-to-suggested-body` — the body it suggests, if known, not among those that
   declined, and with jurisdiction over the place (competence is not required: the declining
   body may know what the registry cannot, e.g. that a building has its own boiler house);
   `redirect-to-next-competent-body` — else the most specific competent body that has not
   declined; triage when none is left or when more than `max_hops` bodies have declined.
A human triage decision (`triage.decided`): `triage-operator-decision`, operator and note
as the reason; the operator may pick any known body, even one that declined — or leave the
appeal without consideration (`dismissal`): `Dismissed`, published as `appeal.dismissed`,
after which nothing routes it again (redirects and triage decisions find it stale).

Forwarding (Art. 65): a decision that sends the appeal to a body other than the one it was
addressed to or last sent to is `forwarded`; its `forward_due_at` is 3 working days from
receipt by the receiving body — the registration time for the first decision, the decision
time (as registered under Art. 64) afterwards. Non-forwarding decisions carry none.

Rule version: `"<rule version>/<registry version>"`, plus `"/<classifier version>"` when the
text decided; so a decision can be reproduced from the data it was made with.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from contracts import (
    AppealRedirected,
    AppealRegistered,
    Category,
    DismissalReason,
    TriageCandidate,
    TriageDecided,
)
from reference.agencies import Agency, AgencyRegistry
from reference.calendar import CalendarYearNotCovered, WorkingCalendar
from reference.statute import forwarding_deadline
from services.routing.classifier import Classification, TextClassifier
from services.routing.policy import RoutingPolicy
from services.routing.ranking import competent_bodies, only_fallback_is_competent


@dataclass(frozen=True)
class Rule:
    id: str
    version: int


URGENT_ANONYMOUS = Rule("urgent-anonymous-internal-affairs", 1)
CONTEST_SUPERVISOR = Rule("contest-to-supervising-body", 1)
ADDRESSED_COMPETENT = Rule("addressed-body-competent", 1)
ADDRESSED_FORWARDED = Rule("addressed-body-not-competent-forwarded", 1)
ADDRESSED_UNCLASSIFIED = Rule("addressed-body-unclassified", 1)
TEXT_CLASSIFIED = Rule("text-classified-competent-body", 1)
MOST_SPECIFIC = Rule("most-specific-competent-body", 2)
NATIONAL_FALLBACK = Rule("national-fallback", 1)
REDIRECT_SUGGESTED = Rule("redirect-to-suggested-body", 1)
REDIRECT_NEXT = Rule("redirect-to-next-competent-body", 1)
OPERATOR_DECISION = Rule("triage-operator-decision", 1)
GENERAL_COMPETENCE = Rule("general-competence-body", 1)  # names triage candidates only
ADDRESSED_CANDIDATE = Rule("addressed-body", 1)  # names triage candidates only

MOST_SPECIFIC_RULE = MOST_SPECIFIC.id

# Why an appeal went to triage; bounded, so usable as a metric label.
TRIAGE_LOW_CONFIDENCE = "low_confidence"
TRIAGE_UNKNOWN_ADDRESSEE = "unknown_addressee"
TRIAGE_MAX_HOPS = "max_hops"
TRIAGE_NO_BODY_LEFT = "no_competent_body_left"
TRIAGE_UNKNOWN_OPERATOR_CHOICE = "operator_chose_unknown_body"


@dataclass(frozen=True)
class Routed:
    """Send the appeal to `agency`."""

    agency: Agency
    rule: Rule
    rule_version: str
    reason: str
    category: Category
    forwarded: bool = False
    forward_due_at: datetime | None = None

    @property
    def rule_id(self) -> str:
        return self.rule.id


@dataclass(frozen=True)
class Triaged:
    """Ask a human: routing cannot decide on its own."""

    reason_code: str
    reason: str
    category: Category
    candidates: tuple[TriageCandidate, ...]


@dataclass(frozen=True)
class Dismissed:
    """A human left the appeal without consideration: it goes to no body."""

    reason_code: DismissalReason
    note: str
    operator: str
    category: Category


Decision = Routed | Triaged | Dismissed


@dataclass(frozen=True)
class RoutingState:
    """Where an appeal stands after its latest stored decision."""

    hop: int
    agency_code: str | None  # None while it waits in triage
    category: Category
    declined_by: tuple[str, ...] = ()
    held_by: tuple[str, ...] = field(default=())  # every body it was ever sent to


@dataclass(frozen=True)
class Rules:
    """Everything a decision depends on besides the appeal: data, policy, calendar."""

    registry: AgencyRegistry
    classifier: TextClassifier
    policy: RoutingPolicy
    calendar: WorkingCalendar

    @classmethod
    def default(
        cls, registry: AgencyRegistry | None = None, calendar: WorkingCalendar | None = None
    ) -> Rules:
        return cls(
            registry or AgencyRegistry.default(),
            TextClassifier.default(),
            RoutingPolicy(),
            calendar or WorkingCalendar.default(),
        )

    def version(self, rule: Rule, classification: Classification | None = None) -> str:
        version = f"{rule.version}/{self.registry.version}"
        return f"{version}/{classification.version}" if classification else version

    def forward_deadline(self, received_at: datetime) -> datetime | None:
        """Art. 65: 3 working days from receipt (as registered under Art. 64)."""
        try:
            return forwarding_deadline(self.calendar, received_at)
        except CalendarYearNotCovered:
            # A year the calendar has no data for must not block routing; sla reports it.
            return None


def decide_route(
    appeal: AppealRegistered, registry: AgencyRegistry, rules: Rules | None = None
) -> Decision:
    """The first decision for a registered appeal (rules 1–5 of the module docstring)."""
    rules = rules or Rules.default(registry)
    registry = rules.registry
    kato = appeal.region_kato
    place = kato or "an unknown place"

    if appeal.urgent and appeal.applicant.anonymous:
        body = _most_specific(registry, Category.POLICE, kato)
        return Routed(
            agency=body,
            rule=URGENT_ANONYMOUS,
            rule_version=rules.version(URGENT_ANONYMOUS),
            reason=f"Urgent anonymous report ('{appeal.category.value}') of a crime or a "
            f"threat to security: sent at once to the internal affairs body with "
            f"jurisdiction over {place}, {body.names['en']}.",
            category=appeal.category,
        )

    if appeal.contests is not None:
        answered_by = appeal.contests.answered_by
        supervisor = registry.supervising_body(answered_by)
        if supervisor is not None:
            return Routed(
                agency=supervisor,
                rule=CONTEST_SUPERVISOR,
                rule_version=rules.version(CONTEST_SUPERVISOR),
                reason=f"A repeat complaint against the answer of {answered_by} to "
                f"{appeal.contests.registration_number}: its supervising body, "
                f"{supervisor.names['en']}, decides whether it is substantiated.",
                category=appeal.category,
            )

    category, classification = _working_category(appeal, rules)
    by_text = classification is not None and category is not appeal.category

    if appeal.addressed_to:
        addressed = registry.get(appeal.addressed_to)
        addressed_name = (
            addressed.names["en"] if addressed else f"unknown body '{appeal.addressed_to}'"
        )
        if category is Category.OTHER:
            if addressed is None:
                return Triaged(
                    TRIAGE_UNKNOWN_ADDRESSEE,
                    f"Addressed to {addressed_name} and the text does not say what it is "
                    f"about ({_explain(classification, rules)}).",
                    category,
                    _candidates(rules, appeal, classification, declined=()),
                )
            return Routed(
                agency=addressed,
                rule=ADDRESSED_UNCLASSIFIED,
                rule_version=rules.version(ADDRESSED_UNCLASSIFIED, classification),
                reason=f"The applicant addressed {addressed_name}; the text does not show "
                f"another competence ({_explain(classification, rules)}), so the addressed "
                f"body receives it and forwards it within 3 working days if not competent.",
                category=category,
            )
        what = _what(category, classification if by_text else None)
        if _addressed_is_competent(registry, addressed, category, kato):
            rule = ADDRESSED_COMPETENT
            return Routed(
                agency=addressed,
                rule=rule,
                rule_version=rules.version(rule, classification if by_text else None),
                reason=f"The applicant addressed {addressed_name}, which is competent for "
                f"{what} at {place}.",
                category=category,
            )
        body = _most_specific(registry, category, kato)
        rule = ADDRESSED_FORWARDED
        return Routed(
            agency=body,
            rule=rule,
            rule_version=rules.version(rule, classification if by_text else None),
            reason=f"The applicant addressed {addressed_name}, which is not competent for "
            f"{what} at {place}; forwarded (Art. 65) to the most specific competent body, "
            f"{body.names['en']} ({body.level.value}).",
            category=category,
            forwarded=True,
            forward_due_at=rules.forward_deadline(appeal.registered_at),
        )

    if category is Category.OTHER:
        return Triaged(
            TRIAGE_LOW_CONFIDENCE,
            f"Category 'other' and the text is not conclusive enough "
            f"({_explain(classification, rules)}); a human decides.",
            category,
            _candidates(rules, appeal, classification, declined=()),
        )

    body = _most_specific(registry, category, kato)
    if by_text:
        rule = TEXT_CLASSIFIED
        reason = (
            f"Classified from the text as {_what(category, classification)}; "
            f"{body.names['en']} is the most specific body ({body.level.value}) competent for "
            f"it with jurisdiction over {place}."
        )
    elif classification is not None:
        rule = NATIONAL_FALLBACK
        reason = (
            f"Only the national catch-all, {body.names['en']}, takes '{category.value}' at "
            f"{place}, and the text does not point elsewhere ({_explain(classification, rules)})."
        )
    else:
        rule = MOST_SPECIFIC
        reason = (
            f"{body.names['en']} is the most specific body ({body.level.value}) competent "
            f"for '{category.value}' with jurisdiction over {place}."
        )
    return Routed(
        agency=body,
        rule=rule,
        rule_version=rules.version(rule, classification if by_text else None),
        reason=reason,
        category=category,
    )


def decide_redirect(
    appeal: AppealRegistered,
    state: RoutingState,
    redirect: AppealRedirected,
    rules: Rules,
    now: datetime,
) -> Decision:
    """The next body after `redirect.agency_code` declined (never one that declined)."""
    registry = rules.registry
    kato = appeal.region_kato
    place = kato or "an unknown place"
    declined = (*state.declined_by, redirect.agency_code)
    decliner = registry.get(redirect.agency_code)
    decliner_name = decliner.names["en"] if decliner else redirect.agency_code
    said = f"{decliner_name} declined: \u201c{redirect.reason}\u201d"

    if len(declined) > rules.policy.max_hops:
        return Triaged(
            TRIAGE_MAX_HOPS,
            f"{said}. {len(declined)} bodies have declined it, more than the "
            f"{rules.policy.max_hops} redirections routing makes on its own; a human decides.",
            state.category,
            _candidates(
                rules, appeal, None, declined, redirect.suggested_agency_code, state.category
            ),
        )

    suggested = registry.get(redirect.suggested_agency_code)
    if (
        suggested is not None
        and suggested.code not in declined
        and suggested.covers(kato) is not None
    ):
        return Routed(
            agency=suggested,
            rule=REDIRECT_SUGGESTED,
            rule_version=rules.version(REDIRECT_SUGGESTED),
            reason=f"{said}; forwarded to the body it suggested, {suggested.names['en']}, "
            f"which has jurisdiction over {place}.",
            category=state.category,
            forwarded=True,
            forward_due_at=rules.forward_deadline(now),
        )

    remaining = [
        body
        for body in competent_bodies(registry, state.category, kato)
        if body.code not in declined
    ]
    if not remaining:
        return Triaged(
            TRIAGE_NO_BODY_LEFT,
            f"{said}. Every body competent for '{state.category.value}' at {place} has "
            f"declined it ({', '.join(declined)}); a human decides.",
            state.category,
            _candidates(
                rules, appeal, None, declined, redirect.suggested_agency_code, state.category
            ),
        )
    body = remaining[0]
    ignored = ""
    if redirect.suggested_agency_code and suggested is not body:
        ignored = f" Its suggestion '{redirect.suggested_agency_code}' was not followed: " + (
            "unknown body."
            if suggested is None
            else "it already declined."
            if suggested.code in declined
            else f"no jurisdiction over {place}."
        )
    return Routed(
        agency=body,
        rule=REDIRECT_NEXT,
        rule_version=rules.version(REDIRECT_NEXT),
        reason=f"{said}; forwarded to the next most specific competent body for "
        f"'{state.category.value}' at {place} that has not declined, {body.names['en']} "
        f"({body.level.value}).{ignored}",
        category=state.category,
        forwarded=True,
        forward_due_at=rules.forward_deadline(now),
    )


def decide_operator(
    appeal: AppealRegistered,
    state: RoutingState,
    decided: TriageDecided,
    rules: Rules,
    now: datetime,
) -> Decision:
    """Route as the triage operator decided; the operator is the reason. A dismissal
    routes nowhere."""
    category = decided.category or state.category
    if decided.dismissal is not None:
        return Dismissed(decided.dismissal, decided.note, decided.operator, category)
    assert decided.agency_code is not None  # the contract: a body or a dismissal
    body = rules.registry.get(decided.agency_code)
    if body is None:
        return Triaged(
            TRIAGE_UNKNOWN_OPERATOR_CHOICE,
            f"Operator {decided.operator} chose '{decided.agency_code}', which is not in "
            f"registry {rules.registry.version}; a human decides again.",
            category,
            _candidates(rules, appeal, None, state.declined_by, category=category),
        )
    previous = state.held_by[-1] if state.held_by else appeal.addressed_to
    forwarded = previous is not None and previous != body.code
    return Routed(
        agency=body,
        rule=OPERATOR_DECISION,
        rule_version=rules.version(OPERATOR_DECISION),
        reason=f"Triage operator {decided.operator} chose {body.names['en']}: {decided.note}",
        category=category,
        forwarded=forwarded,
        forward_due_at=rules.forward_deadline(now) if forwarded else None,
    )


# --- helpers ------------------------------------------------------------------------------


def _working_category(
    appeal: AppealRegistered, rules: Rules
) -> tuple[Category, Classification | None]:
    """The category to route on, and the classification if the text was consulted."""
    if appeal.category is not Category.OTHER and not only_fallback_is_competent(
        rules.registry, appeal.category, appeal.region_kato
    ):
        return appeal.category, None
    classification = rules.classifier.classify(appeal.subject, appeal.text)
    best = classification.best
    if best is not None and best.confidence >= rules.policy.classification_threshold:
        return best.category, classification
    return appeal.category, classification


def _addressed_is_competent(
    registry: AgencyRegistry, addressed: Agency | None, category: Category, kato: str | None
) -> bool:
    """The catch-all takes only what no other body takes: an appeal addressed to the
    Government Office about lifts in Astana is forwarded to whoever handles lifts there."""
    if addressed is None or not addressed.is_competent(category, kato):
        return False
    return addressed.code != registry.fallback or only_fallback_is_competent(
        registry, category, kato
    )


def _most_specific(registry: AgencyRegistry, category: Category, kato: str | None) -> Agency:
    candidates = competent_bodies(registry, category, kato)
    if not candidates:
        # The registry is validated so that a national body covers every category; reaching
        # this means the data is broken, and the message will be retried, not dropped.
        raise LookupError(f"no body is competent for {category} anywhere")
    return candidates[0]


def _what(category: Category, classification: Classification | None) -> str:
    if classification is None or classification.best is None:
        return f"'{category.value}'"
    best = classification.best
    return (
        f"'{category.value}' (text classification, confidence {best.confidence:.2f}: "
        f"{', '.join(best.matched)})"
    )


def _explain(classification: Classification | None, rules: Rules) -> str:
    threshold = rules.policy.classification_threshold
    if classification is None:
        return "no classification"
    return f"{classification.explain()}; threshold {threshold:.2f}"


def _candidates(
    rules: Rules,
    appeal: AppealRegistered,
    classification: Classification | None,
    declined: tuple[str, ...],
    suggested: str | None = None,
    category: Category | None = None,
) -> tuple[TriageCandidate, ...]:
    """Bodies a human might choose, most likely first, none that declined."""
    registry = rules.registry
    category = category or appeal.category
    kato = appeal.region_kato
    found: dict[str, TriageCandidate] = {}

    def add(body: Agency | None, confidence: float, rule: Rule) -> None:
        if body is not None and body.code not in declined and body.code not in found:
            found[body.code] = TriageCandidate(
                agency_code=body.code, confidence=confidence, rule_id=rule.id
            )

    if classification is not None:
        for score in classification.scores:
            add(_most_specific(registry, score.category, kato), score.confidence, TEXT_CLASSIFIED)
    add(registry.get(suggested), 0.5, REDIRECT_SUGGESTED)
    if category is not Category.OTHER:
        for body in competent_bodies(registry, category, kato):
            add(body, 0.3, MOST_SPECIFIC)
    add(registry.get(appeal.addressed_to), 0.2, ADDRESSED_CANDIDATE)
    # The local body of general competence (the akimat), or the catch-all without a place.
    add(next(iter(competent_bodies(registry, Category.OTHER, kato)), None), 0.1, GENERAL_COMPETENCE)
    ranked = sorted(found.values(), key=lambda c: -c.confidence)
    return tuple(ranked[: rules.policy.triage_candidates])
