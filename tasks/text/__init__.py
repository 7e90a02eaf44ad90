"""Clean's text rules: charsets, dates, what a page states, stories."""
