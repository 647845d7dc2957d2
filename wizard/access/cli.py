"""``tljh-wizard access HOST|SESSION|ANSWERS [--as IDENTITY ...] [--json]``: who can log in, by the authenticator's own code.

- ``ANSWERS`` (an answers.yaml): the config those answers render; with ``--local``/``--sandbox DIR`` rendered over that
  hub's config.yaml and run with its Python, otherwise run with this machine's Python (SKIPPED when JupyterHub and the
  authenticator packages are not importable here).
- ``SESSION`` (a saved session's name or its hub): the config an apply of the session's answers would write — the
  answers over the hub's current config.yaml — run on the hub over SSH with ``PREFIX/hub/bin/python``.
- ``HOST`` (``[USER@]HOST[:PORT]`` without a session): the hub's live config.yaml, run on the hub.

``--as NAME[:groups=a,b][:orgs=ORG][:domain=D][:approved]`` adds identities to the samples. Exit codes: 0 every finding
ok (or the preview SKIPPED), 1 warnings (an admin who cannot log in; on a live config: everybody can log in),
2 errors (the authenticator cannot be constructed, nobody can log in, an unconfirmed allow-everybody, refused input).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from types import ModuleType

    from wizard.access import Preview
    from wizard.answers import Answers
    from wizard.hub.target import HubTarget


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from wizard.hub.connect import add_target_arguments

    parser.epilog = ("exit codes: 0 ok (or skipped), 1 warnings, 2 errors (the authenticator cannot be constructed, "
                     "nobody can log in, every account can without a confirmed allow_all) or refused input")
    add_target_arguments(parser, host=True)
    for action in parser._actions:
        if action.dest == "host":
            action.metavar = "HOST|SESSION|ANSWERS"
            action.help = "a hub ([USER@]HOST[:PORT]: its live config), a session (its answers over the hub's " \
                          "config) or an answers.yaml"
    parser.add_argument("--as", dest="identities", metavar="IDENTITY", action="append", default=[],
                        help="an identity to try besides the samples: NAME[:groups=a,b][:orgs=ORG][:domain=DOMAIN]"
                             "[:approved] (repeatable; LDAP group DNs separated by ';')")
    parser.add_argument("--json", action="store_true", help="print one JSON object (documented in the README)")


def _fail(message: str, as_json: bool) -> int:
    if as_json:
        print(json.dumps({"error": message}))
    else:
        print(f"tljh-wizard access: {message}", file=sys.stderr)
    return 2


def run(args: argparse.Namespace) -> int:
    from wizard import access
    from wizard.answers import Answers, AnswersError
    from wizard.diagnosis import exit_code, render_line
    from wizard.fields import ValidationError
    from wizard.hub.target import HubError

    try:
        extra = [access.parse_identity(text) for text in args.identities]
    except ValidationError as exc:
        return _fail(str(exc), args.json)
    subject = args.host
    answers, session, source = None, None, "hub config"
    if subject and Path(subject).expanduser().is_file():
        try:
            answers = Answers.load(Path(subject).expanduser(), args.secrets)
        except AnswersError as exc:
            return _fail("the answers cannot be used: " + "; ".join(str(e) for e in exc.errors), args.json)
        args.host, args.secrets, source = None, None, "answers"
        for note in answers.notes:
            print(f"note: {note}", file=sys.stderr)
    elif subject:
        from wizard.audit.cli import find_session
        from wizard.session import SessionError

        try:
            session = find_session(subject)
        except SessionError:
            session = None
        if session is not None:
            answers, source, args.host = session.answers, "session answers", None
    elif not (args.local or args.sandbox):
        return _fail("name a HOST, a SESSION or an ANSWERS file", args.json)

    target = None
    try:
        if source != "answers" or args.local or args.sandbox:
            from wizard.hub.connect import target_from_args

            target = target_from_args(args, answers)
        result = _preview(access, answers, target, extra)
    except (ValueError, HubError, OSError) as exc:
        return _fail(str(exc), args.json)
    finally:
        if session is not None:
            session.close()
    preview, confirmed = result
    findings = preview.diagnoses(allow_all_confirmed=confirmed, live=answers is None)
    secrets = [value for value in (answers.secret_values() if answers else []) if isinstance(value, str) and value]
    if args.json:
        data = {"subject": subject or (args.sandbox or "local"), "source": source, **preview.to_json(),
                "findings": [finding.to_json() for finding in findings], "exit_code": exit_code(findings)}
        text = json.dumps(data)
        for secret in secrets:
            text = text.replace(json.dumps(secret)[1:-1], "********")
        print(text)
    else:
        print(f"Source: {source}" + (f" ({subject})" if subject else ""))
        print(preview.table())
        for finding in findings[1:] if findings and findings[0].id == access.PREVIEW else findings:
            print(render_line(finding))
    return exit_code(findings)


def _preview(access: ModuleType, answers: Answers | None, target: HubTarget | None,
             extra: list[dict[str, Any]]) -> tuple[Preview, bool]:
    from wizard.hub import apply

    if target is None:
        config = access.rendered_config(answers)
        return access.preview(config, extra=extra), access.allow_all_confirmed(answers)
    with target:
        base = apply.read_config(target)
        if answers is not None:
            config = access.rendered_config(answers, base)
            confirmed = access.allow_all_confirmed(answers)
        else:
            from wizard import yamlio

            config = yamlio.loads(base, "config.yaml") if base.strip() else {}
            config = json.loads(json.dumps(config if isinstance(config, dict) else {}, default=str))
            confirmed = False
        return access.preview(config, target=target, extra=extra), confirmed
