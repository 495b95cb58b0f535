"""The ``mwlc`` command: helpers around the workflow (the workflow itself runs with ``snakemake``).

``mwlc migrate-config``
    an original ``scale_up`` run's parameters → an mwlc config (:mod:`mwlc.migrate`);
``mwlc import-top``
    an original ``top.txt`` → the resource monitor's CSV (:mod:`mwlc.toplog`);
``mwlc status [results/<run_id>]``
    how far a run is, while it runs and after (:mod:`mwlc.status`);
``mwlc preflight``
    each enabled archive's source opened as the fetch jobs will, before a run (:mod:`mwlc.preflight`).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

COMMANDS = {
    "migrate-config": ("mwlc.migrate", "write an mwlc config from a scale_up kwargs.yml / -j / -d / -a"),
    "import-top": ("mwlc.toplog", "convert a scale_up top.txt into the monitor's usage CSV"),
    "status": ("mwlc.status", "how far a run is: jobs done/failed/running/to do per archive, ETA"),
    "preflight": ("mwlc.preflight", "check each enabled archive's source before a run (--configfile)"),
}


def main(argv: Sequence[str] | None = None) -> int:
    """Dispatch ``mwlc <command> [args]`` to the command's own ``main``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help") or args[0] not in COMMANDS:
        usage = "usage: mwlc <command> [-h] ...\n\ncommands:\n" + "".join(
            f"  {name:<16}{summary}\n" for name, (_, summary) in COMMANDS.items()
        )
        known = not args or args[0] in ("-h", "--help")
        print(
            usage if known else f"mwlc: unknown command {args[0]!r}\n\n{usage}",
            file=sys.stdout if known else sys.stderr,
            end="",
        )
        return 0 if known else 2
    import importlib

    module = importlib.import_module(COMMANDS[args[0]][0])
    return module.main(args[1:])


if __name__ == "__main__":
    sys.exit(main())
