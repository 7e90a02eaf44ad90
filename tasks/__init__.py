"""depeche stages (fetch, clean, annotate, validate), the gate and the lake."""
