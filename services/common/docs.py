"""Writes the contract documentation that lives in the repository:
  docs/asyncapi/<service>.json   each service's AsyncAPI document (what it consumes)
  docs/openapi/<service>.json    each service's OpenAPI 3.1 document (its HTTP routes)
  docs/schemas/<Model>.json      the JSON Schema of every contract model

    python -m services.common.docs [--check]

`--check` writes nothing and exits 1 when the committed files differ from what the code
generates, or when a service consumes a topic without a documented payload schema (the test
suite runs it), so documentation cannot drift from the code or leave an input blank.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from contracts import ALL_MODELS
from services.common.http import asyncapi_document, service_openapi
from services.common.settings import settings_for

SERVICES = ("intake", "routing", "sla", "notify", "workspace")
SUBDIRS = ("asyncapi", "openapi", "schemas")
DOCS_DIR = Path(__file__).resolve().parents[2] / "docs"


def _render(document: dict) -> str:
    return json.dumps(document, indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def generated_documents() -> dict[Path, str]:
    import importlib

    files: dict[Path, str] = {}
    for service in SERVICES:
        # Stable output: default settings, no prefixes, the documented default broker.
        settings = settings_for(service, kafka_bootstrap_servers="127.0.0.1:9092")
        app_module = importlib.import_module(f"services.{service}.app")
        app = app_module.create_app(settings)
        files[Path("asyncapi") / f"{service}.json"] = _render(asyncapi_document(app.state.runtime))
        files[Path("openapi") / f"{service}.json"] = _render(service_openapi(app))
    for model in ALL_MODELS:
        files[Path("schemas") / f"{model.__name__}.json"] = _render(model.model_json_schema())
    return files


def undocumented_inputs(document: dict) -> list[str]:
    """The topics an AsyncAPI document says the service consumes without saying what a
    message there looks like (FastStream's `EmptyPayload`, or a schema with no shape)."""
    schemas = document.get("components", {}).get("schemas", {})
    messages = document.get("components", {}).get("messages", {})
    missing = []
    for operation in document.get("operations", {}).values():
        if operation.get("action") != "receive":
            continue
        channel = document["channels"][operation["channel"]["$ref"].rsplit("/", 1)[-1]]
        for reference in channel.get("messages", {}).values():
            key = reference["$ref"].rsplit("/", 1)[-1].replace("%7B", "{").replace("%7D", "}")
            payload = messages[key]["payload"]
            if "$ref" in payload:
                payload = schemas.get(payload["$ref"].rsplit("/", 1)[-1], {})
            shaped = any(k in payload for k in ("properties", "oneOf", "anyOf", "allOf"))
            if payload.get("title") == "EmptyPayload" or not shaped:
                missing.append(channel["address"])
    return missing


def main() -> int:
    parser = argparse.ArgumentParser(description="Write or check docs/ from the code.")
    parser.add_argument("--check", action="store_true", help="compare only; exit 1 on drift")
    parser.add_argument("--out", type=Path, default=DOCS_DIR)
    args = parser.parse_args()

    expected = generated_documents()
    if args.check:
        stale = [
            str(path)
            for path, text in expected.items()
            if not (args.out / path).exists() or (args.out / path).read_text() != text
        ]
        extra = [
            str(p.relative_to(args.out))
            for sub in SUBDIRS
            for p in sorted((args.out / sub).glob("*.json"))
            if p.relative_to(args.out) not in expected
        ]
        for name in stale + extra:
            print(f"docs/{name} is out of date: run `make docs`", file=sys.stderr)
        blank = [
            f"{path}: {topic}"
            for path, text in expected.items()
            if path.parts[0] == "asyncapi"
            for topic in undocumented_inputs(json.loads(text))
        ]
        for entry in blank:
            print(f"docs/{entry} is consumed without a payload schema", file=sys.stderr)
        return 1 if stale or extra or blank else 0
    for sub in SUBDIRS:
        (args.out / sub).mkdir(parents=True, exist_ok=True)
        for old in (args.out / sub).glob("*.json"):
            if old.relative_to(args.out) not in expected:
                old.unlink()
    for path, text in expected.items():
        (args.out / path).write_text(text)
    print(f"wrote {len(expected)} documents to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
