"""Natural-language rules over an article's text and entities: quotes, people, places."""
