#!/usr/bin/env python3
"""Checks layerscoped JSON config files: each is a JSON object whose keys are the server's long flag names."""
import json
import sys

from server_flags import check_config_keys


def main(paths):
    problems = []
    for path in paths:
        try:
            with open(path, encoding="utf-8") as f:
                config = json.load(f)
        except (OSError, json.JSONDecodeError) as e:
            problems.append(f"{path}: {e}")
            continue
        problems += check_config_keys(config, path)
    for problem in problems:
        print(problem, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
