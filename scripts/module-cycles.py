#!/usr/bin/env python3
"""Lists import cycles between the modules (files) of a crate's src/ folder.

An edge A -> B is a path `crate::b...` or `super::b...` in file A naming module B (a file of the
crate). Declaring a child module (`mod b;`) is not an import. Used by .ci/run on the server crate:
the HTTP layer's modules must not import each other in a circle.
"""
import os
import re
import sys

src = sys.argv[1] if len(sys.argv) > 1 else "crates/availability-server/src"
modules = {}
for root, _, files in os.walk(src):
    for f in files:
        if not f.endswith(".rs"):
            continue
        path = os.path.join(root, f)
        rel = os.path.relpath(path, src)[:-3].split(os.sep)
        if rel[-1] in ("mod", "lib", "main"):
            rel = rel[:-1]
        modules[tuple(rel)] = path


def resolve(current, words):
    """The longest module path that `words` (after crate:: or super::) names."""
    for n in range(len(words), 0, -1):
        if tuple(words[:n]) in modules:
            return tuple(words[:n])
    return None


edges = {m: set() for m in modules}
for mod, path in modules.items():
    text = open(path).read()
    text = re.sub(r"//.*", "", text)
    is_dir_module = path.endswith(("mod.rs", "lib.rs", "main.rs"))
    for m in re.finditer(r"\b(crate|super)((?:::[a-z_][a-z0-9_]*)+)", text):
        words = m.group(2).split("::")[1:]
        if m.group(1) == "crate":
            target = resolve(mod, words)
        else:
            parent = mod if is_dir_module else mod[:-1]
            parent = parent[:-1] if is_dir_module else parent
            target = resolve(mod, list(parent) + words)
        if target is not None and target != mod:
            edges[mod].add(target)
    # `use super::{a, b}` and `use crate::{a::x, b}` groups.
    for m in re.finditer(r"\b(crate|super)::\{([^}]*)\}", text):
        for item in m.group(2).split(","):
            words = [w for w in item.strip().split("::") if w and w != "self"]
            if not words:
                continue
            if m.group(1) == "crate":
                target = resolve(mod, words)
            else:
                parent = mod[:-1] if not is_dir_module else mod[:-1]
                target = resolve(mod, list(parent) + words)
            if target is not None and target != mod:
                edges[mod].add(target)

# Tarjan's strongly connected components.
index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]


def visit(v):
    index[v] = low[v] = counter[0]
    counter[0] += 1
    stack.append(v)
    on.add(v)
    for w in edges[v]:
        if w not in index:
            visit(w)
            low[v] = min(low[v], low[w])
        elif w in on:
            low[v] = min(low[v], index[w])
    if low[v] == index[v]:
        comp = []
        while True:
            w = stack.pop()
            on.discard(w)
            comp.append(w)
            if w == v:
                break
        if len(comp) > 1:
            out.append(comp)


sys.setrecursionlimit(10000)
for v in modules:
    if v not in index:
        visit(v)
name = lambda m: "::".join(m) or "crate"
if out:
    for comp in out:
        print("import cycle: " + " -> ".join(sorted(name(m) for m in comp)))
    sys.exit(1)
print(f"no import cycle among the {len(modules)} modules of {src}")
