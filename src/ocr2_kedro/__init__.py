"""ocr2_kedro."""
