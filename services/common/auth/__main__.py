"""`python -m services.common.auth` — the local issuer's command line:

    token --subject alice --role call-centre-operator [--role ...] [--minutes 15] [--client c]
        print a bearer token signed by the local issuer (for curl, the bench, a demo)
    rotate-key      sign with a new key from now on (the old one still verifies)
    retire-key KID  remove a key: every token it signed is refused from the next request
    keys            list the key ids in the JWKS, newest first

Reads the secrets directory (services/common/secret_files.py) and TYNDAU_AUTH_ISSUER /
TYNDAU_AUTH_AUDIENCE like the services do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from services.common.auth.issuer import (
    DEFAULT_AUDIENCE,
    DEFAULT_ISSUER,
    LocalIssuer,
    retire_key,
    rotate_signing_key,
)
from services.common.auth.roles import ROLE_PERMISSIONS
from services.common.secret_files import JWKS_FILE, secrets_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.common.auth")
    commands = parser.add_subparsers(dest="command", required=True)
    token = commands.add_parser("token", help="print a signed bearer token")
    token.add_argument("--subject", required=True)
    token.add_argument("--role", action="append", required=True, choices=sorted(ROLE_PERMISSIONS))
    token.add_argument("--minutes", type=int, default=15)
    token.add_argument("--client")
    commands.add_parser("rotate-key", help="sign with a new key from now on")
    retire = commands.add_parser("retire-key", help="stop accepting tokens of one key")
    retire.add_argument("kid")
    commands.add_parser("keys", help="list the key ids in the JWKS")
    args = parser.parse_args(argv)
    directory = secrets_dir()
    if args.command == "token":
        issuer = LocalIssuer(
            directory,
            os.environ.get("TYNDAU_AUTH_ISSUER", DEFAULT_ISSUER),
            os.environ.get("TYNDAU_AUTH_AUDIENCE", DEFAULT_AUDIENCE),
        )
        print(issuer.token(args.subject, args.role, seconds=args.minutes * 60, client=args.client))
    elif args.command == "rotate-key":
        print(f"[auth] now signing with key {rotate_signing_key(directory)}")
    elif args.command == "retire-key":
        if not retire_key(directory, args.kid):
            print(f"[auth] no key {args.kid} in {directory / JWKS_FILE}", file=sys.stderr)
            return 1
        print(f"[auth] key {args.kid} retired")
    else:
        document = json.loads((directory / JWKS_FILE).read_text(encoding="utf-8"))
        for key in document["keys"]:
            print(key["kid"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
