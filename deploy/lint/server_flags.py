"""The long flag names layerscoped accepts, read from server/config/server_config.cc (the one place they are
declared), so that config files can be checked without building the server. A config key that is not a flag makes
the server refuse to start (it parses configs with allow_config_extras = error)."""
import pathlib
import re

SOURCE = pathlib.Path(__file__).resolve().parents[2] / "server" / "config" / "server_config.cc"


def server_flags():
    text = SOURCE.read_text(encoding="utf-8")
    flags = set()
    # add_option("--model", ...) and add_flag("--quantize,!--no-quantize", ...): every --name in the first argument.
    for names in re.findall(r'add_(?:option|flag)\(\s*"([^"]+)"', text):
        flags.update(re.findall(r"--([a-z0-9][a-z0-9-]*)", names))
    if "listen" not in flags or "model" not in flags:
        raise SystemExit(f"{SOURCE}: found no add_option(\"--listen\") / (\"--model\"); has the flag code moved?")
    return flags


def check_config_keys(config, where):
    """Problems with a parsed layerscoped JSON config, as messages naming `where`."""
    if not isinstance(config, dict):
        return [f"{where}: must be a JSON object of flag names"]
    flags = server_flags()
    problems = [f"{where}: key \"{key}\" is not a layerscoped flag" for key in config if key not in flags]
    for key, value in config.items():
        if not isinstance(value, (str, int, float, bool, list)):
            problems.append(f"{where}: key \"{key}\": a string, number, boolean or list is expected")
    return problems
