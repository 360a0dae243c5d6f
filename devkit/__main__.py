"""``python -m devkit <command>``: one command per ``make`` target that needs Python (see ``COMMANDS``)."""

import pkgutil
import sys

# command -> "module:function"; each function takes the remaining argv and returns an exit code.
COMMANDS = {
    "serve": "devkit.serve:main",
    "package": "devkit.packaging.package:main",
    "keygen": "devkit.packaging.sign:keygen_main",
    "sign": "devkit.packaging.sign:sign_main",
    "scaffold": "devkit.scaffold.command:main",
}


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in COMMANDS:
        print("usage: python -m devkit {" + ",".join(COMMANDS) + "} [options]", file=sys.stderr)
        return 2
    command = pkgutil.resolve_name(COMMANDS[argv[0]])
    return int(command(argv[1:]) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
