#!/usr/bin/env python3
"""Lists public declarations that have no `///` documentation comment, then counts per target.

usage: scripts/undocumented.py [--summary] [PATH ...]      (default PATH: Sources)

A declaration counts when its own line carries `public` or `open` before a declaration keyword
(func, init, var, let, struct, class, enum, protocol, typealias, subscript, actor, ...), as
swift-format's AllPublicDeclarationsHaveDocumentation rule sees it: extensions, imports and
overrides are skipped, because their documentation lives with what they extend or override.
The comment must sit directly above the declaration; attribute lines (`@inlinable`, ...) may
come between. Exits 1 when anything is undocumented, so the script can gate a build.
"""
import collections
import pathlib
import re
import sys

KEYWORDS = (
    "func|init|deinit|var|let|struct|class|enum|protocol|typealias|subscript|actor"
    "|associatedtype|macro|operator"
)
MODIFIER = (
    r"(?:public|open|static|class|final|override|mutating|nonmutating|nonisolated|convenience"
    r"|required|indirect|lazy|dynamic|prefix|postfix|infix|weak|unowned"
    r"|(?:private|fileprivate|internal|package)\(set\))"
)
ATTRIBUTE = r"@[\w.]+(?:\([^()]*(?:\([^()]*\)[^()]*)*\))?"
DECLARATION = re.compile(
    rf"^\s*(?:{ATTRIBUTE}\s+)*(?P<modifiers>(?:{MODIFIER}\s+)+)(?P<kind>{KEYWORDS})\b\s*"
    r"(?P<name>[^\s:(<{=]*)"
)
ATTRIBUTE_LINE = re.compile(rf"^\s*(?:{ATTRIBUTE}\s*)+$")


def is_documented(lines, index):
    """Whether a `///` line, or a `/** … */` block, ends directly above line `index`."""
    above = index - 1
    while above >= 0 and ATTRIBUTE_LINE.match(lines[above]):
        above -= 1
    if above < 0:
        return False
    text = lines[above].strip()
    if text.startswith("///"):
        return True
    if not text.endswith("*/"):
        return False
    while above >= 0 and "/*" not in lines[above]:
        above -= 1
    return above >= 0 and lines[above].strip().startswith("/**")


def undocumented(path):
    """Yields (line number, kind, name) for each undocumented public declaration in `path`."""
    lines = path.read_text(encoding="utf-8").splitlines()
    for index, line in enumerate(lines):
        match = DECLARATION.match(line)
        if not match:
            continue
        modifiers = match.group("modifiers").split()
        if not {"public", "open"} & set(modifiers) or "override" in modifiers:
            continue
        if not is_documented(lines, index):
            yield index + 1, match.group("kind"), match.group("name")


def target_of(path):
    """The SwiftPM target a file belongs to: the folder under Sources/ or Tests/, else its own."""
    parts = path.parts
    for root in ("Sources", "Tests"):
        if root in parts and parts.index(root) + 1 < len(parts) - 1:
            return parts[parts.index(root) + 1]
    return str(path.parent)


def main(arguments):
    summary_only = "--summary" in arguments
    roots = [pathlib.Path(a) for a in arguments if a != "--summary"] or [pathlib.Path("Sources")]
    for root in roots:
        if not root.exists():
            sys.exit(f"undocumented: {root} does not exist; run from the repository root "
                     "or name a folder of Swift files")
    files = sorted(f for root in roots
                   for f in ([root] if root.is_file() else root.rglob("*.swift")))
    counts = collections.Counter()
    for path in files:
        counts[target_of(path)] += 0
        for line, kind, name in undocumented(path):
            counts[target_of(path)] += 1
            if not summary_only:
                print(f"{path}:{line}: {kind} {name}")
    for target, count in sorted(counts.items()):
        print(f"{count:6d}  {target}")
    print(f"{sum(counts.values()):6d}  total")
    return 1 if sum(counts.values()) else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
