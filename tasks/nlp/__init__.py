"""The NLP of annotate: the model, a Doc's rows, quotes, people, genders and places."""
