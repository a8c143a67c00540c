"""The committed contract documentation (docs/) is what the code generates now."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from services.common.docs import undocumented_inputs

REPO = Path(__file__).resolve().parents[2]


def test_committed_asyncapi_and_json_schemas_match_the_code() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "services.common.docs", "--check"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr


def test_the_check_notices_a_stale_document(tmp_path: Path) -> None:
    out = tmp_path / "docs"
    subprocess.run(
        [sys.executable, "-m", "services.common.docs", "--out", str(out)], cwd=REPO, check=True
    )
    schema = out / "schemas" / "AppealRegistered.json"
    schema.write_text(schema.read_text().replace("registration_number", "reg_no"))
    result = subprocess.run(
        [sys.executable, "-m", "services.common.docs", "--check", "--out", str(out)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "schemas/AppealRegistered.json is out of date" in result.stderr


def test_every_topic_a_service_consumes_has_its_payload_schema_documented() -> None:
    for path in sorted((REPO / "docs" / "asyncapi").glob("*.json")):
        assert undocumented_inputs(json.loads(path.read_text())) == [], path.name


def test_an_input_documented_as_an_empty_payload_is_caught() -> None:
    document = json.loads((REPO / "docs" / "asyncapi" / "routing.json").read_text())
    message = document["components"]["messages"]["routing.appeals_registered:SubscribeMessage"]
    message["payload"] = {"title": "EmptyPayload", "type": "null"}
    assert undocumented_inputs(document) == ["appeals.registered.v1"]


def test_the_readme_security_tables_are_the_access_plan_and_the_roles() -> None:
    from pathlib import Path

    from services.common.auth.roles import roles_table
    from services.common.provisioning.plan import acl_table

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert acl_table() in readme, (
        "README's ACL table: python -m services.common.provisioning --table"
    )
    assert roles_table() in readme, "README's roles table: services/common/auth/roles.py"
