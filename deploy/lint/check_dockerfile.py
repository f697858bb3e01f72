#!/usr/bin/env python3
"""A fallback for hadolint (not in Debian; CI has no network to fetch it): the rules of hadolint and of the Docker
best-practice guide that matter for deploy/container/Dockerfile, checked on its instructions.
- every FROM names a tag (not latest) and every COPY --from a stage defined before it;
- apt-get update is followed by install in the same RUN, installs use --no-install-recommends, and the same RUN
  removes /var/lib/apt/lists (DL3009, DL3015, DL3027-like);
- pip installs use --no-cache-dir (DL3042); no ADD of URLs (DL3020); a RUN with a pipe runs under pipefail (DL4006);
- the final stage runs as a non-root USER, has a HEALTHCHECK, and ENTRYPOINT/CMD/HEALTHCHECK use the exec (JSON) form.
"""
import json
import re
import sys


def instructions(text):
    """(line number, INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out, current, start = [], "", 0
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if not current:
            start = number
        if stripped.startswith("#"):
            continue
        current += " " + stripped[:-1] if stripped.endswith("\\") else " " + stripped
        if not stripped.endswith("\\"):
            word, _, rest = current.strip().partition(" ")
            out.append((start, word.upper(), rest.strip()))
            current = ""
    return out


def exec_form(arguments):
    try:
        return isinstance(json.loads(arguments), list)
    except json.JSONDecodeError:
        return False


def check(path):
    with open(path, encoding="utf-8") as f:
        steps = instructions(f.read())
    problems = []
    stages, pipefail, user, healthcheck, args = [], False, None, False, {}

    def problem(line, message):
        problems.append(f"{path}:{line}: {message}")

    for line, word, rest in steps:
        if word == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif word == "FROM":
            image = re.sub(r"\$\{(\w+)\}", lambda m: args.get(m.group(1), ""), rest.split()[0])
            tag = image.rpartition(":")[2] if ":" in image else ""
            if not tag or tag == "latest" or "/" in tag:
                problem(line, f"FROM {rest.split()[0]}: pin a tag")
            match = re.search(r"\bAS\s+(\S+)", rest, re.IGNORECASE)
            stages.append(match.group(1) if match else str(len(stages)))
            pipefail, user, healthcheck = False, None, False
        elif word == "SHELL":
            pipefail = "pipefail" in rest
        elif word == "RUN":
            if "apt-get update" in rest and "apt-get install" not in rest:
                problem(line, "apt-get update without install in the same RUN")
            if "apt-get install" in rest:
                if "--no-install-recommends" not in rest:
                    problem(line, "apt-get install without --no-install-recommends")
                if "rm -rf /var/lib/apt/lists" not in rest:
                    problem(line, "apt-get install without removing /var/lib/apt/lists in the same RUN")
            if re.search(r"\bpip3? install\b", rest) and "--no-cache-dir" not in rest:
                problem(line, "pip install without --no-cache-dir")
            if re.search(r"[^|]\|[^|]", rest) and not pipefail:
                problem(line, "a pipe in RUN without SHELL [..., \"-o\", \"pipefail\", ...]")
        elif word == "COPY":
            match = re.search(r"--from=(\S+)", rest)
            if match and match.group(1) not in stages[:-1]:
                problem(line, f"COPY --from={match.group(1)} names no earlier stage")
        elif word == "ADD" and re.search(r"https?://", rest):
            problem(line, "ADD of a URL: download in RUN, or COPY")
        elif word == "USER":
            user = rest
        elif word == "HEALTHCHECK":
            healthcheck = True
            command = rest.partition("CMD")[2].strip()
            if rest.strip() != "NONE" and not exec_form(command):
                problem(line, "HEALTHCHECK CMD is not in exec (JSON) form")
        if word in ("ENTRYPOINT", "CMD") and not exec_form(rest):
            problem(line, f"{word} is not in exec (JSON) form")
    last = steps[-1][0] if steps else 1
    if not stages:
        problem(last, "no FROM")
    if user is None or user.split(":")[0] in ("root", "0"):
        problem(last, "the final stage does not switch to a non-root USER")
    if not healthcheck:
        problem(last, "the final stage has no HEALTHCHECK")
    return problems


def main(paths):
    problems = [p for path in paths for p in check(path)]
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
