"""``tljh-wizard export``: a session's (or an answers file's) answers as answers.yaml, TLJH config.yaml or Z2JH values.

Secrets never reach an export unless asked: ``--secrets PATH`` writes them to a separate 0600 file,
``--include-secrets`` keeps them inline (and then the export itself is written 0600).
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from typing import Any

from wizard.answers import Answers
from wizard.fields import ValidationError
from wizard.files import atomic_write

FORMATS = ("answers", "tljh", "z2jh")
REDACTED = "<secret: export with --include-secrets>"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", metavar="SESSION_OR_ANSWERS",
                        help="a session name (see `tljh-wizard sessions`) or an answers.yaml file")
    parser.add_argument("--format", "-f", choices=FORMATS, default="answers",
                        help="answers: replayable answers.yaml; tljh: TLJH's config.yaml; z2jh: Helm values for "
                             "Zero to JupyterHub (default: answers)")
    parser.add_argument("-o", "--output", metavar="PATH", help="write here instead of standard output")
    secrets = parser.add_mutually_exclusive_group()
    secrets.add_argument("--include-secrets", action="store_true",
                         help="keep secret values in the export itself (the file is written 0600)")
    secrets.add_argument("--secrets", metavar="PATH",
                         help="write the secret values to this separate file (0600)")
    parser.add_argument("--secrets-from", metavar="PATH",
                        help="when SOURCE is an answers file: the secrets.yaml that goes with it")
    parser.add_argument("--base", metavar="PATH",
                        help="tljh format: update this existing config.yaml in place (comments and keys the wizard "
                             "does not manage are kept)")
    parser.add_argument("--tljh-version", choices=("2.0.0", "main"), default="2.0.0",
                        help="tljh format: the TLJH schema to validate against (default: 2.0.0)")


def load_source(source: str, secrets_from: str | None = None) -> Answers:
    """Answers from an answers file (plus its secrets file) or from a saved session."""
    path = Path(source).expanduser()
    if path.is_file():
        return Answers.load(path, secrets_from)
    if secrets_from:
        raise ValidationError("--secrets-from applies only when the source is an answers file")
    from wizard.session import Session, SessionError

    try:
        session = Session.open(source, create=False, lock=False)
    except SessionError as exc:
        if "/" in source or source.endswith((".yaml", ".yml")):
            raise ValidationError(f"{source}: no such file") from None
        raise ValidationError(str(exc)) from None
    return session.answers


def render_answers(answers: Answers, include_secrets: bool) -> tuple[str, str]:
    """(answers.yaml text, secrets.yaml text)."""
    from wizard import yamlio
    from wizard.answers import ANSWERS_HEADER, SECRETS_HEADER

    public, secret = answers.split()
    if include_secrets:
        merged = {"version": public["version"]}
        for section in list(public) + list(secret):
            if section != "version":
                merged.setdefault(section, {}).update(public.get(section, {}))
                merged[section].update(secret.get(section, {}))
        return yamlio.dump(merged, header=SECRETS_HEADER), ""
    return yamlio.dump(public, header=ANSWERS_HEADER), yamlio.dump(secret, header=SECRETS_HEADER)


def render_tljh(answers: Answers, tljh_version: str, base_text: str | None, include_secrets: bool) -> str:
    """TLJH's config.yaml for these answers, validated; secrets replaced by a placeholder unless included."""
    from wizard import yamlio
    from wizard.tljh import config as tljh_config

    answers.require_complete()
    rendered = tljh_config.render(answers, tljh_version=tljh_version)
    if not include_secrets:
        rendered = _redact(rendered, set(answers.secret_values()))
    text = tljh_config.update(base_text, rendered, "--base") if base_text is not None else tljh_config.dump(rendered)
    problems = tljh_config.validate(yamlio.loads(text), tljh_version)
    if problems:
        raise ValidationError("the rendered config.yaml is not valid for TLJH " + tljh_version + ":\n  "
                              + "\n  ".join(str(p) for p in problems))
    return text


def _redact(data: Any, secrets: set[Any]) -> Any:
    if isinstance(data, dict):
        return {key: _redact(value, secrets) for key, value in data.items()}
    if isinstance(data, list):
        return [_redact(item, secrets) for item in data]
    return REDACTED if isinstance(data, str) and data in secrets else data


def run(args: argparse.Namespace) -> int:
    answers = load_source(args.source, args.secrets_from)
    private = 0o600 if args.include_secrets else 0o644
    secrets_text = ""
    if args.format == "answers":
        if args.base:
            raise ValidationError("--base applies only to --format tljh")
        text, secrets_text = render_answers(answers, args.include_secrets)
    elif args.format == "tljh":
        if args.secrets:
            raise ValidationError("TLJH's config.yaml holds its secrets inline: use --include-secrets, or export "
                                  "--format answers --secrets PATH")
        base_text = None
        if args.base:
            from wizard.files import InputFileError, read_small

            try:
                base_text = read_small(args.base, what="config.yaml").decode("utf-8")
            except InputFileError as exc:
                raise ValidationError(f"--base {exc}") from None
            except UnicodeDecodeError:
                raise ValidationError(f"--base {args.base}: not UTF-8 text") from None
        text = render_tljh(answers, args.tljh_version, base_text, args.include_secrets)
    else:
        if importlib.util.find_spec("wizard.z2jh") is None:
            print("tljh-wizard export: --format z2jh is not available yet", file=sys.stderr)
            return 2
        from wizard import z2jh

        text, secrets_text = z2jh.export(answers, include_secrets=args.include_secrets)
    if args.output:
        atomic_write(Path(args.output).expanduser(), text, mode=private)
        print(f"wrote {args.output}", file=sys.stderr)
    else:
        sys.stdout.write(text)
    if args.secrets:
        atomic_write(Path(args.secrets).expanduser(), secrets_text, mode=0o600)
        print(f"wrote {args.secrets} (0600)", file=sys.stderr)
    return 0
