"""``ovs-appctl vlog/list`` and ``vlog/set`` for ``crucible serve``: ovsdb-server's
words and table, over Python's loggers (one per ``reference.*`` module)."""

from __future__ import annotations

import logging

DESTINATIONS = ("console", "syslog", "file")
LEVELS = {"off": logging.CRITICAL + 10, "emer": logging.CRITICAL, "err": logging.ERROR,
          "warn": logging.WARNING, "info": logging.INFO, "dbg": logging.DEBUG}
_NAMES = {v: k.upper() for k, v in LEVELS.items()}


def _modules() -> dict[str, logging.Logger]:
    """Short module name (what vlog shows) -> the logger, for our own loggers."""
    out = {}
    for name in sorted(logging.root.manager.loggerDict):
        logger = logging.getLogger(name)
        if name.startswith("reference.") and isinstance(logger, logging.Logger):
            out[name.rsplit(".", 1)[-1]] = logger
    return out


class VlogCommands:
    """The two commands; ``to_file`` says where the log goes (console otherwise)."""

    def __init__(self, to_file: bool) -> None:
        self.live = "file" if to_file else "console"

    def list(self, params: list[str]) -> str:
        modules = _modules()
        w = max([17, *(len(m) + 2 for m in modules)])
        lines = [f"{'':{w}}{'console':>7}    {'syslog':>6}    {'file':>4}",
                 f"{'':{w}}{'-------':>7}    {'------':>6}    {'------':>6}"]
        for short, logger in modules.items():
            level = _NAMES.get(logger.getEffectiveLevel(), "INFO")
            cols = [level if d == self.live else "OFF" for d in DESTINATIONS]
            lines.append(f"{short:<{w}}{cols[0]:>7}{cols[1]:>10}{cols[2]:>11}")
        return "\n".join(lines) + "\n"

    def set(self, params: list[str]) -> str:
        """Each argument is [module][:destination][:level] in any order, as in OVS
        (ANY for every module or destination). A level for a destination the log
        does not go to (syslog, or the one of console and file not in use) is accepted
        and has no effect."""
        if not params:
            raise ValueError("vlog/set needs at least one argument")
        modules = _modules()
        for spec in params:
            targets: list[logging.Logger] | None = None
            level: int | None = None
            elsewhere = False
            for word in spec.split(":"):
                w = word.lower()
                if w in LEVELS:
                    level = LEVELS[w]
                elif w in DESTINATIONS:
                    elsewhere = w != self.live
                elif w == "any":
                    pass  # every module, or every destination: the default either way
                elif word in modules:
                    targets = [modules[word]]
                else:
                    raise ValueError(f'no destination, level, or module "{word}"')
            if elsewhere:
                continue
            if level is None:
                level = logging.DEBUG
            for logger in targets if targets is not None else modules.values():
                logger.setLevel(level)
        return ""
