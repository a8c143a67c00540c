"""HTTP authentication and authorisation (DESIGN §9): bearer tokens checked against a JWKS
(tokens.py), permissions held by roles (roles.py), protected routes that answer 401/403 and
audit every call (guard.py), and the local issuer that stands in for the government SSO on
this machine (issuer.py; `python -m services.common.auth`).
"""
