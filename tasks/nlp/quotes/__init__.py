"""Who said what: the quote rules, one concern a module."""
