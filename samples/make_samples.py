"""Writes the generated sample documents: a lab-report image (for OCR) and a PDF excerpt.

Run from the repository root: `.venv/bin/python samples/make_samples.py`. The outputs are
committed, so this only needs to run when the content changes.
"""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import LETTER
from reportlab.pdfgen import canvas

HERE = Path(__file__).parent

LAB_LINES = [
    ("Northfield Clinical Laboratory", 34),
    ("Patient: Jane Sample    ID: 000123    Collected: 2024-09-14", 24),
    ("Comprehensive Metabolic Panel", 28),
    ("Glucose 98 mg/dL (reference 70-99)", 26),
    ("Creatinine 0.9 mg/dL (reference 0.6-1.1)", 26),
    ("Alanine aminotransferase 52 U/L (reference 7-35) HIGH", 26),
    ("Potassium 4.2 mmol/L (reference 3.5-5.1)", 26),
    ("Comment: fictional report for the Veritas project.", 22),
]

PDF_PAGES = [
    [
        "Northwind Freight Corp. Quarterly Report Q3 2024",
        "Northwind Freight Corp. is a fictional logistics company; all figures are invented.",
        "",
        "Highlights",
        "Quarterly revenue was $88.4 million, up 6.1% from the third quarter of 2023.",
        "Operating margin was 9.7%. The fleet grew to 1,240 trucks.",
    ],
    [
        "Outlook",
        "Management expects full-year 2024 revenue between $340 million and $350 million.",
        "Fuel costs remain the largest risk to the operating margin.",
    ],
]


def make_lab_report(path: Path) -> None:
    image = Image.new("RGB", (1100, 520), "white")
    draw = ImageDraw.Draw(image)
    y = 30
    for text, size in LAB_LINES:
        draw.text((40, y), text, fill="black", font=ImageFont.load_default(size=size))
        y += size + 30
    image.save(path)


def make_pdf(path: Path) -> None:
    pdf = canvas.Canvas(str(path), pagesize=LETTER, invariant=1)
    pdf.setTitle("Northwind Freight Corp. Quarterly Report Q3 2024")
    for lines in PDF_PAGES:
        y = 720
        for line in lines:
            pdf.setFont("Helvetica-Bold" if y == 720 else "Helvetica", 12)
            pdf.drawString(72, y, line)
            y -= 22
        pdf.showPage()
    pdf.save()


if __name__ == "__main__":
    make_lab_report(HERE / "lab-report-2024-09-14.png")
    make_pdf(HERE / "northwind-q3-2024.pdf")
    print("wrote", HERE / "lab-report-2024-09-14.png", HERE / "northwind-q3-2024.pdf")
