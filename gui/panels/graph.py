"""The computational graph of one sample's loss, with the forward value and the gradient on every edge.

Draws an :class:`~engine.backprop.Trace`: the operations on one row, left to right (``×``, ``+``, ``−``, the
square or absolute value, the loss), the parameters above the operation they feed and the inputs below.
Each edge is an arrow labelled with the value that flows forward along it (dark) and, once the backward pass
has reached it, the gradient of the loss with respect to that value (red); edges not reached yet show ``?``.
The edge explained by the latest backward step is drawn thick, in amber, its label boxed. The panel only
draws: which step is shown is decided by the view (:meth:`GraphPanel.show_trace`).
"""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetricsF, QPainter, QPainterPath, QPen, QPolygonF, QTransform
from PySide6.QtWidgets import (
    QFrame,
    QGraphicsEllipseItem,
    QGraphicsLineItem,
    QGraphicsPathItem,
    QGraphicsPolygonItem,
    QGraphicsScene,
    QGraphicsSimpleTextItem,
    QGraphicsView,
)

from fitscope.engine.backprop import Trace
from fitscope.engine.numbers import number

FORWARD = "#263238"
GRADIENT = "#c62828"
PENDING = "#a7b6bf"
ACCENT = "#ff8f00"
EDGE = "#78909c"
REACHED = "#e57373"
FILLS = {  # kind: (fill, border)
    "param": ("#fff3e0", "#ef6c00"),
    "input": ("#e3f2fd", "#1e88e5"),
    "op": ("#ffffff", "#546e7a"),
    "output": ("#fce4ec", "#c2185b"),
}
CAPTIONS = {"param": "parameter", "input": "input", "output": "one sample"}
OP_SHOWN = {"²": "(·)²"}  # a lone superscript is too small to read in a circle
OP_TIPS = {"×": "multiply", "+": "add", "−": "subtract", "²": "square", "|·|": "absolute value"}

ROW = 165  # scene px from the chain up to the parameters and down to the inputs
RADIUS = 27  # operation circles
LEAF_W, LEAF_H = 104, 50
LABEL_GAP = 7  # between an edge's line and its label
MAX_SCALE = 1.3


def edge_name(symbol: str) -> str:
    """The short name of an edge's quantity: ``"ŷ = k·x + b"`` → ``"ŷ"``."""
    return symbol.split(" = ")[0]


def grad_name(symbol: str) -> str:
    name = edge_name(symbol)
    return f"∂loss/∂({name})" if any(op in name for op in "·+−") else f"∂loss/∂{name}"


class _Node:
    """The items of one node: its shape, its name, a caption, and (parameters) the badge of the update."""

    def __init__(self, scene: QGraphicsScene, node, pos: QPointF) -> None:
        self.id, self.kind, self.pos = node.id, node.kind, pos
        fill, border = FILLS[node.kind]
        pen = QPen(QColor(border), 2)
        if node.kind == "op":
            self.half = QPointF(RADIUS, RADIUS)
            shape = QGraphicsEllipseItem(-RADIUS, -RADIUS, 2 * RADIUS, 2 * RADIUS)
            shape.setToolTip(OP_TIPS.get(node.label, node.label))
        else:
            self.half = QPointF(LEAF_W / 2, LEAF_H / 2)
            path = QPainterPath()
            path.addRoundedRect(QRectF(-LEAF_W / 2, -LEAF_H / 2, LEAF_W, LEAF_H), 12, 12)
            shape = QGraphicsPathItem(path)
        shape.setPen(pen)
        shape.setBrush(QBrush(QColor(fill)))
        shape.setPos(pos)
        shape.setZValue(2)
        scene.addItem(shape)
        self.shape = shape

        font = QFont()
        label = OP_SHOWN.get(node.label, node.label) if node.kind == "op" else node.label
        font.setPointSizeF(14 if node.kind != "op" else 17 if len(label) == 1 else 12)
        font.setBold(True)
        name = QGraphicsSimpleTextItem(label)
        name.setFont(font)
        name.setBrush(QColor("#263238"))
        name.setZValue(3)
        scene.addItem(name)
        r = name.boundingRect()
        dy = -r.height() / 2 if node.kind == "op" else -r.height() / 2 - 7
        name.setPos(pos + QPointF(-r.width() / 2, dy))
        self.name = name

        self.caption = None
        if node.kind != "op":
            small = QFont()
            small.setPointSizeF(8)
            caption = QGraphicsSimpleTextItem(CAPTIONS.get(node.kind, ""))
            if node.id == "y":
                caption.setText("target")
            caption.setFont(small)
            caption.setBrush(QColor("#607d8b"))
            caption.setZValue(3)
            scene.addItem(caption)
            r = caption.boundingRect()
            caption.setPos(pos + QPointF(-r.width() / 2, LEAF_H / 2 - r.height() - 4))
            self.caption = caption

        self.badge = None
        if node.kind == "param":
            badge_font = QFont()
            badge_font.setPointSizeF(10.5)
            badge_font.setBold(True)
            badge = QGraphicsSimpleTextItem("")
            badge.setFont(badge_font)
            badge.setBrush(QColor("#2e7d32"))
            badge.setZValue(3)
            scene.addItem(badge)
            self.badge = badge

    def set_badge(self, text: str) -> None:
        if self.badge is None:
            return
        self.badge.setText(text)
        r = self.badge.boundingRect()
        self.badge.setPos(self.pos + QPointF(-r.width() / 2, -LEAF_H / 2 - r.height() - 6))

    def boundary(self, direction: QPointF) -> float:
        """Distance from the centre to the node's edge along the unit vector ``direction``."""
        if self.kind == "op":
            return RADIUS
        dx, dy = abs(direction.x()), abs(direction.y())
        return min(self.half.x() / dx if dx > 1e-9 else math.inf, self.half.y() / dy if dy > 1e-9 else math.inf)


def _fonts() -> tuple[QFont, QFont]:
    value, grad = QFont(), QFont()
    value.setPointSizeF(10.5)
    grad.setPointSizeF(10.5)
    grad.setBold(True)
    return value, grad


def label_width() -> float:
    """The widest line an edge label can have (numbers have at most 12 characters, e.g. ``−0.000123457``)."""
    value, grad = (QFontMetricsF(f) for f in _fonts())
    return max(value.horizontalAdvance("k·x = −0.000123457"), grad.horizontalAdvance("= −0.000123457"),
               grad.horizontalAdvance("∂loss/∂(k·x)"))


class _Edge:
    """The items of one edge: a line, an arrowhead, its label (value; gradient name; gradient), a highlight box.

    On a horizontal edge the value sits above the line and the gradient below; on a vertical one the three
    lines stand to the left of it, right-aligned.
    """

    def __init__(self, scene: QGraphicsScene, index: int, edge, source: _Node, target: _Node) -> None:
        self.index, self.source, self.target = index, source.id, target.id
        a, b = source.pos, target.pos
        d = b - a
        length = math.hypot(d.x(), d.y())
        u = QPointF(d.x() / length, d.y() / length)
        self.start = a + u * (source.boundary(u) + 2)
        self.end = b - u * (target.boundary(u) + 3)
        self.vertical = abs(u.x()) < 0.5
        self.line = QGraphicsLineItem(self.start.x(), self.start.y(), self.end.x(), self.end.y())
        self.line.setZValue(1)
        scene.addItem(self.line)
        head = QPolygonF([QPointF(0, 0), QPointF(-13, -6), QPointF(-13, 6)])
        self.head = QGraphicsPolygonItem(head)
        self.head.setPos(self.end)
        self.head.setRotation(math.degrees(math.atan2(u.y(), u.x())))
        self.head.setZValue(1)
        scene.addItem(self.head)

        self.box = QGraphicsPathItem()
        self.box.setZValue(4)
        self.box.setPen(QPen(QColor(ACCENT), 2))
        self.box.setBrush(QBrush(QColor(255, 248, 225, 235)))
        scene.addItem(self.box)
        value_font, grad_font = _fonts()
        self.value = QGraphicsSimpleTextItem()
        self.value.setFont(value_font)
        self.grad_name = QGraphicsSimpleTextItem()
        self.grad_name.setFont(grad_font)
        self.grad = QGraphicsSimpleTextItem()
        self.grad.setFont(grad_font)
        for item in self.texts:
            item.setZValue(5)
            scene.addItem(item)
        self.update(edge, known=True, reached=False, current=False)

    @property
    def texts(self) -> tuple[QGraphicsSimpleTextItem, ...]:
        return self.value, self.grad_name, self.grad

    def gradient_text(self) -> str:
        """The gradient as the label says it, on one line: ``"∂loss/∂v = −20"``."""
        return f"{self.grad_name.text()} {self.grad.text()}"

    def update(self, edge, known: bool, reached: bool, current: bool) -> None:
        name = edge_name(edge.symbol)
        self.value.setText(f"{name} = {number(edge.value) if known else '?'}")
        self.value.setBrush(QColor(FORWARD if known else PENDING))
        self.grad_name.setText(grad_name(edge.symbol))
        self.grad.setText(f"= {number(edge.grad) if reached else '?'}")
        for item in (self.grad_name, self.grad):
            item.setBrush(QColor(GRADIENT if reached else PENDING))
        tip = f"{edge.symbol}\nvalue: {edge.value!r}"
        if reached:
            tip += f"\n{grad_name(edge.symbol)}: {edge.grad!r}"
        for item in (*self.texts, self.line):
            item.setToolTip(tip)
        colour = ACCENT if current else REACHED if reached else EDGE
        width = 4.5 if current else 2.2 if reached else 1.8
        self.line.setPen(QPen(QColor(colour), width, Qt.PenStyle.SolidLine, Qt.PenCapStyle.RoundCap))
        self.head.setPen(QPen(Qt.PenStyle.NoPen))
        self.head.setBrush(QBrush(QColor(colour)))
        self.head.setScale(1.25 if current else 1.0)
        self._place()
        self.box.setVisible(current)
        if current:
            path = QPainterPath()
            if self.vertical:
                rect = QRectF()
                for item in self.texts:
                    rect = rect.united(item.sceneBoundingRect())
                path.addRoundedRect(rect.adjusted(-7, -4, 7, 4), 6, 6)
            else:  # the texts sit on either side of the line: box each side apart from it
                below = self.grad_name.sceneBoundingRect().united(self.grad.sceneBoundingRect())
                for rect in (self.value.sceneBoundingRect(), below):
                    path.addRoundedRect(rect.adjusted(-7, -3, 7, 3), 6, 6)
            self.box.setPath(path)

    def _place(self) -> None:
        mid = (self.start + self.end) / 2
        rv, rn, rg = (item.boundingRect() for item in self.texts)
        if self.vertical:  # right-aligned, to the left of the line, centred on its middle
            x = mid.x() - LABEL_GAP - 6
            top = mid.y() - (rv.height() + rn.height() + rg.height()) / 2
            self.value.setPos(x - rv.width(), top)
            self.grad_name.setPos(x - rn.width(), top + rv.height())
            self.grad.setPos(x - rg.width(), top + rv.height() + rn.height())
        else:  # the value above the line, the gradient below
            self.value.setPos(mid.x() - rv.width() / 2, mid.y() - LABEL_GAP - rv.height())
            self.grad_name.setPos(mid.x() - rn.width() / 2, mid.y() + LABEL_GAP)
            self.grad.setPos(mid.x() - rg.width() / 2, mid.y() + LABEL_GAP + rn.height())


class GraphPanel(QGraphicsView):
    """The graph of one :class:`~engine.backprop.Trace`, at one moment of its forward and backward pass."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("backpropGraph")
        self.setAccessibleName("Computational graph")
        self.setScene(QGraphicsScene(self))
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setBackgroundBrush(QBrush(QColor("#ffffff")))
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setMinimumSize(420, 300)
        self._key: tuple | None = None
        self.nodes: dict[str, _Node] = {}
        self.edges: list[_Edge] = []
        self._frame = QRectF()
        self.trace: Trace | None = None
        self._label_width = label_width()

    # --- drawing ---
    def show_trace(self, trace: Trace, forward: bool, revealed: int, update: bool) -> None:
        """Draw ``trace``: forward values if ``forward`` (else only the inputs' and parameters'), the gradients
        of its first ``revealed`` backward steps (the last one highlighted), and, if ``update``, the new value
        of each parameter above it."""
        key = tuple((n.id, n.label, n.kind) for n in trace.nodes)
        if key != self._key:
            self._build(trace)
            self._key = key
        self.trace = trace
        reached = {trace.steps[i].edge for i in range(revealed)}
        current = trace.steps[revealed - 1].edge if revealed else None
        kinds = {n.id: n.kind for n in trace.nodes}
        for item, edge in zip(self.edges, trace.edges, strict=True):
            known = forward or kinds[edge.source] in ("param", "input")
            item.update(edge, known, item.index in reached, item.index == current)
        params = [n for n in trace.nodes if n.kind == "param"]
        new = {params[0].id: trace.new_k}
        if len(params) > 1:
            new[params[1].id] = trace.new_b
        for node_id, value in new.items():
            self.nodes[node_id].set_badge(f"new {node_id} = {number(value)}" if update else "")

    def edge_texts(self) -> dict[tuple[str, str], tuple[str, str]]:
        """What each edge's label says, ``{(source, target): (value text, gradient text)}``."""
        return {(e.source, e.target): (e.value.text(), e.gradient_text()) for e in self.edges}

    def highlighted(self) -> tuple[str, str] | None:
        """The edge drawn as the one being explained, or None."""
        for e in self.edges:
            if e.box.isVisible():
                return e.source, e.target
        return None

    def badge_texts(self) -> dict[str, str]:
        return {k: n.badge.text() for k, n in self.nodes.items() if n.badge is not None}

    def _layout(self, trace: Trace) -> dict[str, QPointF]:
        ids = [n.id for n in trace.nodes]
        chain = [i for i in ("mul", "add", "sub", "loss_op", "loss") if i in ids]
        col = self._label_width + 2 * RADIUS + 28  # the widest label fits between two circles
        pos = {node_id: QPointF(c * col, 0) for c, node_id in enumerate(chain)}
        k_name = trace.nodes[0].id
        pos[k_name] = QPointF(pos["mul"].x(), -ROW)
        pos["x"] = QPointF(pos["mul"].x(), ROW)
        if "add" in pos:
            pos["b"] = QPointF(pos["add"].x(), -ROW)
        pos["y"] = QPointF(pos["sub"].x(), ROW)
        return pos

    def _build(self, trace: Trace) -> None:
        scene = self.scene()
        scene.clear()
        pos = self._layout(trace)
        self.nodes = {n.id: _Node(scene, n, pos[n.id]) for n in trace.nodes}
        self.edges = [
            _Edge(scene, i, e, self.nodes[e.source], self.nodes[e.target]) for i, e in enumerate(trace.edges)
        ]
        xs = [p.x() for p in pos.values()]
        # A fixed frame (room for the widest labels), so that the scale does not jump as the numbers change.
        left = min(xs) - LABEL_GAP - 6 - self._label_width - 8
        right = max(xs) + LEAF_W / 2 + 24
        top = -ROW - LEAF_H / 2 - 40
        bottom = ROW + LEAF_H / 2 + 18
        self._frame = QRectF(left, top, right - left, bottom - top)
        scene.setSceneRect(self._frame)
        self._fit()

    def _fit(self) -> None:
        if self._frame.isEmpty():
            return
        view = self.viewport().rect()
        scale = min(view.width() / self._frame.width(), view.height() / self._frame.height(), MAX_SCALE)
        self.setTransform(QTransform.fromScale(scale, scale))
        self.centerOn(self._frame.center())

    def resizeEvent(self, event) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._fit()

    def items_overlap(self) -> list[tuple[str, str]]:
        """Pairs of texts whose boxes overlap (for tests: labels must stay readable)."""
        texts: list[tuple[str, QRectF]] = []
        for e in self.edges:
            texts += [(item.text(), item.sceneBoundingRect()) for item in e.texts]
        for n in self.nodes.values():
            texts.append((f"node {n.id}", n.shape.sceneBoundingRect()))
            if n.badge is not None and n.badge.text():
                texts.append((n.badge.text(), n.badge.sceneBoundingRect()))
        out = []
        for i, (a, ra) in enumerate(texts):
            for b, rb in texts[i + 1 :]:
                if ra.intersects(rb):
                    out.append((a, b))
        return out

