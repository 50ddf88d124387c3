"""Veritas vision service: OCR text blocks with boxes and confidences."""
