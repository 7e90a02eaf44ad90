"""The stages of depeche: fetch, clean, annotate, validate, and their registry."""
