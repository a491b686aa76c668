"""Schema-driven fuzzing of the whole API (issue 17, item 2).

Schemathesis generates requests for every operation of /api/openapi.json, valid and
invalid alike, and each is sent once as every role: anonymous, applicant, institution,
reviewer, administrator, person, agency staff and source unit. Path parameters are
mostly real ids of a populated server (an institution with a succeeded job, a product,
an objection, a ticket, a report, a verification letter...), so requests reach the
code behind the access checks. Every answer must be no server error, have a status the
operation lists, a content type it declares and a body its schema describes.

Run by `creditpool/tests/server/contract.rs`, which starts and populates the server
and writes the fixture this reads (CONTRACT_FIXTURE); not meant to be run by hand.
"""

import collections
import http.client
import itertools
import json
import os
import re

import requests
import schemathesis
from hypothesis import HealthCheck, Phase, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.transport.serialization import serialize_binary

FIXTURE = json.loads(open(os.environ["CONTRACT_FIXTURE"], encoding="utf-8").read())
BASE_URL = FIXTURE["base_url"]
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]

# Evidence files and models are raw bytes.
@schemathesis.serializer("application/pdf", "application/wasm")
def _binary(ctx, value):
    return {"data": serialize_binary(value)}


schema = schemathesis.openapi.from_dict(FIXTURE["document"])
schema.config.update(base_url=BASE_URL)

# Real values of path parameters: (pattern of the path template, parameter, value).
REAL = [(re.compile(pattern), name, value) for pattern, name, value in FIXTURE["parameters"]]
# One case in this many keeps the generated path parameters (unknown ids, odd text).
GENERATED_EVERY = 4
SEEN = {"cases": 0}
# Each role's session token: signed in again when a case ends it.
TOKENS = {role: token for role, token in FIXTURE["tokens"]}


SIGN_INS = itertools.count()


def sign_in(username):
    """Signs `username` in again, from a loopback address of its own: the fuzzing spends
    the per-address budget of login attempts of 127.0.0.1."""
    host, port = BASE_URL.removeprefix("http://").split(":")
    source = f"127.0.{next(SIGN_INS) % 200 + 1}.2"
    connection = http.client.HTTPConnection(host, int(port), timeout=60, source_address=(source, 0))
    body = json.dumps({"username": username, "password": FIXTURE["password"]})
    connection.request("POST", "/api/v1/sessions", body, {"Content-Type": "application/json"})
    answer = connection.getresponse()
    text = answer.read().decode()
    connection.close()
    assert answer.status == 201, f"{username} cannot sign in again: {text}"
    return json.loads(text)["token"]


def still_signed_in(token):
    answer = requests.get(
        f"{BASE_URL}/api/v1/me", headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return answer.status_code != 401


# Statuses answered, by role, for the closing summary.
STATUSES = collections.defaultdict(collections.Counter)


def with_real_ids(case):
    """Puts the real ids the fixture gives for this path into `case`."""
    SEEN["cases"] += 1
    if SEEN["cases"] % GENERATED_EVERY == 0 or not case.path_parameters:
        return
    for pattern, name, value in REAL:
        if name in case.path_parameters and pattern.search(case.path):
            case.path_parameters[name] = value


@schema.parametrize()
@settings(
    max_examples=FIXTURE["max_examples"],
    deadline=None,
    database=None,
    derandomize=True,
    phases=[Phase.explicit, Phase.generate],
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_in_the_contract(case):
    with_real_ids(case)
    failures = []
    for role, username in FIXTURE["roles"]:
        token = TOKENS.get(role)
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        response = case.call(headers=headers, timeout=60)
        if response.status_code == 401 and username and not still_signed_in(token):
            # The case ended the role's session (a logout, its credentials revoked):
            # sign in again and send it once more.
            TOKENS[role] = sign_in(username)
            headers = {"Authorization": f"Bearer {TOKENS[role]}"}
            response = case.call(headers=headers, timeout=60)
        STATUSES[role][response.status_code] += 1
        try:
            case.validate_response(response, checks=CHECKS, headers=headers)
        except (AssertionError, BaseExceptionGroup) as failure:
            for detail in getattr(failure, "exceptions", [failure]):
                failures.append((role, " ".join(str(detail).split())))
    if failures:
        # One line a failure, for the report (pytest's output shortens them).
        with open("failures.txt", "a", encoding="utf-8") as out:
            for role, failure in failures:
                out.write(f"{case.method} {case.path} [{role}]: {failure}\n")
    assert not failures, "\n".join(f"as {role}: {failure}" for role, failure in failures)


def test_every_role_was_answered_with_success_as_well_as_refusals():
    """Run last (pytest keeps the file's order): the fuzzing reached past the access
    checks for every role, so the answers checked above are not only refusals."""
    summary = {role: dict(counts) for role, counts in STATUSES.items()}
    print("statuses by role:", json.dumps(summary, sort_keys=True))
    assert len(summary) == len(FIXTURE["roles"]), summary
    for role, counts in summary.items():
        success = sum(n for status, n in counts.items() if status < 300)
        assert success > 0, f"{role} was never answered with success: {counts}"
        assert all(status < 500 for status in counts), f"{role}: {counts}"
