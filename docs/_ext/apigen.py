"""Write the API and CLI reference pages from the installed package, at every build.

Why generated: six people change the public API at once. The reference is derived
from what the package exports, so a new module, a new ``__all__`` entry or a new
click command appears in the docs without anyone editing an ``.rst`` file.

Rules
-----
* Every module of ``asegraph`` is documented, except private ones (a path component
  starting with ``_``) and ``asegraph.cli`` (its commands get the CLI page instead).
* A module's public names are its ``__all__`` when it has one, else the classes and
  functions it defines whose names do not start with ``_``.
* Each object is documented once, on the page of the module that defines it; a
  package that re-exports it (``from asegraph.calculators import CGCNNCalculator``)
  lists it in a table that links there. An object whose defining module is private
  is documented where it is exported.
* The CLI page holds ``--help`` of every command reachable from the console scripts
  declared in ``pyproject.toml``.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

import tomllib

PACKAGE = "asegraph"


def _public(modname: str) -> bool:
    parts = modname.split(".")
    return not any(p.startswith("_") for p in parts) and parts[:2] != [PACKAGE, "cli"]


def module_names() -> list[str]:
    """Every public module of the package, sorted."""
    pkg = importlib.import_module(PACKAGE)
    names = [PACKAGE]
    names += [m.name for m in pkgutil.walk_packages(pkg.__path__, PACKAGE + ".")]
    return sorted(n for n in names if _public(n))


def public_names(module) -> list[str]:
    """``__all__``, or the public classes and functions the module defines."""
    exported = getattr(module, "__all__", None)
    if exported is not None:
        return [n for n in exported if not n.startswith("__")]
    return [
        name
        for name, obj in vars(module).items()
        if not name.startswith("_")
        and (inspect.isclass(obj) or inspect.isfunction(obj))
        and getattr(obj, "__module__", None) == module.__name__
    ]


def _home(obj, name: str, modname: str, documented: set[str]) -> tuple[str, str]:
    """``(module, name)`` of the page that documents ``obj``, exported as ``name``.

    A class or function is documented where it is defined, under its own name (a
    lazy export may rename it: ``load_dataset`` -> ``datasets.load_graph_dataset``);
    anything else, or an object its defining module does not expose, here.
    """
    home = getattr(obj, "__module__", None)
    if (inspect.isclass(obj) or inspect.isfunction(obj)) and home in documented:
        real = getattr(obj, "__name__", name)
        if getattr(importlib.import_module(home), real, None) is obj:
            return home, real
    return modname, name


def _title(text: str, char: str = "=") -> str:
    return f"{text}\n{char * len(text)}\n"


def module_page(modname: str, documented: set[str]) -> str:
    module = importlib.import_module(modname)
    here, elsewhere = [], []
    for name in public_names(module):
        obj = getattr(module, name)  # a lazy ``__getattr__`` export resolves here
        home, real = _home(obj, name, modname, documented)
        if home == modname:
            here.append((name, obj, home))
        else:
            elsewhere.append((real, obj, home))

    out = [f".. _api-{modname}:\n", _title(modname)]
    out.append(f".. automodule:: {modname}\n   :no-members:\n")
    # full names below: no current module, so autosummary does not flag its own module
    out.append(".. currentmodule:: None\n")
    if here:
        out.append(_title("Summary", "-"))
        out.append(".. autosummary::\n   :nosignatures:\n")
        out += [f"   ~{modname}.{name}" for name, _, _ in here]
        out.append("")
    if elsewhere:
        out.append(_title("Re-exported here", "-"))
        out.append(
            f"Importable as ``from {modname} import NAME``; documented where they are defined.\n"
        )
        out.append(".. autosummary::\n   :nosignatures:\n")
        out += [f"   ~{home}.{name}" for name, _, home in elsewhere]
        out.append("")
    if here:
        out.append(_title("Reference", "-"))
    for name, obj, _ in here:
        target = f"{modname}.{name}"
        if inspect.isclass(obj):
            out.append(f".. autoclass:: {target}\n   :members:\n   :show-inheritance:\n")
        elif callable(obj):
            out.append(f".. autofunction:: {target}\n")
        else:
            out.append(f".. autodata:: {target}\n   :no-value:\n")
    return "\n".join(out) + "\n"


def index_page(modules: list[str]) -> str:
    out = [".. _api:\n", _title("API reference")]
    out.append(
        "Generated from the package at every build: every public module, and in each "
        "the names it exports (``__all__``) or defines. Packages list the names they "
        "re-export and link to where those are documented.\n"
    )
    out.append(".. autosummary::\n   :nosignatures:\n")
    out += [f"   {m}" for m in modules]
    out.append("\n.. toctree::\n   :hidden:\n")
    # explicit suffix: ``asegraph.optimize.cgmd.md`` would otherwise read as Markdown
    out += [f"   {m}.rst" for m in modules]
    return "\n".join(out) + "\n"


def _commands(cmd, path: list[str]):
    """Yield ``(path, command)`` for a click command and all its subcommands."""
    import click

    yield path, cmd
    if isinstance(cmd, click.Group):
        for name in sorted(cmd.list_commands(click.Context(cmd))):
            yield from _commands(cmd.get_command(click.Context(cmd), name), path + [name])


def cli_page(pyproject: Path) -> str:
    import click

    scripts = tomllib.loads(pyproject.read_text())["project"]["scripts"]
    out = [".. _cli:\n", _title("Command-line reference")]
    out.append(
        "Every command's ``--help``, generated from the console scripts at each build. "
        "Errors in user input print one line on stderr and exit with status 2.\n"
    )
    for script, target in sorted(scripts.items()):
        modname, attr = target.split(":")
        root = getattr(importlib.import_module(modname), attr)
        for path, cmd in _commands(root, [script]):
            name = " ".join(path)
            ctx = click.Context(cmd, info_name=name)
            text = cmd.get_help(ctx)
            out.append(_title(name, "-"))
            out.append(".. code-block:: text\n")
            out += ["   " + line if line else "" for line in text.splitlines()]
            out.append("")
    return "\n".join(out) + "\n"


def _write_if_changed(path: Path, text: str) -> None:
    # unchanged files keep their mtime, so an incremental build stays incremental
    if not path.exists() or path.read_text() != text:
        path.write_text(text)


def generate(docs_dir: Path) -> None:
    """Write ``api/*.rst`` and ``cli.rst`` under ``docs_dir``; drop stale pages."""
    api = docs_dir / "api"
    api.mkdir(exist_ok=True)
    modules = module_names()
    documented = set(modules)
    wanted = {f"{m}.rst" for m in modules} | {"index.rst"}
    for stale in api.glob("*.rst"):
        if stale.name not in wanted:
            stale.unlink()
    for m in modules:
        _write_if_changed(api / f"{m}.rst", module_page(m, documented))
    _write_if_changed(api / "index.rst", index_page(modules))
    _write_if_changed(docs_dir / "cli.rst", cli_page(docs_dir.parent / "pyproject.toml"))


def _on_builder_inited(app) -> None:
    generate(Path(app.srcdir))


def setup(app):
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":  # python docs/_ext/apigen.py: write the pages without building
    generate(Path(__file__).resolve().parents[1])
    sys.exit(0)
