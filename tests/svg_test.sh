#!/usr/bin/env bash
# Tests of `hgrid-launch --dry-run --format svg` (issue 11), against the JSON plan of
# the same layout (python3 reads it; xmllint, from libxml2-utils, reads the SVG):
#   - every golden layout's picture parses as XML, has one rect.rank per rank of each
#     module (the ranks exactly), each module's name, one path.bridge-link per bridge
#     link (the same sender -> receiver pairs as the JSON "links"), one boundary outline
#     per leader;
#   - --rank N: exactly one rect.highlight, data-rank N, per module holding N;
#   - --gpus-per-node: node lines where a node boundary cuts a module's grid, none
#     without it;
#   - a config name with markup and non-UTF-8 bytes still gives valid XML;
#   - no arrow crosses a text's box, in every configs/*.yaml and golden layout, with
#     nodes of 8 and without (issue 17: configs/large-1024.yaml's 128 links crossed the
#     cell labels; they are one bundled arrow now), and an outline shared by several
#     bridges shows each one's colour;
#   - docs/layout-vlm-8gpu-moe.svg (the README's picture) is today's output;
#   - 131,072 ranks: under 1 s and 5 MB, tp-group cells that cover the world once, a
#     caption saying so, one arrow per bridge;
#   - rsvg-convert (librsvg2-bin) renders every configs/*.yaml to PNG (skipped, said so,
#     when it is not installed; scripts/install-deps.sh installs it). SVG_PNG_DIR=DIR
#     keeps the PNGs there to look at.
#
#   HGRID_LAUNCH=build/bin/hgrid-launch bash tests/svg_test.sh
#
# The last line is `svg: N passed, M failed`; the exit status is non-zero when M > 0.
set -u
cd "$(dirname "$0")/.." || exit 1
L=${HGRID_LAUNCH:?set HGRID_LAUNCH to the hgrid-launch binary}
case $L in /*) ;; *) L=$PWD/$L ;; esac
for tool in xmllint python3; do
    command -v "$tool" >/dev/null || { echo "svg: $tool is missing (scripts/install-deps.sh)" >&2; exit 1; }
done

# Each case: begin NAME, `fail WHY` for each thing wrong, end (tests/lib.sh).
. tests/lib.sh
suite svg
tmp=$T

# xp FILE XPATH: the XPath's value (a number, or attribute nodes one per line). The
# SVG namespace is the default one, so elements are matched by local-name().
xp() { xmllint --xpath "$2" "$1" 2>/dev/null; }
# Element selectors by class (the class attribute may hold more than one word).
el() { printf "//*[local-name()='%s'][contains(concat(' ', @class, ' '), ' %s ')]" "$1" "$2"; }
RANK=$(el rect rank) HIGHLIGHT=$(el rect highlight) LINK=$(el path bridge-link)
BOUNDARY=$(el rect boundary) CELL=$(el rect cell) BRIDGE=$(el path bridge)
NODE_LINE=$(el path node-boundary) EXPERT=$(el rect expert-rank)

# values FILE XPATH ATTR: the ATTR values of the XPath's nodes, one per line, sorted.
values() {
    xp "$1" "$2/@$3" | sed -n "s/^ *$3=\"\([^\"]*\)\"$/\1/p" | sort
}

# expect JSONFILE WHAT: facts of the JSON plan, one per line, sorted, for comparison:
# ranks (each rank once per module holding it), names, links ("sender receiver"),
# leaders (their count), world, modules.
expect() {
    python3 - "$1" "$2" <<'PY'
import json, sys
plan = json.load(open(sys.argv[1]))
what = sys.argv[2]
mods = plan["modules"]
if what == "ranks":
    out = [str(r) for m in mods for r in range(m["offset"], m["offset"] + m["size"])]
elif what == "expert_ranks":
    out = [str(r) for m in mods if m["ep"] > 1 or m["expert_tp"] > 1
           for r in range(m["offset"], m["offset"] + m["size"])]
elif what == "names":
    out = [m["name"] for m in mods]
elif what == "links":
    out = ["%d %d" % (s, r) for b in plan["bridges"] for s, r in b["links"]]
elif what == "leaders":
    out = [str(sum(len(b["src_leaders"]) + len(b["dest_leaders"]) for b in plan["bridges"]))]
elif what == "world":
    out = [str(plan["world_size"])]
elif what == "colocated":
    out = ["1" if plan["layout"] == "colocated" else "0"]
print("\n".join(sorted(out)))
PY
}

# geometry SVG...: what the picture's geometry gets wrong, one line each (nothing when
# right): (1) an arrow (a path with a marker, a bridge or a bridge-link) crossing a
# text's box, the box estimated as the code does (launcher/svg.h: the glyph widths,
# ascent and descent; each class's font-size, weight and anchor from the picture's own
# style sheet; width by the UTF-8 byte count); (2) a boundary outline drawn by several
# bridges where a bridge's colour shows nowhere (the dashes walked around the outline,
# the last drawn on top).
geometry() {
    python3 - launcher/svg.h "$@" <<'PY'
import math, re, sys, xml.etree.ElementTree as ET
NS = "{http://www.w3.org/2000/svg}"
hdr = open(sys.argv[1]).read()
def const(name):
    return float(re.search(r"#define %s ([0-9.]+)" % name, hdr).group(1))
GW, GWB = const("HG_SVG_GLYPH_W"), const("HG_SVG_GLYPH_W_BOLD")
ASC, DESC = const("HG_SVG_TEXT_ASCENT"), const("HG_SVG_TEXT_DESCENT")

def styles(root):
    css = "".join(e.text or "" for e in root.iter(NS + "style"))
    rules = {}
    for sels, body in re.findall(r"([^{}]+)\{([^}]*)\}", css):
        decl = dict(kv.split(":", 1) for kv in body.split(";") if ":" in kv)
        for sel in sels.split(","):
            sel = sel.strip()
            if re.fullmatch(r"\.[\w-]+", sel):
                rules.setdefault(sel[1:], {}).update(decl)
            elif sel == "text":
                rules.setdefault("", {}).update(decl)
    return rules

def text_boxes(root, rules):
    boxes = []
    for t in root.iter(NS + "text"):
        decl = dict(rules.get("", {}))
        for c in (t.get("class") or "").split():
            decl.update(rules.get(c, {}))
        px = float(decl.get("font-size", "16px").rstrip("px"))
        bold = decl.get("font-weight") == "bold"
        s = "".join(t.itertext())
        w = len(s.encode()) * px * (GWB if bold else GW) + 1
        x, y = float(t.get("x")), float(t.get("y"))
        if decl.get("text-anchor") == "middle":
            x -= w / 2
        elif decl.get("text-anchor") == "end":
            x -= w
        boxes.append((x, y - ASC * px, x + w, y + DESC * px, s))
    return boxes

def segments(d):
    """The path as line segments; cubics cut into 64 pieces."""
    toks = re.findall(r"[MLHVCmlhvc]|-?[0-9.]+", d)
    segs, i, cmd, cx, cy = [], 0, None, 0.0, 0.0
    def num():
        nonlocal i
        i += 1
        return float(toks[i - 1])
    while i < len(toks):
        if toks[i].isalpha():
            cmd = toks[i]
            i += 1
        if cmd in "Mm":
            x, y = num(), num()
            cx, cy = (cx + x, cy + y) if cmd == "m" else (x, y)
            cmd = "L" if cmd == "M" else "l"
            continue
        if cmd in "LlHhVv":
            nx, ny = cx, cy
            if cmd in "Ll":
                x, y = num(), num()
                nx, ny = (cx + x, cy + y) if cmd == "l" else (x, y)
            elif cmd in "Hh":
                x = num()
                nx = cx + x if cmd == "h" else x
            else:
                y = num()
                ny = cy + y if cmd == "v" else y
            segs.append((cx, cy, nx, ny))
            cx, cy = nx, ny
        elif cmd in "Cc":
            p = [num() for _ in range(6)]
            if cmd == "c":
                p = [p[k] + (cx if k % 2 == 0 else cy) for k in range(6)]
            px_, py_ = cx, cy
            for k in range(1, 65):
                t = k / 64
                a, b, c, e = (1 - t) ** 3, 3 * t * (1 - t) ** 2, 3 * t * t * (1 - t), t ** 3
                nx = a * cx + b * p[0] + c * p[2] + e * p[4]
                ny = a * cy + b * p[1] + c * p[3] + e * p[5]
                segs.append((px_, py_, nx, ny))
                px_, py_ = nx, ny
            cx, cy = p[4], p[5]
        else:
            raise SystemExit("path command %s not understood" % cmd)
    return segs

def crosses(s, b):
    """Liang-Barsky: does segment s meet the box b?"""
    x0, y0, x1, y1 = s
    t0, t1 = 0.0, 1.0
    dx, dy = x1 - x0, y1 - y0
    for p, q in ((-dx, x0 - b[0]), (dx, b[2] - x0), (-dy, y0 - b[1]), (dy, b[3] - y0)):
        if p == 0:
            if q < 0:
                return False
        else:
            r = q / p
            if p < 0:
                t0 = max(t0, r)
            else:
                t1 = min(t1, r)
            if t0 > t1:
                return False
    return True

CELL = 32
def check_arrows(root, name):
    boxes = text_boxes(root, styles(root))
    grid = {}
    for k, b in enumerate(boxes):
        for gx in range(int(b[0] // CELL), int(b[2] // CELL) + 1):
            for gy in range(int(b[1] // CELL), int(b[3] // CELL) + 1):
                grid.setdefault((gx, gy), []).append(k)
    bad = 0
    for p in root.iter(NS + "path"):
        cls = (p.get("class") or "").split()
        if not (p.get("marker-end") or "bridge" in cls or "bridge-link" in cls):
            continue
        hit = set()
        for s in segments(p.get("d")):
            for gx in range(int(min(s[0], s[2]) // CELL), int(max(s[0], s[2]) // CELL) + 1):
                for gy in range(int(min(s[1], s[3]) // CELL), int(max(s[1], s[3]) // CELL) + 1):
                    for k in grid.get((gx, gy), ()):
                        if k not in hit and crosses(s, boxes[k]):
                            hit.add(k)
        for k in sorted(hit):
            bad += 1
            if bad <= 5:
                print("%s: the arrow %s (%s) crosses the text %r" % (
                    name, " ".join(cls) or "swatch", p.get("d")[:40], boxes[k][4]))
    if bad > 5:
        print("%s: ... %d arrow-text crossings in all" % (name, bad))

def prop(e, rules, name):
    """A property as SVG resolves it: the style attribute, then the style sheet's
    rules for the element's classes, then the presentation attribute."""
    style = dict(kv.split(":", 1) for kv in (e.get("style") or "").split(";") if ":" in kv)
    if name in style:
        return style[name]
    decl = {}
    for c in (e.get("class") or "").split():
        decl.update(rules.get(c, {}))
    return decl.get(name, e.get(name))

def dashes(r, rules):
    """The painted stretches of a rect's outline as a predicate on the distance walked
    from its top-left corner, clockwise (how SVG strokes a rect)."""
    spec = prop(r, rules, "stroke-dasharray") or ""
    arr = [float(v) for v in re.split(r"[ ,]+", spec.strip()) if v]
    if not arr or sum(arr) == 0:
        return lambda s: True
    if len(arr) % 2:
        arr = arr * 2
    off = float(prop(r, rules, "stroke-dashoffset") or 0)
    period = sum(arr)
    def painted(s):
        u = (s + off) % period
        for k, a in enumerate(arr):
            if u < a:
                return k % 2 == 0
            u -= a
        return False
    return painted

def check_outlines(root, name):
    rules, groups = styles(root), {}
    for r in root.iter(NS + "rect"):
        if "boundary" in (r.get("class") or "").split():
            key = tuple(float(r.get(a)) for a in ("x", "y", "width", "height"))
            groups.setdefault(key, []).append(r)
    for key, rs in sorted(groups.items()):
        if len({r.get("data-bridge") for r in rs}) < 2:
            continue
        want = {prop(r, rules, "stroke") for r in rs}
        painted = [(prop(r, rules, "stroke"), dashes(r, rules)) for r in rs]
        seen, s, per = set(), 0.0, 2 * (key[2] + key[3])
        while s < per:
            top = None
            for colour, f in painted:
                if f(s):
                    top = colour
            seen.add(top)
            s += 0.25
        if not want <= seen:
            print("%s: the outline at %s shared by bridges %s shows %s, not %s" % (
                name, key[:2], sorted({r.get("data-bridge") for r in rs}),
                sorted(c for c in seen if c), sorted(want)))

for f in sys.argv[2:]:
    root = ET.parse(f).getroot()
    check_arrows(root, f)
    check_outlines(root, f)
PY
}

# ---- the golden layouts, rank by rank ----

for cfg in tests/golden/*.yaml tests/golden-gtp/*.yaml; do
    name=$(basename "$cfg" .yaml)
    begin "golden_$name"
    svg=$tmp/$name.svg json=$tmp/$name.json
    if ! "$L" --dry-run --format svg "$cfg" >"$svg" 2>"$tmp/err"; then
        fail "exit status $?: $(head -c 300 "$tmp/err")"
        end
        continue
    fi
    "$L" --dry-run --format json "$cfg" >"$json" 2>/dev/null || fail "no JSON plan"
    xmllint --noout "$svg" 2>"$tmp/xml" || fail "not XML: $(head -c 300 "$tmp/xml")"
    # One cell per rank of each module: the ranks themselves, not only their number.
    [ "$(values "$svg" "$RANK" data-rank)" = "$(expect "$json" ranks | sort)" ] ||
        fail "rect.rank data-rank values differ from the modules' ranks"
    # Each rank its own cell, in either view (gtp_remat: a column is tp x gtp_remat).
    python3 - "$svg" <<'PY' || fail "two ranks share a cell"
import re, sys
s = open(sys.argv[1]).read()
for cls in ("rank", "expert-rank"):
    cells = re.findall(r'class="%s" data-rank="\d+" x="(\d+)" y="(\d+)"' % cls, s)
    if len(cells) != len(set(cells)):
        sys.exit(1)
PY
    [ "$(values "$svg" "$EXPERT" data-rank)" = "$(expect "$json" expert_ranks | sort)" ] ||
        fail "rect.expert-rank values differ from the ranks of modules with experts"
    # Every cell carries its rank as text too.
    nrank=$(xp "$svg" "count($RANK)")
    [ "$(expect "$json" ranks | wc -l)" = "$nrank" ] || fail "$nrank rank cells"
    while read -r mod; do
        [ "$(xp "$svg" "count(//*[local-name()='g'][@class='module'][@data-module='$mod'])")" = 1 ] ||
            fail "no panel of module $mod"
        [ "$(xp "$svg" "count(//*[local-name()='text'][starts-with(., '$mod: tp')])")" = 1 ] ||
            fail "no '$mod: tp...' heading"
    done < <(expect "$json" names)
    links=$(expect "$json" links)
    got=$(xp "$svg" "$LINK" | sed -n 's/.* data-from="\([0-9]*\)" data-to="\([0-9]*\)".*/\1 \2/p' | sort)
    if [[ $name == gtp_* && -z $got ]]; then
        # GTP: destination leaders sit in inner columns (one per dp x gtp_remat lane),
        # where an arrow per link would cross cell text, so each bridge is one bundled
        # arrow whose data-links count its links.
        [ "$(xp "$svg" "sum($BRIDGE/@data-links)")" = "$(printf '%s' "$links" | grep -c .)" ] ||
            fail "bundled arrows carry $(xp "$svg" "sum($BRIDGE/@data-links)") links, want $(printf '%s' "$links" | grep -c .)"
    else
    [ "$got" = "$links" ] || fail "bridge-link arrows '$got', want the JSON links '$links'"
    [ "$(xp "$svg" "count($LINK)")" = "$(printf '%s' "$links" | grep -c .)" ] ||
        fail "$(xp "$svg" "count($LINK)") arrows for $(printf '%s' "$links" | grep -c .) links"
    fi
    [ "$(xp "$svg" "count($BOUNDARY)")" = "$(expect "$json" leaders)" ] ||
        fail "$(xp "$svg" "count($BOUNDARY)") boundary outlines, want one per leader"
    [ "$(xp "$svg" "count($HIGHLIGHT)")" = 0 ] || fail "a highlight without --rank"
    [ "$(xp "$svg" "count($NODE_LINE)")" = 0 ] || fail "node lines without --gpus-per-node"
    # No script, no external reference: a picture only.
    [ "$(xp "$svg" "count(//*[local-name()='script' or local-name()='image' or local-name()='foreignObject'])")" = 0 ] ||
        fail "scripts, images or foreign objects"
    ! grep -Eq '@import|@font-face|href="http|url\(http' "$svg" || fail "an external reference"

    # --rank N: exactly the cells of rank N, one per module holding it.
    world=$(expect "$json" world)
    nmod=$(expect "$json" names | wc -l)
    holders=1
    [ "$(expect "$json" colocated)" = 1 ] && holders=$nmod
    for r in 0 $((world / 2 + 1)) $((world - 1)); do
        "$L" --dry-run --format svg --rank "$r" "$cfg" >"$tmp/r.svg" 2>/dev/null ||
            { fail "--rank $r: exit status $?"; continue; }
        xmllint --noout "$tmp/r.svg" 2>/dev/null || fail "--rank $r: not XML"
        [ "$(xp "$tmp/r.svg" "count($HIGHLIGHT)")" = "$holders" ] ||
            fail "--rank $r: $(xp "$tmp/r.svg" "count($HIGHLIGHT)") highlights, want $holders"
        [ "$(xp "$tmp/r.svg" "count($HIGHLIGHT[@data-rank='$r'])")" = "$holders" ] ||
            fail "--rank $r: a highlight of another rank"
        # The highlight sits exactly on the cell of rank r.
        for a in x y; do
            c=$(values "$tmp/r.svg" "$RANK[@data-rank='$r']" $a | head -n 1)
            h=$(values "$tmp/r.svg" "$HIGHLIGHT" $a | head -n 1)
            [ $((c - h)) = 2 ] || fail "--rank $r: highlight $a=$h, cell $a=$c"
        done
        [ "$(xp "$tmp/r.svg" "count(//*[local-name()='text'][starts-with(., 'magenta: rank $r,')])")" = 1 ] ||
            fail "--rank $r: no caption"
    done
    end
done

# ---- arrows never cover text; shared outlines show every bridge ----

begin arrows_clear_of_text
# configs/large-1024.yaml: 128 links of one bridge, fan-in over wrapped blocks of 22
# and 16 rows: drawn one by one they crossed the cell labels and the expert view's
# caption. Every bundled config, with nodes and without, and the golden layouts.
files=()
for cfg in configs/*.yaml tests/golden/*.yaml tests/golden-gtp/*.yaml; do
    for gpn in 0 8; do
        f=$tmp/geo-$(basename "$cfg" .yaml)-$gpn.svg
        nodes=()
        [ "$gpn" = 0 ] || nodes=(--gpus-per-node "$gpn")
        "$L" --dry-run --format svg "${nodes[@]}" "$cfg" >"$f" 2>/dev/null ||
            { fail "$cfg --gpus-per-node $gpn: exit status $?"; continue; }
        files+=("$f")
    done
done
problems=$(geometry "${files[@]}" 2>&1)
[ -z "$problems" ] || fail "$problems"
# The 1,024 ranks' bridge is too many links to draw apart: one bundled arrow with its
# count, no per-link arrows.
f=$tmp/geo-large-1024-8.svg
[ "$(xp "$f" "count($LINK)")" = 0 ] || fail "large-1024: $(xp "$f" "count($LINK)") per-link arrows"
[ "$(xp "$f" "count($BRIDGE[@data-links='128'])")" = 1 ] || fail "large-1024: no bundled arrow of 128 links"
[ "$(xp "$f" "count(//*[local-name()='text'][.='128 links'])")" = 1 ] || fail "large-1024: no '128 links'"
# The README's limit is svg.h's.
max=$(sed -n 's/^#define HG_SVG_MAX_LINK_ARROWS \([0-9]*\).*/\1/p' launcher/svg.h)
tr '\n' ' ' <README.md | grep -Fq "A bridge of more than $max links" ||
    fail "README.md does not say bundles start above HG_SVG_MAX_LINK_ARROWS ($max) links"
# two-encoders-14: audio and vision both feed language's 4 receivers; each of those
# outlines is drawn once per bridge, and both colours show on it.
f=$tmp/geo-two-encoders-14-0.svg
[ "$(xp "$f" "count($BOUNDARY[@data-side='dest'])")" = 8 ] ||
    fail "two-encoders-14: $(xp "$f" "count($BOUNDARY[@data-side='dest'])") receiver outlines, want 2 x 4"
end

# ---- nodes ----

begin nodes
# two-encoders-14 in nodes of 3: vision's tp group 2-3 and language's 8-9 cross a node.
"$L" --dry-run --format svg --gpus-per-node 3 configs/two-encoders-14.yaml >"$tmp/n.svg" 2>/dev/null ||
    fail "exit status $?"
xmllint --noout "$tmp/n.svg" 2>/dev/null || fail "not XML"
# One line per module grid that a node boundary cuts: audio (0-1 on node 0) has none.
[ "$(xp "$tmp/n.svg" "count($NODE_LINE)")" = 3 ] || fail "$(xp "$tmp/n.svg" "count($NODE_LINE)") node lines"
[ "$(xp "$tmp/n.svg" "count(//*[local-name()='g'][@data-module='audio']$NODE_LINE)")" = 0 ] ||
    fail "a node line in audio"
# Each rank says its node.
[ "$(xp "$tmp/n.svg" "count(//*[local-name()='text'][@class='n'][.='n4'])")" = 4 ] ||
    fail "ranks 12 and 13 (node 4), in the dense and the expert view"
end

# ---- file names ----

begin escaped_name
# Markup characters and bytes that are not UTF-8 in the config's name: still XML.
odd="$tmp/a&b<c>\"d"$'\xff'".yaml"
cp configs/vlm-8gpu-moe.yaml "$odd"
"$L" --dry-run --format svg "$odd" >"$tmp/e.svg" 2>"$tmp/err" || fail "exit status $?: $(cat "$tmp/err")"
xmllint --noout "$tmp/e.svg" 2>"$tmp/xml" || fail "not XML: $(head -c 300 "$tmp/xml")"
grep -Fq 'a&amp;b&lt;c&gt;&quot;d?.yaml' "$tmp/e.svg" || fail "the name is not escaped"
end

# ---- the README's picture ----

begin readme_picture
# docs/layout-vlm-8gpu-moe.svg is this command's output: regenerate it with the same
# command when the drawing changes.
"$L" --dry-run --format svg --gpus-per-node 4 --rank 5 configs/vlm-8gpu-moe.yaml >"$tmp/readme.svg" 2>/dev/null ||
    fail "exit status $?"
cmp -s "$tmp/readme.svg" docs/layout-vlm-8gpu-moe.svg ||
    fail "docs/layout-vlm-8gpu-moe.svg is stale: hgrid-launch --dry-run --format svg --gpus-per-node 4 --rank 5 configs/vlm-8gpu-moe.yaml > docs/layout-vlm-8gpu-moe.svg"
grep -Fq '](docs/layout-vlm-8gpu-moe.svg)' README.md || fail "README.md does not show it"
end

# ---- 131,072 ranks ----

# bench-plan's mimo-131k: three encoders feeding the language model through bridges.
cat >"$tmp/mimo131k.yaml" <<'YAML'
version: 1
world_size: 131072
modules:
  - {name: vision, role: encoder, tp: 4, dp: 8192}
  - {name: audio, role: encoder, tp: 4, dp: 4096}
  - {name: video, role: encoder, tp: 16, dp: 1024}
  - name: language
    role: language
    tp: 8
    pp: 8
    dp: 1024
    moe:
      num_experts: 256
      ep: 64
YAML
begin large_131072
svg=$tmp/large.svg
t0=$(date +%s%N)
"$L" --dry-run --format svg --gpus-per-node 8 --rank 70000 "$tmp/mimo131k.yaml" >"$svg" 2>/dev/null ||
    fail "exit status $?"
t1=$(date +%s%N)
ms=$(((t1 - t0) / 1000000))
bytes=$(stat -c %s "$svg")
echo "svg: 131,072 ranks: ${ms} ms, $bytes bytes"
[ "$ms" -lt 1000 ] || fail "${ms} ms, want < 1000"
[ "$bytes" -lt 5000000 ] || fail "$bytes bytes, want < 5 MB"
xmllint --noout "$svg" 2>/dev/null || fail "not XML"
# Cells of tp groups: 8192 + 4096 + 1024 + 8192, together the world once.
[ "$(xp "$svg" "count($CELL)")" = 21504 ] || fail "$(xp "$svg" "count($CELL)") cells"
[ "$(xp "$svg" "sum($CELL/@data-ranks)")" = 131072 ] || fail "cells hold $(xp "$svg" "sum($CELL/@data-ranks)") ranks"
[ "$(values "$svg" "$CELL" data-first | sort -n | head -n 3 | paste -s -d ' ')" = "0 4 8" ] ||
    fail "first cells"
[ "$(xp "$svg" "count($RANK)")" = 0 ] || fail "per-rank cells above the limit"
grep -Fq 'Above 4,096 ranks one cell per rank would be unreadable: each cell is one tp group' "$svg" ||
    fail "no caption"
[ "$(xp "$svg" "count($BRIDGE)")" = 3 ] || fail "$(xp "$svg" "count($BRIDGE)") bridge arrows, want 3"
[ "$(xp "$svg" "count($LINK)")" = 0 ] || fail "per-link arrows above the limit"
# video's tp groups (16 ranks) all span two nodes of 8.
[ "$(xp "$svg" "count(//*[local-name()='g'][@data-module='video']$(el rect crosses-node))")" = 1024 ] ||
    fail "video's tp groups are not marked as crossing nodes"
[ "$(xp "$svg" "count($HIGHLIGHT[@data-rank='70000'])")" = 1 ] || fail "rank 70000 not highlighted"
# Three bundles meet at the language panel: their counts stay clear of each other's arrows.
problems=$(geometry "$svg" 2>&1)
[ -z "$problems" ] || fail "$problems"
end

# ---- PNG ----

begin png
if command -v rsvg-convert >/dev/null; then
    out=${SVG_PNG_DIR:-$tmp/png}
    mkdir -p "$out"
    for cfg in configs/*.yaml; do
        name=$(basename "$cfg" .yaml)
        "$L" --dry-run --format svg --gpus-per-node 4 "$cfg" >"$tmp/p.svg" 2>/dev/null ||
            fail "$cfg: exit status $?"
        rsvg-convert "$tmp/p.svg" -o "$out/$name.png" 2>"$tmp/rsvg" ||
            fail "$cfg: rsvg-convert: $(head -c 300 "$tmp/rsvg")"
        [ -s "$tmp/rsvg" ] && fail "$cfg: rsvg-convert said: $(head -c 300 "$tmp/rsvg")"
        [ "$(head -c 8 "$out/$name.png" | od -An -tx1 | tr -d ' \n')" = 89504e470d0a1a0a ] ||
            fail "$cfg: not a PNG"
    done
else
    echo "svg: SKIP png: rsvg-convert is not installed (Debian librsvg2-bin; scripts/install-deps.sh installs it)"
fi
end

summary
