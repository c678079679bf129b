"""Generate small Japanese PDFs that look like the Living and Working Guidebook.

reportlab's built-in CID fonts (HeiseiKakuGo-W5 / HeiseiMin-W3) need no font files and pypdf
decodes them through their UniJIS-UCS2-H CMap, so the text round-trips exactly. Printed page
numbers, a running header, /PageLabels and an image-only page mimic the real guidebook.
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

from pypdf import PdfReader, PdfWriter
from reportlab.lib.pagesizes import A4
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen import canvas

GOTHIC = "HeiseiKakuGo-W5"
MINCHO = "HeiseiMin-W3"
BODY_SIZE = 10.5
CHARS_PER_LINE = 38
RUNNING_HEADER = "生活・就労ガイドブック　第8版"
LEFT = 72.0

# Sentences the tests look for whole (each is wrapped over two or more printed lines).
LOSS_SENTENCE = ("在留カードを紛失した場合は、その事実を知った日から14日以内に、住居地を管轄する"
                 "地方出入国在留管理官署で再交付の申請をしなければなりません。")
CARD_SENTENCE = ("在留カードは、中長期在留者に対し、上陸許可や在留資格の変更許可、在留期間の更新"
                 "許可などの在留に係る許可に伴って交付されるものです。")
RENEW_SENTENCE = ("在留期間の更新を希望する場合は、在留期間が満了する日の3か月前から満了する日まで"
                  "に、住居地を管轄する地方出入国在留管理官署に申請してください。")
WORK_SENTENCE = ("日本で働くためには、就労が認められる在留資格が必要です。資格外活動の許可を受けて"
                 "いる場合は、週28時間以内でアルバイトをすることができます。")
PREFACE_SENTENCE = ("このガイドブックは、日本で生活し、働く外国人の皆さんが必要な情報を得られるよう"
                    "に、関係省庁の情報をまとめたものです。")


@dataclass(frozen=True)
class GuidebookSpec:
    """What a generated guidebook contains, for the tests to compare against."""

    path: Path
    labels: tuple[str, ...]          # expected printed label of each page
    image_pages: tuple[int, ...]     # pages with no text worth indexing (scan, opener)
    header: str = RUNNING_HEADER


def _register_fonts() -> None:
    for name in (GOTHIC, MINCHO):
        if name not in pdfmetrics.getRegisteredFontNames():
            pdfmetrics.registerFont(UnicodeCIDFont(name))


def _wrap(text: str, width: int = CHARS_PER_LINE) -> list[str]:
    return [text[i:i + width] for i in range(0, len(text), width)]


class _Page:
    """Writes lines top-down on one canvas page."""

    def __init__(self, c: canvas.Canvas) -> None:
        self.c = c
        self.y = A4[1] - 90

    def heading(self, text: str, size: float) -> None:
        self.y -= size * 0.8
        self.c.setFont(GOTHIC, size)
        self.c.drawString(LEFT, self.y, text)
        self.y -= size * 1.2

    def paragraph(self, text: str) -> None:
        """A body paragraph: first line indented one em, wrapped at a fixed width."""
        self.c.setFont(MINCHO, BODY_SIZE)
        first = True
        for line in _wrap(text):
            x = LEFT + (BODY_SIZE if first else 0.0)
            self.c.drawString(x, self.y, line)
            self.y -= BODY_SIZE * 1.7
            first = False
        self.y -= BODY_SIZE * 0.6

    def running_header(self) -> None:
        self.c.setFont(GOTHIC, 8)
        self.c.drawString(LEFT, A4[1] - 40, RUNNING_HEADER)

    def page_number(self, label: str) -> None:
        self.c.setFont(MINCHO, 9)
        self.c.drawCentredString(A4[0] / 2, 40, f"- {label} -")


def _noise_image(width: int = 200, height: int = 120) -> ImageReader:
    from PIL import Image

    img = Image.new("RGB", (width, height))
    img.putdata([((x * 7) % 256, (y * 5) % 256, ((x + y) * 3) % 256)
                 for y in range(height) for x in range(width)])
    return ImageReader(img)


def _draw_guidebook(out: io.BytesIO) -> None:
    _register_fonts()
    c = canvas.Canvas(out, pagesize=A4)
    c.setTitle("生活・就労ガイドブック")

    # index 0: front matter, printed "i"
    p = _Page(c)
    p.heading("はじめに", 16)
    p.paragraph(PREFACE_SENTENCE + "内容は作成時点のものです。")
    p.page_number("i")
    c.showPage()

    # index 1: printed "1"
    p = _Page(c)
    p.running_header()
    p.heading("第1章 入国・在留手続", 18)
    p.heading("1 在留カード", 14)
    p.paragraph(CARD_SENTENCE + "常に携帯してください。")
    p.heading("(3) 紛失", 12)
    p.paragraph(LOSS_SENTENCE)
    p.paragraph("申請の際は、警察で発行された遺失届出証明書などの書類を持参してください。"
                "再交付には手数料はかかりません。")
    p.page_number("1")
    c.showPage()

    # index 2: printed "2" — text continues under (3), then a new section
    p = _Page(c)
    p.running_header()
    p.paragraph("盗難や災害で在留カードを失った場合も、同じ手続で再交付を受けることができます。")
    p.heading("2 在留期間の更新", 14)
    p.paragraph(RENEW_SENTENCE)
    p.page_number("2")
    c.showPage()

    # index 3: a scanned page — an image and no text layer at all
    c.drawImage(_noise_image(), 72, 300, width=450, height=270)
    c.showPage()

    # index 4: an illustrated chapter opener, no printed number
    p = _Page(c)
    p.heading("第2章 仕事", 18)
    c.drawImage(_noise_image(), 72, 200, width=450, height=400)
    c.showPage()

    # index 5: printed "5"
    p = _Page(c)
    p.running_header()
    p.heading("1 働くための在留資格", 14)
    p.paragraph(WORK_SENTENCE)
    p.page_number("5")
    c.showPage()
    c.save()


GUIDEBOOK_LABELS = ("i", "1", "2", "3", "4", "5")

EN_LOSS_SENTENCE = ("If you lose your residence card, you must apply for a new card at the "
                    "Regional Immigration Services Bureau within 14 days of learning of the loss.")


def make_english_guidebook(path: Path) -> Path:
    """One page of the English edition in a base-14 font (Latin lines wrap at words)."""
    c = canvas.Canvas(str(path), pagesize=A4)
    c.setFont("Helvetica-Bold", 18)
    c.drawString(LEFT, 760, "Chapter 1 Entry and Residence Procedures")
    c.setFont("Helvetica-Bold", 14)
    c.drawString(LEFT, 725, "1 Residence Card")
    c.setFont("Helvetica-Bold", 12)
    c.drawString(LEFT, 695, "(3) Loss")
    c.setFont("Helvetica", BODY_SIZE)
    y = 670.0
    for line in ("If you lose your residence card, you must apply for a new card at the",
                 "Regional Immigration Services Bureau within 14 days of learning of the",
                 "loss."):
        c.drawString(LEFT, y, line)
        y -= BODY_SIZE * 1.5
    c.setFont("Helvetica", 9)
    c.drawCentredString(A4[0] / 2, 40, "12")
    c.showPage()
    c.save()
    return path


def make_guidebook(path: Path, *, page_labels: bool = True,
                   user_password: str | None = None) -> GuidebookSpec:
    """Write the sample guidebook to ``path``.

    ``page_labels`` adds /PageLabels (roman front matter, then 1, 2, ...); without them the
    loader must read the printed numbers. ``user_password`` encrypts with AES-128 ("" opens
    without a password, like many government PDFs that only restrict printing/copying).
    """
    raw = io.BytesIO()
    _draw_guidebook(raw)
    raw.seek(0)
    writer = PdfWriter(clone_from=PdfReader(raw))
    if page_labels:
        writer.set_page_label(0, 0, style="/r")
        writer.set_page_label(1, len(writer.pages) - 1, style="/D", start=1)
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="owner-secret",
                       algorithm="AES-128")
    with path.open("wb") as fh:
        writer.write(fh)
    return GuidebookSpec(path=path, labels=GUIDEBOOK_LABELS, image_pages=(3, 4))


def make_corrupt(path: Path, source: Path, keep: float = 0.4) -> Path:
    """A truncated copy of ``source`` (a download cut off part-way)."""
    data = source.read_bytes()
    path.write_bytes(data[: int(len(data) * keep)])
    return path


def make_image_only(path: Path, pages: int = 2) -> Path:
    """A scan: every page is one image, no text layer."""
    c = canvas.Canvas(str(path), pagesize=A4)
    for _ in range(pages):
        c.drawImage(_noise_image(), 50, 50, width=495, height=740)
        c.showPage()
    c.save()
    return path
